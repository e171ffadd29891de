// Trailing spaces are invisible in ghost text but would be inserted on accept.

import type { PostprocessFilter } from './types';

export const trimTrailingWhitespace: PostprocessFilter = (completion, context) => {
  const withinLines = completion.replace(/[ \t]+(?=\r?\n)/g, '');
  // A space before text that follows the cursor may be the only thing separating two words.
  const endTouchesText = context.lineSuffix !== '' && !/^\s/.test(context.lineSuffix);
  return endTouchesText ? withinLines : withinLines.trimEnd();
};
