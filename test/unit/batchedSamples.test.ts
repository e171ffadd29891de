// The alternatives of one request (samples > 1) decode as one batch: on the tiny model they must equal the
// samples decoded one after another, token for token (each sample has its own seeded RNG stream), with per-row
// stops; a decoder that cannot batch falls back to one sample after another, says why once, and fails nothing.
import * as assert from 'node:assert/strict';
import { END_OF_TEXT, type GenerateOptions, type GenerationResult } from '../../src/protocol';
import type { BatchDecoder, TokenDecoder } from '../../src/worker/engine/decoder';
import { generate } from '../../src/worker/engine/generate';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import type { TextCodec } from '../../src/worker/engine/tokenizer';
import { tinyModelDir } from '../support/tinyModel';

const PROMPT = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    if n < 2:\n        return n\n    return';

const options = (over: Partial<GenerateOptions> = {}): GenerateOptions => ({
  prompt: PROMPT,
  maxNewTokens: 32,
  sampling: { topK: 50, topP: 1, temperature: 1, seed: 42 },
  stop: { atNewline: false, strings: [] },
  stream: true,
  samples: 3,
  ...over,
});

/** The same decoder without its batch(): generate must decode the samples one after another. */
function sequentialOnly(decoder: TokenDecoder): TokenDecoder {
  return { shape: decoder.shape, cache: decoder.cache, prefill: decoder.prefill.bind(decoder), forward: decoder.forward.bind(decoder) };
}

interface Run {
  result: GenerationResult;
  streamed: string[];
  batchSteps: number;
  batchRows: number;
  singleSteps: number;
}

/** Runs generate, counting batched steps and single-row steps, and collecting what was streamed per sample. */
async function run(decoder: TokenDecoder, codec: TextCodec, opts: GenerateOptions, log?: (m: string) => void): Promise<Run> {
  const { spied, counts } = spy(decoder);
  counts.batchSteps = counts.batchRows = counts.singleSteps = 0;
  const streamed: string[] = Array(opts.samples).fill('');
  const result = await generate(spied, codec, opts, { isCancelled: () => false, onText: (s, t) => (streamed[s] += t), log });
  return { result, streamed, ...counts };
}

/** One spy per decoder, as the engine keeps one decoder per loaded model (what generate remembers is per decoder). */
const spies = new WeakMap<TokenDecoder, { spied: TokenDecoder; counts: { batchSteps: number; batchRows: number; singleSteps: number } }>();
function spy(decoder: TokenDecoder): { spied: TokenDecoder; counts: { batchSteps: number; batchRows: number; singleSteps: number } } {
  const known = spies.get(decoder);
  if (known) return known;
  const counts = { batchSteps: 0, batchRows: 0, singleSteps: 0 };
  const spied: TokenDecoder = {
    shape: decoder.shape,
    cache: decoder.cache,
    prefill: (ids, c) => decoder.prefill(ids, c),
    forward: (ids) => (counts.singleSteps++, decoder.forward(ids)),
  };
  if (decoder.batch) {
    spied.batch = (rows, positions) => {
      const batch = decoder.batch!(rows, positions);
      return {
        get rows() {
          return batch.rows;
        },
        forward: (tokens) => (counts.batchSteps++, (counts.batchRows += tokens.length), batch.forward(tokens)),
        drop: (row) => batch.drop(row),
      };
    };
  }
  spies.set(decoder, { spied, counts });
  return { spied, counts };
}

