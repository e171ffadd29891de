import assert from 'node:assert/strict';
import { buildPromptWindow, DEFAULT_PROMPT_MAX_CHARS, lineSuffixOf } from '../../src/core/promptWindow';

const MAX = 1000;
const CHUNK = MAX / 4;

/** What the host does: read at most MAX characters before the cursor and pass the cursor offset. */
function windowAt(doc: string, cursor: number, maxChars = MAX) {
  const from = Math.max(0, cursor - maxChars);
  return buildPromptWindow({ textBeforeCursor: doc.slice(from, cursor), cursorOffset: cursor, maxChars });
}

/** Types `typed` one character at a time at the end of `doc` and records the window start after each. */
function startsWhileTyping(doc: string, typed: string): number[] {
  const starts: number[] = [];
  for (let i = 1; i <= typed.length; i++) {
    const text = doc + typed.slice(0, i);
    starts.push(windowAt(text, text.length).startOffset);
  }
  return starts;
}

function distinct(values: number[]): number[] {
  return [...new Set(values)];
}

function bestOfFive(run: () => void): number {
  run(); // warm-up: compiles the code and flattens the string once, as VS Code's getText already has
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

describe('core/promptWindow', () => {
  it('uses everything before the cursor when it fits', () => {
    const window = buildPromptWindow({ textBeforeCursor: 'hello world', maxChars: MAX });
    assert.deepEqual(window, { prompt: 'hello world', startOffset: 0, lineSuffix: '' });
  });

  it('never exceeds the bound and never drops more than a chunk and a half beyond it', () => {
    const doc = 'abcdefghij'.repeat(500);
    for (let cursor = 0; cursor <= doc.length; cursor += 37) {
      const { prompt, startOffset } = windowAt(doc, cursor);
      assert.ok(prompt.length <= MAX, `cursor ${cursor}: ${prompt.length}`);
      assert.ok(prompt.length >= Math.min(cursor, MAX - CHUNK), `cursor ${cursor}: ${prompt.length}`);
      assert.equal(prompt, doc.slice(startOffset, cursor));
    }
  });

  it('keeps the same start while typing, and moves it by one chunk when the bound is crossed', () => {
    // The cursor goes from 3001 to 4000: the earliest start that fits goes from 2001 to 3000.
    const starts = startsWhileTyping('x'.repeat(3 * MAX), 'y'.repeat(MAX));
    assert.deepEqual(distinct(starts), [2250, 2500, 2750, 3000]);
    // Every full run of one start is a chunk long: one prompt-cache miss per CHUNK keystrokes.
    const runs = distinct(starts).map((start) => starts.filter((s) => s === start).length);
    assert.deepEqual(runs, [CHUNK, CHUNK, CHUNK, CHUNK]);
  });

  it('anchors the window to the document, not to how much text the host read', () => {
    const doc = 'lorem ipsum dolor sit amet '.repeat(300);
    for (const cursor of [1500, 4321, doc.length]) {
      const whole = buildPromptWindow({ textBeforeCursor: doc.slice(0, cursor), maxChars: MAX });
      assert.deepEqual(windowAt(doc, cursor), whole);
      const more = buildPromptWindow({ textBeforeCursor: doc.slice(Math.max(0, cursor - 1800), cursor), cursorOffset: cursor, maxChars: MAX });
      assert.deepEqual(more, whole);
    }
  });

  it('starts at a line start when one is near the chunk boundary, and keeps it while typing', () => {
    const doc = Array.from({ length: 200 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'-'.repeat(30)}`).join('\n');
    const starts = startsWhileTyping(doc, ' more text typed at the end'.repeat(4));
    for (const start of distinct(starts)) assert.equal(doc[start - 1], '\n', `start ${start} is not a line start`);
    assert.ok(distinct(starts).length <= 2);
  });

  it('keeps a chunk boundary that already is a line start', () => {
    const doc = `${'x'.repeat(49)}\n`.repeat(60);
    assert.equal(buildPromptWindow({ textBeforeCursor: doc, maxChars: MAX }).startOffset, 2000);
  });

  it('keeps the chunk boundary when no line start is near', () => {
    const doc = `${'a'.repeat(1500)}\n${'b'.repeat(3000)}`;
    assert.equal(windowAt(doc, doc.length).startOffset, 3750);
  });

  it('does not open the prompt with half of a surrogate pair', () => {
    // Cursor 2250: the chunk boundary at 1250 falls between the two halves of 💥.
    const doc = `${'a'.repeat(1249)}💥${'b'.repeat(999)}`;
    const { prompt, startOffset } = windowAt(doc, doc.length);
    assert.equal(startOffset, 1251);
    const first = prompt.charCodeAt(0);
    assert.ok(first < 0xdc00 || first > 0xdfff, 'prompt starts with a lone low surrogate');
  });

  it('survives bad bounds and offsets', () => {
    assert.equal(buildPromptWindow({ textBeforeCursor: 'abc', maxChars: 0 }).prompt, 'abc');
    assert.equal(buildPromptWindow({ textBeforeCursor: 'abc', maxChars: Number.NaN }).prompt, 'abc');
    assert.equal(buildPromptWindow({ textBeforeCursor: 'abc', cursorOffset: -5 }).prompt, 'abc');
    assert.equal(buildPromptWindow({ textBeforeCursor: 'abc', cursorOffset: Number.NaN }).startOffset, 0);
    assert.equal(buildPromptWindow({ textBeforeCursor: 'abcdef', maxChars: 1 }).prompt.length, 1);
    const { length } = buildPromptWindow({ textBeforeCursor: 'x'.repeat(10_000) }).prompt;
    assert.ok(length <= DEFAULT_PROMPT_MAX_CHARS && length >= DEFAULT_PROMPT_MAX_CHARS * 0.75, String(length));
  });

  describe('lineSuffix', () => {
    it('is the rest of the cursor line', () => {
      assert.equal(buildPromptWindow({ textBeforeCursor: 'foo(', textAfterCursor: ') {\n  body\n}' }).lineSuffix, ') {');
      assert.equal(lineSuffixOf(') {\r\nnext'), ') {');
      assert.equal(lineSuffixOf('\nnext'), '');
      assert.equal(lineSuffixOf('no newline'), 'no newline');
      assert.equal(lineSuffixOf(''), '');
    });

    it('only looks at the first maxScan characters', () => {
      assert.equal(lineSuffixOf('x'.repeat(10_000), 100), 'x'.repeat(100));
    });
  });

  describe('speed', () => {
    it('handles a 100,000-character line in well under 5 ms', () => {
      const line = 'const x = 1; '.repeat(8000).slice(0, 100_000);
      const ms = bestOfFive(() => {
        const cursor = 60_000;
        buildPromptWindow({
          textBeforeCursor: line.slice(cursor - DEFAULT_PROMPT_MAX_CHARS, cursor),
          cursorOffset: cursor,
          textAfterCursor: line.slice(cursor),
        });
      });
      assert.ok(ms < 1, `${ms.toFixed(3)} ms`);
    });

    it('handles a 50 MB document passed whole in well under 5 ms', () => {
      const doc = `${'word '.repeat(5_000_000)}\n`.repeat(2); // 50,000,002 characters
      const cursor = 30_000_000;
      const before = doc.slice(0, cursor);
      const after = doc.slice(cursor);
      const ms = bestOfFive(() => buildPromptWindow({ textBeforeCursor: before, textAfterCursor: after }));
      assert.ok(ms < 1, `${ms.toFixed(3)} ms`);
      assert.equal(buildPromptWindow({ textBeforeCursor: before, textAfterCursor: after }).prompt.length <= DEFAULT_PROMPT_MAX_CHARS, true);
    });
  });
});
