// Prompt-lookup speculative decoding (speculation.ts, generate.ts): drafts come from the prompt and what was generated,
// one pass verifies them, and what is kept is what plain decoding samples — token for token greedy, and the same
// distribution (indeed the same samples per seed) under sampling.
import * as assert from 'node:assert/strict';
import { END_OF_TEXT, type GenerateOptions, type GenerationResult } from '../../src/protocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Gpt2Decoder, LEAN_OUTPUTS, type TokenDecoder } from '../../src/worker/engine/decoder';
import { makeLeanGraph } from '../../src/worker/engine/leanGraph';
import { createSession } from '../../src/worker/engine/session';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { generate } from '../../src/worker/engine/generate';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { lookupDraft, PromptLookup } from '../../src/worker/engine/speculation';
import type { TextCodec } from '../../src/worker/engine/tokenizer';
import { exportFolder } from '../support/hfExport';
import { tinyModelDir } from '../support/tinyModel';

const options = (over: Partial<GenerateOptions> = {}): GenerateOptions => ({
  prompt: '',
  maxNewTokens: 40,
  sampling: { topK: 1, topP: 1, temperature: 1, seed: 1 },
  stop: { atNewline: false, strings: [] },
  stream: false,
  samples: 1,
  ...over,
});

const REPETITIVE = [
  'function add(a, b) {',
  '  return a + b;',
  '}',
  'function sub(a, b) {',
  '  return a - b;',
  '}',
  'function mul(a, b) {',
  '  return a * b;',
  '}',
  'function div(a, b) {',
].join('\n');

describe('speculation: prompt lookup', () => {
  it('drafts what followed the latest earlier occurrence of the last 3, then 2, then 1 tokens', () => {
    assert.deepEqual(lookupDraft([1, 2, 3, 4, 5, 9, 1, 2, 3, 6, 7, 1, 2, 3], 3), [6, 7, 1]);
    assert.deepEqual(lookupDraft([1, 2, 3, 4, 5, 9, 2, 3], 4), [4, 5, 9, 2]); // 2 tokens match
    assert.deepEqual(lookupDraft([7, 8, 9, 5, 6], 2), []); // no earlier 6
    // What followed runs into the end: the text repeats with that period, so the draft goes on repeating it.
    assert.deepEqual(lookupDraft([5, 1, 9, 5], 4), [1, 9, 5, 1]);
    assert.deepEqual(lookupDraft([4, 4, 4], 3), [4, 4, 4]);
    assert.deepEqual(lookupDraft([7, 1, 2, 1, 2], 4), [1, 2, 1, 2]);
    assert.deepEqual(lookupDraft([1, 2], 0), []);
  });

  it('drafts fewer tokens after a refused draft and more after an accepted one', () => {
    const lookup = new PromptLookup([1, 2, 3, 4, 5, 6, 7, 8, 1, 2], { maxDraft: 4, window: 8, minAcceptedPerDraft: 0.5 });
    assert.deepEqual(lookup.draft(3, 10), [4, 5]); // starts at 2
    lookup.record(2, 2);
    assert.deepEqual(lookup.draft(4, 10), [5, 6, 7, 8]); // all kept: twice as many, at most maxDraft
    lookup.record(4, 0);
    assert.deepEqual(lookup.draft(6, 10), [7]); // none kept: one
    lookup.record(1, 1);
    assert.deepEqual(lookup.draft(7, 10), [8, 1]);
    assert.deepEqual(lookup.draft(8, 1), [1]); // never more than the room
  });

  it('switches itself off when the drafts keep failing', () => {
    const lookup = new PromptLookup([1, 2, 3, 1, 2, 3], { maxDraft: 4, window: 4, minAcceptedPerDraft: 0.5 });
    for (let i = 0; i < 3; i++) {
      assert.ok(lookup.draft(1, 4).length > 0);
      lookup.record(4, 0);
    }
    assert.equal(lookup.off, undefined);
    assert.ok(lookup.draft(1, 4).length > 0);
    lookup.record(4, 1);
    assert.match(lookup.off ?? '', /accepted 1 of 16 drafted tokens over the last 4 drafts/);
    assert.deepEqual(lookup.draft(1, 4), []);
  });
});

