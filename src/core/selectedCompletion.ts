// Ghost text while the suggest widget is open. VS Code shows an inline completion then only when it extends
// the selected item (its text starts with the item's, over the item's range), as Copilot's does. So the model
// reads the document as if the item were already accepted, and its continuation is offered after the item.

export interface SelectedItem {
  /** How many characters before the cursor the item replaces (the part of the word already typed). */
  replacedBefore: number;
  text: string;
}

export interface TextBeforeCursor {
  prefix: string;
  cursorOffset: number | undefined;
}

/** The text before the cursor as it would read with the item accepted; the cursor moves to the item's end. */
export function promptWithSelectedItem(before: TextBeforeCursor, item: SelectedItem): TextBeforeCursor {
  const replaced = Math.min(Math.max(0, item.replacedBefore), before.prefix.length);
  const cursor = before.cursorOffset ?? before.prefix.length;
  return {
    prefix: before.prefix.slice(0, before.prefix.length - replaced) + item.text,
    cursorOffset: cursor - replaced + item.text.length,
  };
}

/** Each completion as the text that replaces the item's range; without a continuation there is nothing to add. */
export function continueSelectedItem(completions: readonly string[], itemText: string): string[] {
  return completions.filter((c) => c.length > 0).map((c) => itemText + c);
}
