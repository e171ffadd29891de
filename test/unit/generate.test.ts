// The sampling loop against a decoder with crafted logits: stop rules, EOS, length, cancellation, streaming.
import * as assert from 'node:assert/strict';
import { END_OF_TEXT, type GenerateOptions } from '../../src/protocol';
import type { TokenDecoder } from '../../src/worker/engine/decoder';
import { generate } from '../../src/worker/engine/generate';
import { loadTokenizer, type TextCodec } from '../../src/worker/engine/tokenizer';
import { tinyModelDir } from '../support/tinyModel';

const VOCAB = 50257;
const CHARS = 'abcdefghijklmnopqrstuvwxyz\n '; // token id i < CHARS.length decodes to CHARS[i]

const codec: TextCodec = {
  encode: (text) => [...text].map((c) => Math.max(0, CHARS.indexOf(c))),
  decode: (ids) => ids.map((id) => CHARS[id] ?? '?').join(''),
};

/** Greedily emits `script` (token ids), one per step; `forward` counts the steps. */
function scriptedDecoder(script: number[]): TokenDecoder & { steps: number } {
  let position = 0;
  let length = 0;
  const logitsFor = (i: number) => {
    const logits = new Float32Array(VOCAB);
    logits[script[Math.min(i, script.length - 1)]] = 10;
    return logits;
  };
  return {
    steps: 0,
    shape: { nLayer: 1, nHead: 1, headDim: 1, maxPositions: 1024, vocabSize: VOCAB },
    cache: {
      get length() {
        return length;
      },
      truncate(n: number) {
        length = Math.min(length, n);
        position = 0;
      },
    },
    async prefill(ids) {
      length = ids.length;
      position = 0;
      return { logits: logitsFor(0), reused: 0 };
    },
    async forward(ids) {
      this.steps++;
      length += ids.length;
      return logitsFor(++position);
    },
  };
}

/** The first token is `first` or <|endoftext|>, equally likely under top-k 2; every later one is <|endoftext|>. */
function eosOrDecoder(first: number): TokenDecoder {
  const decoder = scriptedDecoder([first, END_OF_TEXT]);
  const prefill = decoder.prefill.bind(decoder);
  decoder.prefill = async (p, c) => {
    const result = await prefill(p, c);
    result!.logits[END_OF_TEXT] = 10;
    return result;
  };
  return decoder;
}

const ids = (text: string) => [...text].map((c) => CHARS.indexOf(c));
const options = (over: Partial<GenerateOptions> = {}): GenerateOptions => ({
  prompt: 'abc',
  maxNewTokens: 20,
  sampling: { topK: 1, topP: 1, temperature: 1, seed: 1 },
  stop: { atNewline: false, strings: [] },
  stream: true,
  samples: 1,
  ...over,
});
const noHooks = { isCancelled: () => false, onText: () => undefined };

