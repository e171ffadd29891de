// Ghost text with a line break in the middle of a line would push the rest of the line down,
// so multi-line completions are only kept at the end of a line, and only when asked for.

import type { PostprocessContext, PostprocessFilter } from './types';

export function isSingleLine(context: Pick<PostprocessContext, 'lineSuffix' | 'multiline'>): boolean {
  return !context.multiline || context.lineSuffix.trim() !== '';
}

export const singleLine: PostprocessFilter = (completion, context) => {
  if (!isSingleLine(context)) return completion;
  const lineBreak = completion.search(/[\r\n]/);
  return lineBreak === -1 ? completion : completion.slice(0, lineBreak);
};
