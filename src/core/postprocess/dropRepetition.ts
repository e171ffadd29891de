// Sampled GPT-2 falls into loops: the same line again and again, or a phrase repeated until the
// token limit ("the the the the"). The loop is cut after its first copy; what came before stays.

import type { PostprocessFilter } from './types';

/** A line (or block of lines) counts as a loop once it appears this many times in a row. */
const MIN_LINE_COPIES = 3;
const MAX_BLOCK_LINES = 4;
/** A phrase inside a line counts as a loop with this many copies running to the very end. */
const MIN_PHRASE_COPIES = 4;
const MAX_PHRASE_CHARS = 32;

export const dropRepetition: PostprocessFilter = (completion) => {
  const lines = cutRepeatedLines(completion.split('\n'));
  const last = lines.length - 1;
  lines[last] = cutPhraseLoopAtEnd(lines[last]!);
  return lines.join('\n');
};

function cutRepeatedLines(lines: string[]): string[] {
  const keys = lines.map((line) => line.trimEnd());
  for (let start = 0; start < lines.length; start++) {
    for (let size = 1; size <= MAX_BLOCK_LINES; size++) {
      if (blockRepeats(keys, start, size)) return lines.slice(0, start + size);
    }
  }
  return lines;
}

function blockRepeats(keys: string[], start: number, size: number): boolean {
  if (start + size * MIN_LINE_COPIES > keys.length) return false;
  for (let copy = 1; copy < MIN_LINE_COPIES; copy++) {
    for (let line = 0; line < size; line++) {
      if (keys[start + line] !== keys[start + copy * size + line]) return false;
    }
  }
  return true;
}

/**
 * Only loops that run to the end of the completion are cut: a loop the model broke out of by
 * itself (`[0, 0, 0, 0]`) is real code, one that hit the token limit is not. Runs of one
 * character are left alone too: that is what separators and literals look like (`=====`, `0xFFFF`).
 */
function cutPhraseLoopAtEnd(untrimmed: string): string {
  const line = untrimmed.trimEnd(); // a loop cut off mid-way often ends in a stray space
  let cutAt = untrimmed.length;
  for (let period = 2; period <= MAX_PHRASE_CHARS; period++) {
    const start = periodicTailStart(line, period);
    const phrase = line.slice(start, start + period);
    const isLoop = line.length - start >= period * MIN_PHRASE_COPIES && !/^(.)\1*$/s.test(phrase);
    if (isLoop) cutAt = Math.min(cutAt, start + period);
  }
  return untrimmed.slice(0, cutAt);
}

/** The smallest index from which `line` repeats itself every `period` characters up to its end. */
function periodicTailStart(line: string, period: number): number {
  let start = line.length - period;
  while (start > 0 && line[start - 1] === line[start - 1 + period]) start--;
  return Math.max(0, start);
}
