// Token healing. A prompt that ends inside a word ("useful beca") ends in a tokenization GPT-2 almost never
// saw in training (" bec" + "a", where the word itself is " because"), so it continues badly. The prompt is
// backed up to the start of that word and the first generated tokens are constrained to spell it again:
// the model gets to choose the word's tokens itself, and only what comes after the cursor is shown.

/** Enough to cover a partly typed word; more would throw away context for nothing. */
export const MAX_HEALED_TOKENS = 3;

export interface HealedPrompt {
  ids: number[];
  /** The text of the tokens backed up over, which the first generated tokens must spell again. */
  removed: string;
}

/** GPT-2's pre-tokenizer keeps one leading space with a run of letters or of digits: a word's tokens look like this. */
const WORD_PIECE = /^ ?(\p{L}+|\p{N}+)$/u;

/**
 * Backs `ids` up over the last tokens that lie inside the word the prompt ends in (at most MAX_HEALED_TOKENS).
 * `vocabulary[id]` is the token's text. A token that is part of a multi-byte character is never backed up over:
 * its text alone is not a prefix the constraint could match.
 */
export function healPrompt(ids: readonly number[], vocabulary: readonly string[]): HealedPrompt {
  let removed = '';
  let keep = ids.length;
  while (keep > 0 && ids.length - keep < MAX_HEALED_TOKENS) {
    const candidate = (vocabulary[ids[keep - 1]] ?? '') + removed;
    if (!WORD_PIECE.test(candidate)) break;
    removed = candidate;
    keep--;
    if (removed.startsWith(' ')) break; // the word's first token: a boundary lies before it
  }
  return { ids: ids.slice(0, keep), removed };
}

/** Masks the vocabulary, step by step, to tokens that spell the removed text again. */
export class HealingConstraint {
  constructor(
    private remaining: string,
    private readonly vocabulary: readonly string[],
  ) {}

  /** The text the next tokens must still spell. */
  get pending(): string {
    return this.remaining;
  }

  get active(): boolean {
    return this.pending.length > 0;
  }

  /**
   * A copy of `logits` where every token inconsistent with the text still to spell is -Infinity: a token
   * must start with it, or be a prefix of it (the next token then continues the rest).
   */
  mask(logits: Float32Array): Float32Array {
    const masked = new Float32Array(logits.length).fill(-Infinity);
    for (let id = 0; id < logits.length; id++) if (this.fits(this.vocabulary[id])) masked[id] = logits[id];
    return masked;
  }

  /** Records the chosen token; true when it lies entirely within the removed text (nothing after the cursor yet). */
  advance(token: number): boolean {
    const text = this.vocabulary[token] ?? '';
    const within = text.length <= this.remaining.length;
    this.remaining = within ? this.remaining.slice(text.length) : '';
    return within;
  }

  private fits(text: string | undefined): boolean {
    if (!text || text.includes('\uFFFD')) return false;
    return text.startsWith(this.remaining) || this.remaining.startsWith(text);
  }
}
