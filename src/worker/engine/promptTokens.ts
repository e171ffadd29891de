// Fitting the prompt into the model window. When it is too long, tokens are dropped from the front in
// chunks of a quarter window, so that the kept start stays the same while the user types on and the KV
// cache of the prompt prefix stays reusable (dropping one token per keystroke would invalidate it all).

export function cropTokens(ids: number[], window: number): number[] {
  if (window <= 0) return [];
  return ids.length <= window ? ids : ids.slice(chunkAlignedDrop(ids.length, window));
}

/** A byte-level BPE token is at least one character, and rarely more than this many. */
const MAX_CHARS_PER_TOKEN = 16;

/**
 * Cuts a huge prompt (a 1 MB paste) to the characters that can matter before tokenizing it, at a
 * chunk-aligned start for the same reason as above.
 */
export function cropCharacters(text: string, windowTokens: number): string {
  const limit = windowTokens * MAX_CHARS_PER_TOKEN;
  return text.length <= limit ? text : text.slice(chunkAlignedDrop(text.length, limit));
}

/** How much to drop from the front of `length` items to fit `limit`: a whole number of quarter-limit chunks. */
function chunkAlignedDrop(length: number, limit: number): number {
  const chunk = Math.max(1, Math.floor(limit / 4));
  return Math.ceil((length - limit) / chunk) * chunk;
}
