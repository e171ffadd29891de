// Post-processing filters, one describe per filter. A case is the document line with `║` at the
// cursor, the raw model output, and what should be shown (undefined = dropped).

import assert from 'node:assert/strict';
import { dropBlank } from '../../src/core/postprocess/dropBlank';
import { dropRepetition } from '../../src/core/postprocess/dropRepetition';
import { FILTERS, postprocess, postprocessAll, type PostprocessContext, type PostprocessFilter } from '../../src/core/postprocess/index';
import { isSingleLine, singleLine } from '../../src/core/postprocess/singleLine';
import { trimLeadingSpaceAfterSpace } from '../../src/core/postprocess/trimLeadingSpaceAfterSpace';
import { trimSuffixOverlap } from '../../src/core/postprocess/trimSuffixOverlap';
import { trimTrailingWhitespace } from '../../src/core/postprocess/trimTrailingWhitespace';

const CURSOR = '║';

/** Splits a cursor-marked document into the context the filters see. */
function atCursor(marked: string, multiline = false): PostprocessContext {
  const parts = marked.split(CURSOR);
  assert.equal(parts.length, 2, `exactly one ${CURSOR} expected in ${JSON.stringify(marked)}`);
  const [before, after] = parts as [string, string];
  return {
    linePrefix: before.slice(before.lastIndexOf('\n') + 1),
    lineSuffix: after.split(/\r?\n/, 1)[0]!,
    multiline,
  };
}

interface Case {
  doc: string;
  raw: string;
  want: string | undefined;
  multiline?: boolean;
}

function check(filter: PostprocessFilter, cases: Case[]): void {
  for (const { doc, raw, want, multiline } of cases) {
    it(`${JSON.stringify(doc)} + ${JSON.stringify(raw)} -> ${JSON.stringify(want)}`, () => {
      assert.equal(filter(raw, atCursor(doc, multiline)), want);
    });
  }
}