describe('generate (sampling loop)', () => {
  it('stops at <|endoftext|> without including it', async () => {
    const result = await generate(scriptedDecoder([...ids('hi'), END_OF_TEXT]), codec, options(), noHooks);
    assert.deepEqual(result.texts, ['hi']);
    assert.deepEqual(result.stopReasons, ['eos']);
    assert.equal(result.newTokens, 2);
  });

  it('stops at the length limit without running the model for a token it will not use', async () => {
    const decoder = scriptedDecoder(ids('abcdefgh'));
    const result = await generate(decoder, codec, options({ maxNewTokens: 5 }), noHooks);
    assert.deepEqual(result.texts, ['abcde']);
    assert.deepEqual(result.stopReasons, ['length']);
    assert.equal(decoder.steps, 4);
  });

  it('single-line stop cuts before the newline', async () => {
    const result = await generate(scriptedDecoder(ids('ab\ncd')), codec, options({ stop: { atNewline: true, strings: [] } }), noHooks);
    assert.deepEqual(result.texts, ['ab']);
    assert.deepEqual(result.stopReasons, ['stop']);
  });

  it('stop strings cut before the earliest match', async () => {
    const result = await generate(scriptedDecoder(ids('hello world')), codec, options({ stop: { atNewline: false, strings: ['wor', 'lo '] } }), noHooks);
    assert.deepEqual(result.texts, ['hel']);
  });

  it('streams exactly the final text, piece by piece', async () => {
    let streamed = '';
    const result = await generate(scriptedDecoder(ids('stream me\nnot this')), codec, options({ stop: { atNewline: true, strings: [] } }), {
      isCancelled: () => false,
      onText: (_sample, text) => (streamed += text),
    });
    assert.equal(streamed, 'stream me');
    assert.equal(result.texts[0], streamed);
  });

  it('a cancel is honoured before the next decode step', async () => {
    const decoder = scriptedDecoder(ids('abcdefghijklmnop'));
    let cancelled = false;
    const result = await generate(decoder, codec, options(), {
      isCancelled: () => cancelled,
      onText: () => (cancelled = true), // cancel as soon as the first token arrives
    });
    assert.deepEqual(result.stopReasons, ['cancelled']);
    assert.equal(result.texts[0], 'a');
    assert.equal(decoder.steps, 1);
  });

  it('several samples each restart from the prompt', async () => {
    const result = await generate(scriptedDecoder(ids('xyz')), codec, options({ samples: 3, maxNewTokens: 3 }), noHooks);
    assert.deepEqual(result.texts, ['xyz', 'xyz', 'xyz']);
    assert.equal(result.newTokens, 9);
  });

  it('<|endoftext|> as the first token gives that sample an empty text and keeps the other samples', async () => {
    // The real tokenizer, because it is the one that refuses to decode no tokens at all.
    const real = await loadTokenizer(await tinyModelDir());
    const hello = real.encode('hello');
    assert.equal(hello.length, 1);
    const sampling = { topK: 2, topP: 1, temperature: 1, seed: 7 };
    const result = await generate(eosOrDecoder(hello[0]), real, options({ samples: 8, sampling }), noHooks);
    assert.equal(result.texts.length, 8);
    assert.deepEqual(result.stopReasons, Array(8).fill('eos'));
    assert.ok(result.texts.includes(''), 'some sample drew <|endoftext|> first');
    assert.ok(result.texts.includes('hello'), 'some sample drew "hello" first');
    assert.deepEqual(new Set(result.texts), new Set(['', 'hello']));
    assert.equal(result.newTokens, result.texts.filter((t) => t === 'hello').length);
  });

  it('<|endoftext|> as the first token of a single sample completes with an empty text', async () => {
    const real = await loadTokenizer(await tinyModelDir());
    const streamed: string[] = [];
    const result = await generate(scriptedDecoder([END_OF_TEXT]), real, options(), { isCancelled: () => false, onText: (_s, t) => streamed.push(t) });
    assert.deepEqual(result.texts, ['']);
    assert.deepEqual(result.stopReasons, ['eos']);
    assert.equal(result.newTokens, 0);
    assert.deepEqual(streamed, []);
  });

  it('an empty prompt starts from <|endoftext|>, as GPT-2 samples unconditionally', async () => {
    let prefilled: readonly number[] = [];
    const decoder = scriptedDecoder(ids('ok'));
    const prefill = decoder.prefill.bind(decoder);
    decoder.prefill = (p, c) => ((prefilled = p), prefill(p, c));
    await generate(decoder, codec, options({ prompt: '', maxNewTokens: 2 }), noHooks);
    assert.deepEqual(prefilled, [END_OF_TEXT]);
  });
});

// ---- token healing and confidence gating (synthetic logits) ---------------------------------------------------------
// A word-level toy vocabulary on top of the single characters, encoded greedily longest-first.
const WORDS = [...CHARS, ' bec', 'ause', ' because', ' be', 'cause', ' beach'];
const wordCodec: TextCodec = {
  encode(text) {
    const out: number[] = [];
    for (let i = 0; i < text.length; ) {
      const best = WORDS.reduce((b, w, id) => (text.startsWith(w, i) && w.length > (WORDS[b]?.length ?? 0) ? id : b), -1);
      out.push(Math.max(0, best));
      i += Math.max(1, WORDS[best]?.length ?? 1);
    }
    return out;
  },
  decode: (ids) => ids.map((id) => WORDS[id] ?? '?').join(''),
  vocabulary: () => [...WORDS, ...Array(VOCAB - WORDS.length).fill('?')],
};
const word = (text: string) => WORDS.indexOf(text);

/** Logits from a function of the step (0 = after the prompt); records what was prefilled. */
function craftedDecoder(at: (step: number) => Float32Array): TokenDecoder & { prefilled: number[] } {
  const decoder = scriptedDecoder([0]);
  let step = 0;
  return Object.assign(decoder, {
    prefilled: [] as number[],
    async prefill(p: readonly number[]) {
      (decoder as unknown as { prefilled: number[] }).prefilled = [...p];
      step = 0;
      return { logits: at(0), reused: 0 };
    },
    async forward() {
      return at(++step);
    },
  });
}

/** Logits where `best` wins by far and `runnerUp` comes second; everything else is 0. */
function preferring(best: number, runnerUp?: number): Float32Array {
  const logits = new Float32Array(VOCAB);
  logits[best] = 20;
  if (runnerUp !== undefined) logits[runnerUp] = 10;
  return logits;
}

