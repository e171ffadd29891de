// GPT-2's tokens carry their leading space (" world"), so after "Hello " the model often
// continues with " world" and the accepted text would read "Hello  world".

import type { PostprocessFilter } from './types';

export const trimLeadingSpaceAfterSpace: PostprocessFilter = (completion, context) => {
  const { linePrefix } = context;
  // Only between words: at the start of a line the spaces are indentation and must stay.
  const afterWordSpace = /[ \t]$/.test(linePrefix) && linePrefix.trim() !== '';
  return afterWordSpace ? completion.replace(/^[ \t]+/, '') : completion;
};
