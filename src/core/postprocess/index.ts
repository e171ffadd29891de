// Runs the filters in order on each sample. Order matters: cut to what can be shown first
// (one line, no repeat of the text after the cursor, no loop), then tidy spaces, and only then
// decide whether anything is left.

import { dropBlank } from './dropBlank';
import { dropRepetition } from './dropRepetition';
import { singleLine } from './singleLine';
import { trimLeadingSpaceAfterSpace } from './trimLeadingSpaceAfterSpace';
import { trimSuffixOverlap } from './trimSuffixOverlap';
import { trimTrailingWhitespace } from './trimTrailingWhitespace';
import type { PostprocessContext, PostprocessFilter } from './types';

export type { PostprocessContext, PostprocessFilter } from './types';
export { isSingleLine } from './singleLine';

export const FILTERS: readonly PostprocessFilter[] = [
  singleLine,
  trimSuffixOverlap,
  dropRepetition,
  trimLeadingSpaceAfterSpace,
  trimTrailingWhitespace,
  dropBlank,
];

export function postprocess(completion: string, context: PostprocessContext): string | undefined {
  let current: string | undefined = completion;
  for (const filter of FILTERS) {
    current = filter(current, context);
    if (current === undefined) return undefined;
  }
  return current;
}

/** Cleans every sample and drops the ones that end up empty or equal to an earlier one. */
export function postprocessAll(completions: readonly string[], context: PostprocessContext): string[] {
  const kept = new Set<string>();
  for (const completion of completions) {
    const cleaned = postprocess(completion, context);
    if (cleaned !== undefined) kept.add(cleaned);
  }
  return [...kept];
}