describe('batched samples (tiny model)', function () {
  this.timeout(120_000);
  let model: LoadedModel;

  before(async () => {
    model = await loadModel({ folder: await tinyModelDir(), name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
  });
  after(() => model?.dispose());

  for (const [name, sampling] of [
    ['greedy', { topK: 1, topP: 1, temperature: 1, seed: 42 }],
    ['top-k 50', { topK: 50, topP: 1, temperature: 1, seed: 42 }],
    ['top-k 40, top-p 0.9, temperature 0.8', { topK: 40, topP: 0.9, temperature: 0.8, seed: 7 }],
  ] as const) {
    it(`${name}: batched samples equal the sequential ones token for token, in one batched step per token`, async () => {
      const sequential = await run(sequentialOnly(model.decoder), model.codec, options({ sampling }));
      const batched = await run(model.decoder, model.codec, options({ sampling }));
      assert.deepEqual(batched.result.texts, sequential.result.texts);
      assert.deepEqual(batched.result.stopReasons, sequential.result.stopReasons);
      assert.equal(batched.result.newTokens, sequential.result.newTokens);
      assert.deepEqual(batched.streamed, batched.result.texts, 'each sample streams exactly its own text');
      assert.equal(batched.singleSteps, 0, 'no sample decoded on its own');
      assert.equal(batched.batchSteps, 31, '32 tokens: 31 batched steps after the prompt');
      assert.equal(sequential.singleSteps, 3 * 31);
      if (name !== 'greedy') assert.equal(new Set(batched.result.texts).size, 3, `three different alternatives: ${JSON.stringify(batched.result.texts)}`);
    });
  }

  it('rows stop on their own (stop rules): finished rows leave the batch, the others go on', async () => {
    const opts = options({ stop: { atNewline: true, strings: ['x'] }, sampling: { topK: 50, topP: 1, temperature: 1, seed: 3 } });
    const sequential = await run(sequentialOnly(model.decoder), model.codec, opts);
    const batched = await run(model.decoder, model.codec, opts);
    assert.deepEqual(batched.result.texts, sequential.result.texts);
    assert.deepEqual(batched.result.stopReasons, sequential.result.stopReasons);
    assert.ok(batched.result.stopReasons.includes('stop'), `some row stopped at a stop rule: ${batched.result.stopReasons}`);
    console.log(`      ${JSON.stringify(batched.result.texts)} ${batched.result.stopReasons}, ${batched.batchSteps} batched steps`);
    const longest = Math.max(...sequential.result.texts.map((t) => model.codec.encode(t).length));
    assert.ok(batched.batchSteps <= longest + 1, 'the batch ends with its longest row');
    assert.equal(batched.singleSteps, 0);
    const fed = sequential.result.texts.length; // tokens the batch ran per row: one per token but the last
    assert.equal(batched.batchRows, sequential.singleSteps, 'a finished row is not run again');
    assert.ok(batched.batchRows < fed * batched.batchSteps, 'rows left the batch');
  });

  it('a cancel stops every unfinished row before the next batched step', async () => {
    const { spied, counts } = spy(model.decoder);
    counts.batchSteps = 0;
    let cancelled = false;
    const result = await generate(spied, model.codec, options(), { isCancelled: () => cancelled, onText: () => (cancelled = counts.batchSteps >= 2) });
    assert.deepEqual(result.stopReasons, ['cancelled', 'cancelled', 'cancelled']);
    assert.equal(counts.batchSteps, 3, 'the step already asked for runs (as for one sample), no other');
    assert.equal(result.newTokens, 9, 'three tokens per row, each streamed');
  });

  it('sample 0 of a 3-sample request is the 1-sample request with the same seed', async () => {
    const one = await run(model.decoder, model.codec, options({ samples: 1 }));
    const three = await run(model.decoder, model.codec, options({ samples: 3 }));
    assert.equal(three.result.texts[0], one.result.texts[0]);
  });

  it('after the request the cache holds the prompt alone, and the same prompt again runs no model step', async () => {
    const first = await run(model.decoder, model.codec, options());
    assert.deepEqual([...model.decoder.cache.tokens], model.codec.encode(PROMPT));
    const again = await run(model.decoder, model.codec, options());
    assert.equal(again.result.reusedTokens, again.result.promptTokens);
    assert.deepEqual(again.result.texts, first.result.texts);
  });
});

describe('batched samples: fallback', () => {
  const VOCAB = 50257;
  const CHARS = 'abcdefghijklmnopqrstuvwxyz\n ';
  const codec: TextCodec = { encode: (text) => [...text].map((c) => Math.max(0, CHARS.indexOf(c))), decode: (ids) => ids.map((id) => CHARS[id] ?? '?').join('') };

  /** Logits that depend on the whole context, so a wrong context gives other tokens: next = (sum of ids) mod 26. */
  function contextDecoder(batchFails?: (step: number) => boolean): TokenDecoder & { batchCalls: number } {
    let context: number[] = [];
    const logitsAfter = (ids: number[]) => {
      const logits = new Float32Array(VOCAB);
      logits[ids.reduce((a, b) => a + b, 0) % 26] = 5;
      logits[(ids.length * 7) % 26] = 4.5; // a close second, so that sampling has a choice
      if (ids.length > 12) logits[END_OF_TEXT] = 20;
      return logits;
    };
    const decoder: TokenDecoder & { batchCalls: number } = {
      batchCalls: 0,
      shape: { nLayer: 1, nHead: 1, headDim: 1, maxPositions: 1024, vocabSize: VOCAB },
      cache: {
        get length() {
          return context.length;
        },
        truncate: (n) => void (context = context.slice(0, n)),
      },
      async prefill(ids) {
        const reused = ids.findIndex((id, i) => context[i] !== id);
        context = [...ids];
        return { logits: logitsAfter(context), reused: reused < 0 ? ids.length : reused };
      },
      async forward(ids) {
        context.push(...ids);
        return logitsAfter(context);
      },
    };
    if (batchFails) {
      decoder.batch = (rows): BatchDecoder => {
        decoder.batchCalls++;
        const contexts = Array.from({ length: rows }, () => [...context]);
        let step = 0;
        return {
          get rows() {
            return contexts.length;
          },
          async forward(tokens) {
            if (batchFails(step++)) throw new Error('[ONNXRuntimeError] Reshape: the input tensor cannot be reshaped to the requested shape');
            return tokens.map((t, r) => (contexts[r].push(t), logitsAfter(contexts[r])));
          },
          drop(row) {
            contexts[row] = contexts[contexts.length - 1];
            contexts.pop();
          },
        };
      };
    }
    return decoder;
  }

  const fallbackOptions = options({ prompt: 'abc', maxNewTokens: 20, sampling: { topK: 2, topP: 1, temperature: 1, seed: 5 } });

  for (const failsAt of [0, 4]) {
    it(`a batch that fails at step ${failsAt} finishes every sample one after another, the same samples, streamed once, logged once`, async () => {
      const want = await run(contextDecoder(), codec, fallbackOptions);
      assert.ok(new Set(want.result.texts).size > 1, `the samples differ: ${want.result.texts}`);
      const decoder = contextDecoder((step) => step === failsAt);
      const logged: string[] = [];
      const got = await run(decoder, codec, fallbackOptions, (m) => logged.push(m));
      assert.deepEqual(got.result.texts, want.result.texts);
      assert.deepEqual(got.result.stopReasons, want.result.stopReasons);
      assert.deepEqual(got.streamed, got.result.texts, 'no token streamed twice');
      assert.equal(logged.length, 1);
      assert.match(logged[0], /one after another.*Reshape/);
      const second = await run(decoder, codec, fallbackOptions, (m) => logged.push(m));
      assert.deepEqual(second.result.texts, want.result.texts);
      assert.equal(logged.length, 1, 'said once');
      assert.equal(decoder.batchCalls, 1, 'a decoder that failed once is not asked again');
    });
  }
});