describe('core/postprocess', () => {
  describe('atCursor helper', () => {
    it('splits the line around the cursor', () => {
      assert.deepEqual(atCursor('a\nfunction foo(║) {\nb'), { linePrefix: 'function foo(', lineSuffix: ') {', multiline: false });
    });
    it('refuses cases without exactly one cursor', () => {
      assert.throws(() => atCursor('no cursor'));
      assert.throws(() => atCursor('║two║'));
    });
  });

  describe('singleLine', () => {
    check(singleLine, [
      { doc: 'const x = ║', raw: '1;\nconst y = 2;', want: '1;' },
      { doc: 'const x = ║', raw: '1;\r\nconst y = 2;', want: '1;' },
      { doc: 'const x = ║', raw: '1;\nconst y = 2;', want: '1;\nconst y = 2;', multiline: true },
      { doc: 'foo(║)', raw: 'a)\nbar()', want: 'a)', multiline: true },
      { doc: 'const x = ║   ', raw: '1;\n2;', want: '1;\n2;', multiline: true },
      { doc: 'def f():║', raw: '\n    return 1', want: '' },
    ]);
    it('says when completions must stay on one line', () => {
      assert.equal(isSingleLine({ lineSuffix: '', multiline: true }), false);
      assert.equal(isSingleLine({ lineSuffix: ' \t', multiline: true }), false);
      assert.equal(isSingleLine({ lineSuffix: ')', multiline: true }), true);
      assert.equal(isSingleLine({ lineSuffix: '', multiline: false }), true);
    });
  });

  describe('trimSuffixOverlap', () => {
    check(trimSuffixOverlap, [
      { doc: 'function foo(║) {', raw: 'a, b) {', want: 'a, b' },
      { doc: 'function foo(║) {', raw: 'a, b) { return a; }', want: 'a, b' },
      { doc: 'function foo(║) {', raw: 'a, b)', want: 'a, b' },
      { doc: 'foo(║)', raw: 'x)', want: 'x' },
      { doc: 'foo(║)', raw: ')', want: '' },
      { doc: 'foo(║)', raw: 'bar()', want: 'bar()' },
      { doc: 'foo(║)', raw: 'bar())', want: 'bar()' },
      { doc: 'foo(║)', raw: 'bar(baz)) + 1', want: 'bar(baz)' },
      { doc: 'print("║")', raw: 'hello")', want: 'hello' },
      { doc: 'x = [║]', raw: '1, [2, 3]]', want: '1, [2, 3]' },
      { doc: 'let total = ║ + tax;', raw: 'price + tax;', want: 'price ' },
      // A short overlap that is a word start is probably new text, not a repeat.
      { doc: 'say("║world")', raw: 'hello w', want: 'hello w' },
      { doc: 'say("║world")', raw: 'hello wor', want: 'hello ' },
      { doc: 'foo(║)', raw: 'a, b', want: 'a, b' },
      { doc: 'foo(║', raw: 'a)', want: 'a)' },
      // The `)` closes a bracket from before the cursor; the repeat starts after it.
      { doc: 'f(g(║, y)', raw: 'x), y)', want: 'x)' },
      { doc: 'foo(║)   ', raw: 'a)   ', want: 'a' },
    ]);
  });

  describe('trimTrailingWhitespace', () => {
    check(trimTrailingWhitespace, [
      { doc: 'const x = ║', raw: '1;   ', want: '1;' },
      { doc: 'const x = ║', raw: 'a;  \n  b;\t\n', want: 'a;\n  b;', multiline: true },
      { doc: 'const x = ║', raw: 'a;  \r\nb;', want: 'a;\r\nb;', multiline: true },
      // The space is what keeps `y` and `= 1` apart.
      { doc: 'let x║= 1', raw: 'y ', want: 'y ' },
      { doc: 'let x║ = 1', raw: 'y ', want: 'y' },
      { doc: 'hello ║', raw: '  world', want: '  world' },
    ]);
  });

  describe('trimLeadingSpaceAfterSpace', () => {
    check(trimLeadingSpaceAfterSpace, [
      { doc: 'Hello ║', raw: ' world', want: 'world' },
      { doc: 'x =\t║', raw: '\t 1', want: '1' },
      { doc: 'Hello║', raw: ' world', want: ' world' },
      // Indentation, not a gap between words.
      { doc: '    ║', raw: '  return 1', want: '  return 1' },
      { doc: '║', raw: ' x', want: ' x' },
    ]);
  });

  describe('dropBlank', () => {
    check(dropBlank, [
      { doc: 'a ║', raw: '', want: undefined },
      { doc: 'a ║', raw: ' \n\t ', want: undefined },
      { doc: 'a ║', raw: ' b', want: ' b' },
    ]);
  });

  describe('dropRepetition', () => {
    check(dropRepetition, [
      { doc: '║', raw: 'x = 1\nfoo();\nfoo();\nfoo();\nfoo();', want: 'x = 1\nfoo();', multiline: true },
      { doc: '║', raw: 'foo();\nfoo();\nfoo();', want: 'foo();', multiline: true },
      { doc: '║', raw: 'a\nb\na\nb\na\nb\na', want: 'a\nb', multiline: true },
      { doc: '║', raw: 'if (x) {\n  y();\n}\nz\nz  \nz\t\nz', want: 'if (x) {\n  y();\n}\nz', multiline: true },
      // Twice is still normal code.
      { doc: '║', raw: 'foo();\nfoo();\nbar();', want: 'foo();\nfoo();\nbar();', multiline: true },
      // Cut after the first copy; trimTrailingWhitespace removes the space that is left.
      { doc: 'It was ║', raw: 'the the the the the the the', want: 'the ' },
      { doc: 'It was ║', raw: 'the the the the the the  ', want: 'the ' },
      { doc: 'x = ║', raw: 'foo(bar, bar, bar, bar, bar, ba', want: 'foo(bar, ' },
      { doc: '║', raw: 'ok\nla la la la la la', want: 'ok\nla ', multiline: true },
      { doc: 'x = ║', raw: 'go go go', want: 'go go go' },
      // A loop the model left by itself, or one repeated character, is real text.
      { doc: 'x = ║', raw: '[0, 0, 0, 0, 0, 0];', want: '[0, 0, 0, 0, 0, 0];' },
      { doc: '// ║', raw: '==============================', want: '==============================' },
      { doc: 'x = ║', raw: '0xFFFFFFFFFFFFFFFF', want: '0xFFFFFFFFFFFFFFFF' },
      { doc: '║', raw: 'a, b, c', want: 'a, b, c' },
    ]);
  });

  describe('the whole chain', () => {
    it('runs every filter, in an order that cuts first and tidies after', () => {
      assert.deepEqual(FILTERS, [singleLine, trimSuffixOverlap, dropRepetition, trimLeadingSpaceAfterSpace, trimTrailingWhitespace, dropBlank]);
    });

    const cases: Case[] = [
      { doc: 'function foo(║) {', raw: 'a, b) {\n  return a + b;\n}', want: 'a, b' },
      { doc: 'The weather is ║', raw: ' sunny and warm.  \nTomorrow', want: 'sunny and warm.' },
      { doc: 'x = ║', raw: '\nnext line', want: undefined },
      { doc: 'def f():\n    ║', raw: 'return 1\n    \n\n', want: 'return 1', multiline: true },
      { doc: 'foo(║)', raw: ')', want: undefined },
      { doc: 'It was ║', raw: 'the the the the the the   ', want: 'the' },
    ];
    for (const { doc, raw, want, multiline } of cases) {
      it(`${JSON.stringify(doc)} + ${JSON.stringify(raw)} -> ${JSON.stringify(want)}`, () => {
        assert.equal(postprocess(raw, atCursor(doc, multiline)), want);
      });
    }

    it('drops empty and duplicate samples but keeps their order', () => {
      const context = atCursor('foo(║)');
      assert.deepEqual(postprocessAll(['a)', ')', 'b', 'a', '  '], context), ['a', 'b']);
    });
  });
});
