// The latency budget (localGpt2.latencyBudgetMs): a ghost-text generation that streams its text, so that when the budget
// is spent the editor can show what is ready while the same generation goes on in the background.
//
// A LiveGeneration is one such request to the model. It outlives the editor request that started it: a later request
// whose prompt is this one's plus text the generation has already streamed (the user typed or accepted part of the
// ghost text) waits on it instead of asking the model again. The pipeline cancels it when a request comes that it does
// not serve, when the cache is cleared, or LIVE_GRACE_MS after the request waiting on it was cancelled and none other
// took it over.
import { AbortError } from './abortable';
import { trimLeadingSpaceAfterSpace } from './postprocess/trimLeadingSpaceAfterSpace';
import type { PostprocessContext } from './postprocess/types';

// A word goes on while the next token may add letters, digits, marks or `_` to it. Han and kana characters are words
// by themselves (those scripts write no spaces), so they never wait.
const UNFINISHED_WORD = /(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}])[\p{L}\p{M}\p{N}_])+$/u;

/**
 * The part of a text still being generated that can be shown as it is: up to the last word boundary, since the next
 * token may continue the last word ("the" -> "theory"), and never ending in a partial character (a U+FFFD that stands
 * for the first bytes of a UTF-8 sequence, or the first half of a surrogate pair).
 */
export function readyText(streamed: string): string {
  const whole = streamed.replace(/\uFFFD+$/, '').replace(/[\uD800-\uDBFF]$/, '');
  return whole.replace(UNFINISHED_WORD, '');
}

export type LiveOutcome = { kind: 'done'; completions: string[] } | { kind: 'cancelled' } | { kind: 'failed'; error: unknown };

export class LiveGeneration {
  /** Text streamed so far, as it would start in the editor (a leading space after a space dropped, like postprocess does). */
  private raw = '';
  private budgetSpentValue = false;
  private outcomeValue?: LiveOutcome;
  private readonly waiters = new Set<() => void>();
  private readonly request = new AbortController();
  private readonly timers = new AbortController();
  /** The request now waiting on this generation; when it is cancelled, a successor has LIVE_GRACE_MS to take over. */
  owner?: AbortSignal;

  constructor(
    /** The cache key the generation was asked for: later keys that extend it may be served by it. */
    readonly key: string,
    private readonly context: PostprocessContext,
  ) {}

  /** The signal of the model request: aborted when this generation is cancelled. */
  get signal(): AbortSignal {
    return this.request.signal;
  }

  /** For the timers that belong to this generation (its budget, the grace period): aborted when it ends, however. */
  get timerSignal(): AbortSignal {
    return this.timers.signal;
  }

  get text(): string {
    return trimLeadingSpaceAfterSpace(this.raw, this.context) ?? '';
  }

  get budgetSpent(): boolean {
    return this.budgetSpentValue;
  }

  get outcome(): LiveOutcome | undefined {
    return this.outcomeValue;
  }

  /** Text the user typed after this generation's prompt that it has already produced, or undefined when it does not serve `key`. */
  typedFor(key: string): string | undefined {
    if (this.outcomeValue || !key.startsWith(this.key)) return undefined;
    const typed = key.slice(this.key.length);
    return this.text.startsWith(typed) ? typed : undefined;
  }

  append(text: string): void {
    if (this.outcomeValue) return;
    this.raw += text;
    this.notify();
  }

  spendBudget(): void {
    this.budgetSpentValue = true;
    this.notify();
  }

  finish(outcome: LiveOutcome): void {
    if (this.outcomeValue) return;
    this.outcomeValue = outcome;
    if (outcome.kind === 'cancelled') this.request.abort(); // the worker stops between two decode steps
    this.timers.abort();
    this.notify();
  }

  cancel(): void {
    this.finish({ kind: 'cancelled' });
  }

  /** Resolves at the next piece of text, the budget's end or the outcome; rejects with an AbortError when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new AbortError());
      const onAbort = () => {
        this.waiters.delete(wake);
        reject(new AbortError());
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notify(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }
}
