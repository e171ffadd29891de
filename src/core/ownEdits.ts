// Generate continuation stops at the first edit it did not make, so it must recognise its own inserts among the
// document's change events. It expects each insert before sending it; a change that matches no expectation is foreign.

export interface TextChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

export class OwnEdits {
  private readonly expected: { offset: number; text: string }[] = [];

  expect(offset: number, text: string): void {
    this.expected.push({ offset, text });
  }

  /** An insert the editor refused never shows up as a change: it must not excuse a later foreign one. */
  forget(offset: number, text: string): void {
    const i = this.expected.findIndex((e) => e.offset === offset && e.text === text);
    if (i >= 0) this.expected.splice(i, 1);
  }

  /** True (and the expectation used up) when `change` is one of our inserts; `eol` is the document's line break,
   *  which the editor substitutes for the line breaks in inserted text. */
  claim(change: TextChange, eol: string): boolean {
    if (change.rangeLength !== 0) return false;
    const i = this.expected.findIndex((e) => e.offset === change.rangeOffset && e.text.replace(/\r?\n/g, eol) === change.text);
    if (i < 0) return false;
    this.expected.splice(i, 1);
    return true;
  }
}
