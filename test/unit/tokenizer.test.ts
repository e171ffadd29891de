// The generated tokenizer.json, run by transformers.js, against OpenAI's BPE as implemented by gpt-3-encoder.
import * as assert from 'node:assert/strict';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { decode as refDecode, encode as refEncode } from 'gpt-3-encoder';
import { END_OF_TEXT } from '../../src/protocol';
import { mulberry32 } from '../../src/worker/rng';
import { buildGpt2TokenizerFiles, END_OF_TEXT_TOKEN } from '../../scripts/model/tokenizerFiles';
import { tinyModelDir } from '../support/tinyModel';


/**
 * gpt-3-encoder knows no special tokens: it spells "<|endoftext|>" as ordinary BPE pieces, while the HF
 * tokenizer (like tiktoken with allowed_special) maps the literal string to the single id 50256.
 * The expected ids are therefore: encode each piece between the literals, joined by 50256.
 */
function expectedIds(s: string): number[] {
  return s.split(END_OF_TEXT_TOKEN).flatMap((piece, i) => (i === 0 ? [] : [END_OF_TEXT]).concat(piece ? refEncode(piece) : []));
}

const HANDWRITTEN: string[] = [
  '',
  ' ',
  'Hello world',
  ' Hello world',
  'Hello  world  ',
  "It's, we're, they've, I'm, you'll, he'd, don't.",
  "IT'S LOUD'S",
  '   leading spaces and trailing   ',
  'tabs\tand\t\tmore\ttabs',
  'line\nbreaks\n\nand\r\nCRLF\r\n',
  '\n\n\n',
  ' \n \n\t \u00a0nbsp',
  'def main():\n    print("hello")\n    return 0\n',
  'function add(a, b) {\n\treturn a + b; // sum\n}\n',
  'fn main() -> Result<(), Box<dyn Error>> {\n    let x: Vec<u8> = vec![1, 2, 3];\n    Ok(())\n}',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
  'SELECT id, name FROM users WHERE age >= 18 ORDER BY name;',
  '<div class="a">&nbsp;&amp;</div>',
  'x = [i**2 for i in range(10) if i % 2 == 0]',
  '$ npm run make-model -- --preset tiny && echo "ok" || exit 1',
  '    if (x) {\n        y++;\n    }',
  '1234567890 3.14159 -2.5e-10 0xDEADBEEF 1,000,000',
  'naïve café résumé Ærøskøbing Straße',
  'e\u0301 combining acute, a\u0308 umlaut, \u0915\u093f hindi',
  '日本語のテキストです。中文文本。한국어 텍스트.',
  'Привет, мир! Γειά σου Κόσμε! שלום עולם مرحبا بالعالم',
  '😀 emoji 👍🏽 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 ❤️',
  '∑_{i=1}^{n} x_i ≤ ∞ → ∀ε>0 ∃δ',
  '“smart quotes” ‘single’ — em dash – en dash … ellipsis',
  '\u200b zero width \u200d joiner \ufeff bom',
  END_OF_TEXT_TOKEN,
  `first document${END_OF_TEXT_TOKEN}second document`,
  `${END_OF_TEXT_TOKEN}${END_OF_TEXT_TOKEN} double`,
  ` spaced ${END_OF_TEXT_TOKEN} around `,
  '<|endoftext| not quite <|endof text|>',
  '!!!???...,,,;;;:::',
  '    ',
  'a\u3000b ideographic space',
  'AbCdEfG camelCase snake_case kebab-case SCREAMING_CASE',
  "'s's's 's 's",
];

const FRAGMENTS: string[] = [
  ...HANDWRITTEN.filter((s) => s !== ''),
  ' the', 'The', ' and', '\t', '  ', '\n', '\r\n', '   \n', '’', "'", '"', '(', ')', '{', '}', ';', '=>', '::', '->',
  '🙂', '𝔘𝔫𝔦', '字', 'ﬁ', 'ß', '\u0301', '123', ' 45', '.', 'http://example.com/a?b=c&d=e#f', ' über', 'ça',
];

/** Seeded concatenations of fragments: whitespace runs, scripts and punctuation colliding in every order. */
function generated(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rand() * 6);
    let s = '';
    for (let i = 0; i < n; i++) s += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
    return s;
  });
}

const CASES = [...HANDWRITTEN, ...generated(300, 42)];

describe('GPT-2 tokenizer files', function () {
  let tok: PreTrainedTokenizer;

  before(async function () {
    env.allowRemoteModels = false;
    tok = await AutoTokenizer.from_pretrained(await tinyModelDir(), { local_files_only: true });
  });

  it(`encodes ${CASES.length} varied strings exactly like gpt-3-encoder`, function () {
    const failures: string[] = [];
    for (const s of CASES) {
      const got = tok.encode(s);
      const want = expectedIds(s);
      if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${JSON.stringify(s)}: got [${got}], want [${want}]`);
    }
    assert.deepEqual(failures, []);
  });

  it('decode(encode(s)) == s, special token included', function () {
    for (const s of CASES) {
      if (s === '') continue; // transformers.js refuses to decode [] (encode('') == [] is checked above)
      const text = tok.decode(tok.encode(s), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      assert.equal(text, s);
    }
  });

  it('decodes with the folder defaults without cleaning up spaces', function () {
    const s = 'Hello , world . isn \'t it ?';
    assert.equal(tok.decode(tok.encode(s)), s);
    assert.equal(refDecode(tok.encode(s)), s);
  });

  it('rejects a malformed vocab.bpe and an encoder without <|endoftext|>', function () {
    assert.throws(() => buildGpt2TokenizerFiles({ [END_OF_TEXT_TOKEN]: 0 }, '#version: 0.2\na b c\n'), /malformed merge line "a b c"/);
    assert.throws(() => buildGpt2TokenizerFiles({ a: 0 }, '#version: 0.2\n'), /no <\|endoftext\|> token/);
  });
});
