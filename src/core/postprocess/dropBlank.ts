// Nothing to show: an empty or whitespace-only suggestion would only flicker.

import type { PostprocessFilter } from './types';

export const dropBlank: PostprocessFilter = (completion) => (completion.trim() === '' ? undefined : completion);
