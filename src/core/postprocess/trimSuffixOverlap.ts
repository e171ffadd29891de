// GPT-2 only sees the text before the cursor, so when the line goes on after the cursor it
// happily writes that part again: `foo(║)` + `a, b)` would give `foo(a, b))`. This cuts the
// suggestion where it starts repeating the text after the cursor.

import type { PostprocessFilter } from './types';

/** Short partial overlaps only count when they are closing punctuation, not the start of a word. */
const CLOSING_PUNCTUATION = /^[)\]}>"'`;,.:]+$/;
const MIN_WORD_OVERLAP = 3;

export const trimSuffixOverlap: PostprocessFilter = (completion, context) => {
  const suffix = context.lineSuffix.trim();
  if (suffix === '') return completion;
  const body = completion.trimEnd();
  const unclosed = unclosedBracketsBefore(body);
  for (let i = 0; i < body.length; i++) {
    // A closer that matches an opener inside the completion belongs to it: `bar()` in `foo(║)` stays whole.
    if (unclosed[i] === 0 && repeatsSuffixFrom(body, i, suffix)) return completion.slice(0, i);
  }
  return completion;
};

function repeatsSuffixFrom(body: string, index: number, suffix: string): boolean {
  if (body.startsWith(suffix, index)) return true;
  if (body.length - index >= suffix.length) return false; // too long to be a partial repeat; saves a slice
  const tail = body.slice(index);
  if (!suffix.startsWith(tail)) return false;
  return tail.length >= MIN_WORD_OVERLAP || CLOSING_PUNCTUATION.test(tail);
}

const OPENERS = '([{';
const CLOSERS = ')]}';

/** unclosed[i] = brackets opened in text[0..i) and not yet closed there. */
function unclosedBracketsBefore(text: string): number[] {
  const unclosed = new Array<number>(text.length + 1);
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    unclosed[i] = depth;
    if (OPENERS.includes(text[i]!)) depth++;
    else if (CLOSERS.includes(text[i]!) && depth > 0) depth--;
  }
  unclosed[text.length] = depth;
  return unclosed;
}
