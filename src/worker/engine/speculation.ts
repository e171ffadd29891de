// Prompt-lookup drafts for speculative decoding (generate.ts verifies them). Code and prose repeat themselves: the
// last few tokens fed have often been seen before in the prompt or the generated text, and what followed then is a
// free guess at what follows now. The guess costs no model; one pass over [token, ...draft] returns the logits after
// each, and the sampling loop keeps the drafted tokens only while they equal what it samples from those logits, so
// the output is plain decoding's. Drafts that keep failing switch the lookup off for the rest of the request.

export interface LookupSettings {
  /** Tokens drafted at most per pass: on a 124M q8 model on the CPU, 5 positions cost about what 1 does, 7 twice as much. */
  maxDraft: number;
  /** Drafts over which the acceptance is judged. */
  window: number;
  /** Off when fewer tokens than this per draft were accepted over the last `window` drafts. */
  minAcceptedPerDraft: number;
}

export const LOOKUP: LookupSettings = { maxDraft: 4, window: 4, minAcceptedPerDraft: 0.5 };

/** The longest suffix tried first: 3 tokens, then 2, then 1. */
const LONGEST_MATCH = 3;

/**
 * Up to `max` tokens that followed the latest earlier occurrence of the last 3 tokens of `context` (else of the
 * last 2, else the last 1), continued periodically where they reach the end; none when even the last token never
 * occurred before.
 */
export function lookupDraft(context: readonly number[], max: number): number[] {
  if (max <= 0) return [];
  const end = context.length;
  for (let n = Math.min(LONGEST_MATCH, end - 1); n >= 1; n--) {
    // candidates start at s < end - n (an earlier occurrence), latest first
    for (let s = end - n - 1; s >= 0; s--) {
      let i = 0;
      while (i < n && context[s + i] === context[end - n + i]) i++;
      if (i === n) return continuation(context, s + n, max);
    }
  }
  return [];
}

/**
 * Up to `max` tokens from `from` on. Where they run into the end of the context, the text has been repeating with
 * period end - from (a loop, or a line copied again), and the draft goes on repeating it: the tokens that followed
 * the earlier occurrence are followed by what followed them.
 */
function continuation(context: readonly number[], from: number, max: number): number[] {
  const draft: number[] = [];
  for (let j = from; draft.length < max; j++) draft.push(j < context.length ? context[j] : draft[j - context.length]);
  return draft;
}

/** One request's drafts: the tokens seen so far (prompt and fed), and how the drafts fared. */
export class PromptLookup {
  private readonly context: number[];
  private readonly recent: number[] = []; // accepted tokens of the last drafts
  private recentDrafted: number[] = [];
  drafts = 0;
  drafted = 0;
  accepted = 0;
  /** Why drafting stopped, once it has. */
  off?: string;
  /**
   * Tokens the next draft may have: 2 at first, twice as many after a draft kept whole (up to maxDraft), what was
   * kept (at least 1) after one refused. A refused token costs a position of the pass, and a draft that fails on
   * prose fails on its first token: short drafts there cost next to nothing, long ones where the text repeats pay.
   */
  private length: number;

  constructor(
    prompt: readonly number[],
    private readonly settings: LookupSettings = LOOKUP,
  ) {
    this.context = [...prompt];
    this.length = Math.min(2, settings.maxDraft);
  }

  /** `token` is about to be fed; returns the tokens drafted to follow it (at most `room`), possibly none. */
  draft(token: number, room: number): number[] {
    this.context.push(token);
    if (this.off) return [];
    return lookupDraft(this.context, Math.min(room, this.length));
  }

  /** A drafted token was kept: it was fed with the draft. */
  accept(token: number): void {
    this.context.push(token);
  }

  /** A verified draft: `accepted` of its `drafted` tokens were kept. */
  record(drafted: number, accepted: number): void {
    this.drafts++;
    this.drafted += drafted;
    this.accepted += accepted;
    const { window, minAcceptedPerDraft, maxDraft } = this.settings;
    this.length = accepted === drafted ? Math.min(maxDraft, 2 * this.length) : Math.max(1, accepted);
    this.recent.push(accepted);
    this.recentDrafted.push(drafted);
    if (this.recent.length > window) {
      this.recent.shift();
      this.recentDrafted.shift();
    }
    const kept = this.recent.reduce((a, b) => a + b, 0);
    if (this.recent.length === window && kept < minAcceptedPerDraft * window) {
      const tried = this.recentDrafted.reduce((a, b) => a + b, 0);
      this.off = `accepted ${kept} of ${tried} drafted tokens over the last ${window} drafts`;
    }
  }

  /** Stops drafting for the rest of the request. */
  stop(reason: string): void {
    this.off ??= reason;
  }
}