/** Greedy text `script` on repeat: a decoder with forwardAll that counts its passes; drafts from the repeats are right. */
function loopingDecoder(script: number[], opts: { allLogits?: 'yes' | 'throws' | 'no'; wrong?: boolean } = {}) {
  const VOCAB = 64;
  let tokens: number[] = [];
  const logitsAfter = (n: number) => {
    const logits = new Float32Array(VOCAB);
    logits[opts.wrong ? (n * 7 + tokens.length) % 50 : script[n % script.length]] = 10;
    return logits;
  };
  const decoder = {
    passes: 0,
    verified: 0,
    shape: { nLayer: 1, nHead: 1, headDim: 1, maxPositions: 1024, vocabSize: VOCAB },
    cache: {
      get length() {
        return tokens.length;
      },
      truncate(n: number) {
        tokens.length = Math.min(tokens.length, n);
      },
    },
    async prefill(ids: readonly number[]) {
      tokens = [...ids];
      return { logits: logitsAfter(tokens.length), reused: 0 };
    },
    async forward(ids: readonly number[]) {
      decoder.passes++;
      tokens.push(...ids);
      return logitsAfter(tokens.length);
    },
    forwardAll:
      opts.allLogits === 'no'
        ? undefined
        : async (ids: readonly number[]) => {
            if (opts.allLogits === 'throws') throw new Error('the graph returned logits for 1 of 5 positions');
            decoder.passes++;
            decoder.verified += ids.length - 1;
            const base = tokens.length;
            tokens.push(...ids);
            return ids.map((_, i) => logitsAfter(base + i + 1));
          },
  };
  return decoder satisfies TokenDecoder;
}
const codec: TextCodec = { encode: (text) => [...text].map((c) => c.charCodeAt(0) % 50), decode: (ids) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };
const noHooks = { isCancelled: () => false, onText: () => undefined };

describe('speculation: the sampling loop', () => {
  it('verifies drafts in one pass and keeps the greedy text', async () => {
    const script = [1, 2, 3, 4, 5, 6];
    const plain = loopingDecoder(script);
    const fast = loopingDecoder(script);
    const a = await generate(plain, codec, options({ prompt: 'abc', speculate: false }), noHooks);
    const b = await generate(fast, codec, options({ prompt: 'abc' }), noHooks);
    assert.deepEqual(b.texts, a.texts);
    assert.equal(a.speculation, undefined);
    assert.ok(b.speculation && b.speculation.accepted > 20, JSON.stringify(b.speculation));
    assert.ok(fast.passes < plain.passes / 2, `${fast.passes} passes against ${plain.passes}`);
    assert.equal(fast.cache.length, plain.cache.length, 'the cache holds what plain decoding fed, drafts past the last kept token forgotten');
  });

  it('a graph that cannot return every position decodes plainly and says why once', async () => {
    const lines: string[] = [];
    const hooks = { ...noHooks, log: (line: string) => lines.push(line) };
    const decoder = loopingDecoder([1, 2, 3], { allLogits: 'throws' });
    const plain = await generate(loopingDecoder([1, 2, 3]), codec, options({ prompt: 'abc', speculate: false }), noHooks);
    for (let i = 0; i < 2; i++) {
      const result = await generate(decoder, codec, options({ prompt: 'abc' }), hooks);
      assert.deepEqual(result.texts, plain.texts);
    }
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /speculative decoding off: .*logits for 1 of 5 positions/);
    const without = await generate(loopingDecoder([1, 2, 3], { allLogits: 'no' }), codec, options({ prompt: 'abc' }), hooks);
    assert.deepEqual(without.texts, plain.texts);
  });

  it('stops drafting when the drafts keep failing', async () => {
    const decoder = loopingDecoder([1, 2, 3], { wrong: true });
    const result = await generate(decoder, codec, options({ prompt: 'abcabcabc', maxNewTokens: 200 }), noHooks);
    assert.ok(result.speculation?.off, JSON.stringify(result.speculation));
    assert.ok(result.speculation!.drafts <= 16, JSON.stringify(result.speculation));
  });

  it('several samples keep plain batched decoding', async () => {
    const decoder = loopingDecoder([1, 2, 3]);
    const result = await generate(decoder, codec, options({ prompt: 'abc', samples: 2, maxNewTokens: 10 }), noHooks);
    assert.equal(decoder.verified, 0);
    assert.equal(result.speculation, undefined);
  });
});

