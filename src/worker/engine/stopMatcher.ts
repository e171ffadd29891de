// Stop rules on the decoded text: end of line for single-line completions, and stop strings.
import type { StopRules } from '../../protocol';

export class StopMatcher {
  constructor(private readonly rules: StopRules) {}

  /** The text up to the earliest stop, and whether a stop was found. */
  check(text: string): { text: string; stopped: boolean } {
    let cut = -1;
    const consider = (index: number) => {
      if (index >= 0 && (cut < 0 || index < cut)) cut = index;
    };
    if (this.rules.atNewline) consider(text.search(/\r?\n/));
    for (const stop of this.rules.strings) if (stop) consider(text.indexOf(stop));
    return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
  }
}