describe('generate: token healing', () => {
  it('backs up over the word being typed, rewrites it with a token that starts with it, and shows only what follows', async () => {
    // The model left alone would say "x"; only " because" is consistent with " beca".
    const decoder = craftedDecoder((step) => (step === 0 ? preferring(word('x'), word(' because')) : preferring(END_OF_TEXT)));
    let streamed = '';
    const result = await generate(decoder, wordCodec, options({ prompt: 'it is useful beca', heal: true }), {
      isCancelled: () => false,
      onText: (_s, t) => (streamed += t),
    });
    assert.deepEqual(decoder.prefilled, wordCodec.encode('it is useful'), 'the prompt backed up to the word boundary');
    assert.deepEqual(result.texts, ['use']);
    assert.equal(streamed, 'use', 'the healed part is not streamed');
  });

  it('a token that is a prefix of the removed text leaves the rest to the next one', async () => {
    const script = [word(' be'), word('cause'), word(' '), word('o'), END_OF_TEXT];
    const decoder = craftedDecoder((step) => preferring(script[step]));
    const result = await generate(decoder, wordCodec, options({ prompt: 'useful beca', heal: true }), noHooks);
    assert.deepEqual(result.texts, ['use o']);
  });

  it('healing tokens do not count against maxNewTokens', async () => {
    const script = [word(' be'), word('c'), word('a'), word('u'), word('s')];
    const decoder = craftedDecoder((step) => preferring(script[step]));
    const result = await generate(decoder, wordCodec, options({ prompt: 'useful beca', heal: true, maxNewTokens: 2 }), noHooks);
    assert.deepEqual(result.texts, ['us']);
  });

  it('changes nothing when the prompt ends at a word boundary', async () => {
    const run = async (heal: boolean) => {
      const decoder = craftedDecoder((step) => preferring([word('a'), word('b'), END_OF_TEXT][step]));
      const result = await generate(decoder, wordCodec, options({ prompt: 'useful ', heal }), noHooks);
      return { prefilled: decoder.prefilled, texts: result.texts };
    };
    assert.deepEqual(await run(true), await run(false));
  });
});

describe('generate: confidence-gated length', () => {
  /** `token` with probability p (at temperature 1), the rest spread over ten others, so greedy still picks `token`. */
  function split(token: number, p: number): Float32Array {
    const logits = new Float32Array(VOCAB).fill(-1e9);
    logits[token] = Math.log(p);
    for (let other = 1000; other < 1010; other++) logits[other] = Math.log((1 - p) / 10);
    return logits;
  }

  it('stops before the first token below the threshold and says where', async () => {
    const decoder = craftedDecoder((step) => split(word('abc'[step] ?? 'd'), [0.9, 0.6, 0.3][step] ?? 0.9));
    const result = await generate(decoder, wordCodec, options({ minTokenProbability: 0.5 }), noHooks);
    assert.deepEqual(result.texts, ['ab']);
    assert.deepEqual(result.stopReasons, ['low-confidence']);
    assert.equal(result.confidenceCuts?.length, 1);
    assert.equal(result.confidenceCuts![0].sample, 0);
    assert.equal(result.confidenceCuts![0].token, 2);
    assert.ok(Math.abs(result.confidenceCuts![0].probability - 0.3) < 1e-6, String(result.confidenceCuts![0].probability));
  });

  it('shows nothing when the first token is already below it', async () => {
    const decoder = craftedDecoder(() => split(word('a'), 0.2));
    let streamed = '';
    const result = await generate(decoder, wordCodec, options({ minTokenProbability: 0.5 }), { isCancelled: () => false, onText: (_s, t) => (streamed += t) });
    assert.deepEqual(result.texts, ['']);
    assert.equal(streamed, '');
    assert.equal(result.confidenceCuts![0].token, 0);
  });

  it('measures the probability after temperature, before top-k', async () => {
    // p = 0.6 at temperature 1 is 0.36 / (0.36 + 10 * 0.04^2) = 0.957 at temperature 0.5; top-k 1 would make it 1.
    const decoder = craftedDecoder(() => split(word('a'), 0.6));
    const result = await generate(decoder, wordCodec, options({ maxNewTokens: 1, minTokenProbability: 0.96, sampling: { topK: 1, topP: 1, temperature: 0.5, seed: 1 } }), noHooks);
    assert.deepEqual(result.stopReasons, ['low-confidence']);
    assert.ok(Math.abs(result.confidenceCuts![0].probability - 0.36 / 0.376) < 1e-6, String(result.confidenceCuts![0].probability));
  });

  it('0 turns it off', async () => {
    const flat = new Float32Array(VOCAB);
    flat[word('a')] = 1; // the best token, with a probability of 5e-5
    const decoder = craftedDecoder(() => flat);
    const result = await generate(decoder, wordCodec, options({ maxNewTokens: 3, minTokenProbability: 0 }), noHooks);
    assert.deepEqual(result.texts, ['aaa']);
    assert.equal(result.confidenceCuts, undefined);
  });
});