describe('speculation on real models', function () {
  this.timeout(300_000);
  let tiny: LoadedModel;
  let exported: LoadedModel;
  before(async () => {
    tiny = await loadModel({ folder: await tinyModelDir(), name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
    exported = await loadModel({ folder: exportFolder('xenova-layout'), name: 'export', dtype: 'fp32', device: 'cpu', threads: 1 });
  });
  after(async () => {
    await tiny?.dispose();
    await exported?.dispose();
  });

  const both = async (model: LoadedModel, over: Partial<GenerateOptions>): Promise<[GenerationResult, GenerationResult]> => {
    model.decoder.reset();
    const plain = await generate(model.decoder, model.codec, options({ ...over, speculate: false }), noHooks);
    model.decoder.reset();
    const fast = await generate(model.decoder, model.codec, options(over), noHooks);
    return [plain, fast];
  };

  for (const which of ['tiny', 'export'] as const) {
    it(`greedy output is identical with and without speculation (${which})`, async () => {
      const model = which === 'tiny' ? tiny : exported;
      let accepted = 0;
      let drafts = 0;
      for (const prompt of [REPETITIVE, 'The quick brown fox jumps over the lazy dog. The quick brown', 'Hello']) {
        const [plain, fast] = await both(model, { prompt, maxNewTokens: 48 });
        assert.deepEqual(fast.texts, plain.texts, prompt);
        assert.deepEqual(fast.stopReasons, plain.stopReasons);
        accepted += fast.speculation?.accepted ?? 0;
        drafts += fast.speculation?.drafts ?? 0;
      }
      assert.ok(drafts > 2, `drafts were verified (${drafts})`);
      // The export's random weights never repeat themselves, so its drafts are all refused; the tiny model loops.
      if (which === 'tiny') assert.ok(accepted > 10, `drafts were accepted (${accepted})`);
    });
  }

  for (const [layout, file] of [
    ['xenova-layout', 'onnx/decoder_model_merged.onnx'],
    ['xenova-layout-nopos', 'onnx/decoder_model_merged.onnx'],
    ['onnx-community-layout', 'onnx/model.onnx'],
  ] as const) {
    it(`one pass over several tokens gives each position's logits, as steps one at a time do (${layout} rewritten)`, async () => {
      const { shape } = exported.decoder;
      const lean = makeLeanGraph(fs.readFileSync(path.join(exportFolder(layout), file)), { positionTableRows: shape.maxPositions });
      assert.ok(lean.lastLogitsOnly, 'the rewrite slices before the lm_head');
      const session = await createSession(lean.bytes, 'cpu', 1);
      try {
        const decoder = new Gpt2Decoder(session, shape, LEAN_OUTPUTS(lean.lastLogitsOnly));
        const ids = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];
        await decoder.prefill(ids.slice(0, 5));
        const all = (await decoder.forwardAll(ids.slice(5))).map((l) => Float32Array.from(l));
        assert.equal(all.length, 5);
        decoder.cache.truncate(5);
        for (let i = 0; i < 5; i++) {
          const step = await decoder.forward([ids[5 + i]]);
          assert.ok(maxAbsDiff(step, all[i]) < 1e-4, `position ${i}: ${maxAbsDiff(step, all[i])}`);
        }
      } finally {
        await session.release();
      }
    });
  }

  it('healing, stop rules and the confidence cut give the same text with and without speculation (tiny)', async () => {
    // A stop string from the middle of the greedy text, so that it ends the sample inside a verified pass.
    const [greedy] = await both(tiny, { prompt: REPETITIVE, maxNewTokens: 12 });
    const stopAt = greedy.texts[0].slice(greedy.texts[0].length - 12, greedy.texts[0].length - 5);
    for (const over of [
      { prompt: REPETITIVE + '\nfunction mu', heal: true },
      { prompt: REPETITIVE, stop: { atNewline: true, strings: [] } },
      { prompt: REPETITIVE, stop: { atNewline: false, strings: [stopAt] } },
      { prompt: REPETITIVE, minTokenProbability: 0.2 },
      { prompt: REPETITIVE, maxNewTokens: 7 },
    ] as Partial<GenerateOptions>[]) {
      const [plain, fast] = await both(tiny, over);
      assert.deepEqual(fast.texts, plain.texts, JSON.stringify(over));
      assert.deepEqual(fast.stopReasons, plain.stopReasons, JSON.stringify(over));
      assert.deepEqual(fast.confidenceCuts, plain.confidenceCuts, JSON.stringify(over));
      assert.equal(fast.newTokens, plain.newTokens, JSON.stringify(over));
      if (over.stop?.strings.length) assert.deepEqual(fast.stopReasons, ['stop']);
    }
  });

  it('the next request reuses a cache left by speculation as it would a plain one', async () => {
    const { decoder, codec } = tiny;
    decoder.reset();
    const first = await generate(decoder, codec, options({ prompt: REPETITIVE, maxNewTokens: 30 }), noHooks);
    const again = await generate(decoder, codec, options({ prompt: REPETITIVE + first.texts[0], maxNewTokens: 20, speculate: false }), noHooks);
    decoder.reset();
    const fresh = await generate(decoder, codec, options({ prompt: REPETITIVE + first.texts[0], maxNewTokens: 20, speculate: false }), noHooks);
    assert.ok(again.reusedTokens > fresh.reusedTokens);
    assert.deepEqual(again.texts, fresh.texts);
  });

  it('under sampling, the tokens have the distribution plain decoding gives (chi-square over seeds)', async () => {
    const { decoder, codec } = tiny;
    const SEEDS = 300;
    const sampling = (seed: number) => ({ topK: 4, topP: 1, temperature: 1, seed });
    const counts = [new Map<string, number>(), new Map<string, number>()];
    let sameSeedSame = 0;
    let accepted = 0;
    for (let seed = 0; seed < SEEDS; seed++) {
      // Disjoint seeds for the two sides (the test of the distribution), and the same seed both ways (identity).
      const [plain, fast] = await both(tiny, { prompt: REPETITIVE, maxNewTokens: 6, sampling: sampling(seed) });
      decoder.reset();
      const other = await generate(decoder, codec, options({ prompt: REPETITIVE, maxNewTokens: 6, sampling: sampling(seed + SEEDS) }), noHooks);
      if (plain.texts[0] === fast.texts[0]) sameSeedSame++;
      accepted += (fast.speculation?.accepted ?? 0) + (other.speculation?.accepted ?? 0);
      const firstTokens = (r: GenerationResult) => codec.encode(r.texts[0]).slice(0, 3).join(',');
      for (const [side, r] of [[0, plain], [1, other]] as const) counts[side].set(firstTokens(r), (counts[side].get(firstTokens(r)) ?? 0) + 1);
    }
    assert.ok(accepted > 50, `drafts were accepted (${accepted})`);
    assert.equal(sameSeedSame, SEEDS, 'the same seed gives the same sample (fp32)');
    // Two-sample chi-square over the first three tokens, categories with fewer than 10 in all pooled.
    const keys = new Set([...counts[0].keys(), ...counts[1].keys()]);
    const bins: [number, number][] = [];
    let rest: [number, number] = [0, 0];
    for (const k of keys) {
      const pair: [number, number] = [counts[0].get(k) ?? 0, counts[1].get(k) ?? 0];
      if (pair[0] + pair[1] >= 10) bins.push(pair);
      else rest = [rest[0] + pair[0], rest[1] + pair[1]];
    }
    if (rest[0] + rest[1] > 0) bins.push(rest);
    let chi2 = 0;
    for (const [a, b] of bins) {
      const expected = (a + b) / 2; // equal sample sizes
      chi2 += (a - expected) ** 2 / expected + (b - expected) ** 2 / expected;
    }
    const df = bins.length - 1;
    // 99.9th percentile of chi-square(df), Wilson-Hilferty
    const z = 3.09;
    const critical = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
    console.log(`      chi-square ${chi2.toFixed(1)} over ${df} degrees of freedom (critical ${critical.toFixed(1)}), ${accepted} drafted tokens accepted`);
    assert.ok(df >= 2, `enough categories (${bins.length})`);
    assert.ok(chi2 < critical, `chi-square ${chi2} >= ${critical}`);
  });
});

void END_OF_TEXT;
