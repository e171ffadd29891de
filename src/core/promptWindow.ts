// Chooses the part of the document before the cursor that GPT-2 sees.
//
// The worker keeps the KV cache of the prompt it saw last and only runs the model over the new
// tokens when the next prompt starts with the old one. A window that kept exactly the last N
// characters would start one character later on every keystroke and throw that cache away each
// time. So the window start is anchored to document offsets and moves in whole chunks: typing at
// the end keeps the same start (and the same cached prefix) for a chunk's worth of characters.

/** About 700-1000 GPT-2 tokens of code or prose: leaves room for the completion in the 1024-token context. */
export const DEFAULT_PROMPT_MAX_CHARS = 2048;

/** The start moves by a quarter of the bound: rare enough to keep the cache, small enough to keep context. */
const CHUNK_FRACTION = 4;

export interface PromptWindowInput {
  /**
   * Text before the cursor. It may be cut at its front (the host should read at least
   * `maxChars` characters before the cursor), never at its end.
   */
  textBeforeCursor: string;
  /**
   * Document offset of the cursor. It anchors the window to the document rather than to how much
   * text the host happened to read. Defaults to `textBeforeCursor.length` (text starts at offset 0).
   */
  cursorOffset?: number;
  /** Text after the cursor; only its first line is used. */
  textAfterCursor?: string;
  maxChars?: number;
}

export interface PromptWindow {
  prompt: string;
  /** Document offset of the first prompt character. */
  startOffset: number;
  /** Text after the cursor on the cursor's line, without the line break. */
  lineSuffix: string;
}

export function buildPromptWindow(input: PromptWindowInput): PromptWindow {
  const text = input.textBeforeCursor;
  const maxChars = positiveIntegerOr(input.maxChars, DEFAULT_PROMPT_MAX_CHARS);
  const cursor = Math.max(text.length, finiteOr(input.cursorOffset, text.length));
  const textStart = cursor - text.length;
  const start = Math.max(textStart, windowStart(text, textStart, cursor, maxChars));
  return {
    prompt: text.slice(start - textStart),
    startOffset: start,
    lineSuffix: lineSuffixOf(input.textAfterCursor ?? '', maxChars),
  };
}

/**
 * The first line of `textAfterCursor`. Only the first `maxScan` characters are looked at, so a
 * huge single-line document costs no more than a short one.
 */
export function lineSuffixOf(textAfterCursor: string, maxScan = DEFAULT_PROMPT_MAX_CHARS): string {
  const head = textAfterCursor.length > maxScan ? textAfterCursor.slice(0, maxScan) : textAfterCursor;
  const lineBreak = head.search(/[\r\n]/);
  return lineBreak === -1 ? head : head.slice(0, lineBreak);
}

function windowStart(text: string, textStart: number, cursor: number, maxChars: number): number {
  if (cursor <= maxChars) return 0;
  const chunk = Math.max(1, Math.floor(maxChars / CHUNK_FRACTION));
  // The earliest start that fits, rounded up to a chunk multiple: constant while the cursor
  // moves within one chunk, and the window is never shorter than maxChars - chunk.
  const aligned = Math.ceil((cursor - maxChars) / chunk) * chunk;
  // The host read less than asked for: start where its text starts.
  const atLine = aligned <= textStart ? 0 : snapToLineStart(text, aligned - textStart, Math.floor(chunk / 2));
  return textStart + keepSurrogatePairs(text, atLine);
}

/**
 * Starts at the next line start when one is within `reach`, so the prompt does not open with a
 * half line. Only text well before the cursor is read, so typing never changes the answer.
 */
function snapToLineStart(text: string, index: number, reach: number): number {
  if (index > 0 && text[index - 1] === '\n') return index;
  const lineBreak = text.indexOf('\n', index);
  return lineBreak !== -1 && lineBreak + 1 - index <= reach ? lineBreak + 1 : index;
}

/** A prompt that opened with half of a surrogate pair would reach the tokenizer as U+FFFD. */
function keepSurrogatePairs(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index + 1 : index;
}

function finiteOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.floor(value) : fallback;
}

function positiveIntegerOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}
