// The ONNX graph against the plain-TypeScript oracle: full forward, KV-cache decoding, attention_mask,
// the quantized variants, and checkpoints converted from safetensors.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { configFromHfJson, type Gpt2Config } from '../../src/worker/gpt2/config';
import { buildGpt2Onnx, type Gpt2Dtype } from '../../src/worker/gpt2/graph';
import { dequantizedWeights } from '../../scripts/model/dequantize';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { weightsFromSafetensors } from '../../src/worker/gpt2/safetensors';
import { weightsToSafetensors } from '../../scripts/model/safetensorsWriter';
import type { Gpt2Weights } from '../../src/worker/gpt2/weights';
import { randomWeights } from '../../scripts/model/randomWeights';
import { forward } from '../oracle/gpt2Reference';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { TINY, tinyModelDir } from '../support/tinyModel';

type Kv = Record<string, ort.Tensor>;

interface Step {
  ids: number[][]; // [B, S]
  mask?: number[][]; // [B, P + S], default all ones
  positions?: number[][]; // [B, S], default P, P+1, ...
  past?: Kv; // present.* of the previous step
}

const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);

/** One call of the decoder: returns logits [B, S, V] and the new cache (present.* renamed to past_key_values.*). */
async function run(s: ort.InferenceSession, c: Gpt2Config, step: Step): Promise<{ logits: Float32Array; past: Kv }> {
  const B = step.ids.length, S = step.ids[0].length;
  const P = step.past ? step.past['past_key_values.0.key'].dims[2] : 0;
  const feeds: Kv = {
    input_ids: i64(step.ids),
    attention_mask: i64(step.mask ?? step.ids.map(() => Array(P + S).fill(1))),
    position_ids: i64(step.positions ?? step.ids.map(() => Array.from({ length: S }, (_, i) => P + i))),
  };
  for (let l = 0; l < c.nLayer; l++) {
    for (const kv of ['key', 'value']) {
      const name = `past_key_values.${l}.${kv}`;
      feeds[name] = step.past?.[name] ?? new ort.Tensor('float32', new Float32Array(0), [B, c.nHead, 0, c.nEmbd / c.nHead]);
    }
  }
  const out = await s.run(feeds);
  const past: Kv = {};
  for (const [name, t] of Object.entries(out)) if (name.startsWith('present.')) past[name.replace('present.', 'past_key_values.')] = t;
  assert.deepEqual(out.logits.dims, [B, S, c.vocabSize]);
  assert.deepEqual(past['past_key_values.0.key'].dims, [B, c.nHead, P + S, c.nEmbd / c.nHead]);
  return { logits: out.logits.data as Float32Array, past };
}

const session = (model: string | Uint8Array) =>
  typeof model === 'string'
    ? ort.InferenceSession.create(model, { intraOpNumThreads: 1 })
    : ort.InferenceSession.create(model, { intraOpNumThreads: 1 });

/** Row `row` of a [rows, V] logits array. */
const rowOf = (logits: Float32Array, V: number, row: number) => logits.subarray(row * V, (row + 1) * V);

/** max over rows of max|a - b| / (max(b) - min(b)): error relative to the spread of each row's logits. */
function relErr(a: Float32Array, b: Float32Array, V: number): number {
  let worst = 0;
  for (let r = 0; r < b.length / V; r++) {
    const ra = rowOf(a, V, r), rb = rowOf(b, V, r);
    worst = Math.max(worst, maxAbsDiff(ra, rb) / (Math.max(...rb) - Math.min(...rb)));
  }
  return worst;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

// Token ids of a few GPT-2 prompts ("The quick brown fox", "def main():\n", ...) plus edge ids.
const PROMPTS: number[][] = [
  [464, 2068, 7586, 21831],
  [4299, 1388, 33529, 198, 220, 220, 220, 3601, 7203, 31373, 8, 198],
  [50256],
  [0, 50256, 13, 198, 198, 1, 25, 40, 1101, 257, 1332],
];

// A small vocabulary and 10x GPT-2's init scale: attention is far from uniform and every layer moves the
// logits by much more than the tolerances, so a wrong mask, position or cache shows up clearly.
const SHARP: Gpt2Config = { nLayer: 3, nHead: 4, nEmbd: 32, nPositions: 64, vocabSize: 384, layerNormEpsilon: 1e-5 };
const sharpWeights = randomWeights(SHARP, 7, { scale: 10 });
const sharpPrompt = Array.from({ length: 14 }, (_, i) => (i * 97 + 13) % SHARP.vocabSize);

describe('GPT-2 ONNX graph', function () {
  let tinyWeights: Gpt2Weights;
  let tinyConfig: Gpt2Config;
  let sharp: ort.InferenceSession;
  let dir: string;

  before(async function () {
    dir = await tinyModelDir();
    tinyConfig = configFromHfJson(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    assert.deepEqual(tinyConfig, TINY.config);
    tinyWeights = randomWeights(tinyConfig, TINY.seed); // the weights models/tiny was built from
    sharp = await session(buildGpt2Onnx(sharpWeights, SHARP, 'fp32'));
  });

  it('tiny fp32 file: logits equal the TypeScript oracle within 1e-4', async function () {
    const s = await session(path.join(dir, onnxFileName('fp32')));
    for (const ids of PROMPTS) {
      const { logits } = await run(s, tinyConfig, { ids: [ids] });
      const diff = maxAbsDiff(logits, forward(tinyWeights, tinyConfig, ids));
      assert.ok(diff < 1e-4, `prompt [${ids}]: max |onnx - oracle| = ${diff}`);
    }
  });

  it('sharp model: logits equal the oracle within 1e-4 (and are far from uniform)', async function () {
    const { logits } = await run(sharp, SHARP, { ids: [sharpPrompt] });
    const want = forward(sharpWeights, SHARP, sharpPrompt);
    assert.ok(maxAbsDiff(logits, want) < 1e-4, `max diff ${maxAbsDiff(logits, want)}`);
    const spread = Math.max(...want) - Math.min(...want);
    assert.ok(spread > 5, `test model too flat to be a useful check (logit spread ${spread})`);
  });

  it('incremental decoding with past key/values equals the full forward pass', async function () {
    const full = forward(sharpWeights, SHARP, sharpPrompt);
    const V = SHARP.vocabSize;
    for (const k of [1, 5]) {
      let { logits, past } = await run(sharp, SHARP, { ids: [sharpPrompt.slice(0, k)] });
      for (let i = 0; i < k; i++) assert.ok(maxAbsDiff(rowOf(logits, V, i), rowOf(full, V, i)) < 1e-4, `prefill row ${i}`);
      for (let i = k; i < sharpPrompt.length; i++) {
        ({ logits, past } = await run(sharp, SHARP, { ids: [[sharpPrompt[i]]], past }));
        const diff = maxAbsDiff(logits, rowOf(full, V, i));
        assert.ok(diff < 1e-4, `prefill ${k}, step ${i}: max diff ${diff}`);
      }
    }
  });

  it('batched, left-padded prompts: padding is ignored via attention_mask', async function () {
    // HF convention: pads on the left, mask 0 there, positions count real tokens only.
    const a = sharpPrompt.slice(0, 9), b = sharpPrompt.slice(3, 6);
    const pad = a.length - b.length;
    const { logits } = await run(sharp, SHARP, {
      ids: [a, [...Array(pad).fill(0), ...b]],
      mask: [a.map(() => 1), [...Array(pad).fill(0), ...b.map(() => 1)]],
      positions: [a.map((_, i) => i), [...Array(pad).fill(0), ...b.map((_, i) => i)]],
    });
    const V = SHARP.vocabSize, S = a.length;
    const wantA = forward(sharpWeights, SHARP, a), wantB = forward(sharpWeights, SHARP, b);
    for (let i = 0; i < a.length; i++) assert.ok(maxAbsDiff(rowOf(logits, V, i), rowOf(wantA, V, i)) < 1e-4, `row a${i}`);
    for (let i = 0; i < b.length; i++) {
      const diff = maxAbsDiff(rowOf(logits, V, S + pad + i), rowOf(wantB, V, i));
      assert.ok(diff < 1e-4, `padded row b${i}: max diff ${diff}`);
    }
  });

  it('masked past slots (attention_mask 0) are ignored by later tokens', async function () {
    const prefix = sharpPrompt.slice(0, 8);
    const { past } = await run(sharp, SHARP, { ids: [prefix] });
    const hidden = [2, 3, 6]; // cache slots the next token must not see
    const mask = [...prefix.map((_, j) => (hidden.includes(j) ? 0 : 1)), 1];
    const next = sharpPrompt[8];
    const { logits } = await run(sharp, SHARP, { ids: [[next]], mask: [mask], past, positions: [[8]] });
    // Only the new token (query 8) is denied those keys; the cached prefix was computed seeing everything.
    const visible = (i: number, j: number) => i < 8 || mask[j] === 1;
    const want = rowOf(forward(sharpWeights, SHARP, [...prefix, next], { visible }), SHARP.vocabSize, 8);
    assert.ok(maxAbsDiff(logits, want) < 1e-4, `max diff ${maxAbsDiff(logits, want)}`);
    // And the mask matters: with every slot visible the answer is different.
    const unmasked = rowOf(forward(sharpWeights, SHARP, [...prefix, next]), SHARP.vocabSize, 8);
    assert.ok(maxAbsDiff(unmasked, want) > 1e-2);
  });

  for (const dtype of ['q8', 'q4'] as const) {
    it(`tiny ${dtype} file: equals the oracle run on its dequantized weights (packing check)`, async function () {
      // What remains is activation rounding only; a wrong nibble order, zero point or scale is far bigger.
      const s = await session(path.join(dir, onnxFileName(dtype)));
      const w = dequantizedWeights(tinyWeights, tinyConfig, dtype);
      let worstRel = 0;
      for (const ids of PROMPTS) {
        const got = (await run(s, tinyConfig, { ids: [ids] })).logits;
        const want = forward(w, tinyConfig, ids);
        worstRel = Math.max(worstRel, relErr(got, want, tinyConfig.vocabSize));
      }
      console.log(`      ${dtype} vs oracle(dequantized weights): max |diff|/range ${worstRel.toFixed(4)}`);
      assert.ok(worstRel < QUANT_LIMITS[dtype].vsDequantized, `max |diff| / logit range ${worstRel}`);
    });

    it(`tiny ${dtype} file tracks fp32`, async function () {
      const fp32 = await session(path.join(dir, onnxFileName('fp32')));
      const q = await session(path.join(dir, onnxFileName(dtype)));
      const V = tinyConfig.vocabSize;
      let rows = 0, sameTop = 0, worstRel = 0;
      for (const ids of PROMPTS) {
        const ref = (await run(fp32, tinyConfig, { ids: [ids] })).logits;
        const got = (await run(q, tinyConfig, { ids: [ids] })).logits;
        for (let i = 0; i < ids.length; i++) if (argmax(rowOf(ref, V, i)) === argmax(rowOf(got, V, i))) sameTop++;
        rows += ids.length;
        worstRel = Math.max(worstRel, relErr(got, ref, V));
      }
      console.log(`      ${dtype} vs fp32: same argmax ${sameTop}/${rows}, max |diff|/range ${worstRel.toFixed(4)}`);
      const limits = QUANT_LIMITS[dtype];
      assert.ok(sameTop / rows >= limits.sameTop, `argmax agreement ${sameTop}/${rows}`);
      assert.ok(worstRel <= limits.vsFp32, `max |diff| / logit range ${worstRel}`);
    });
  }

  it('a safetensors checkpoint converts to a graph with identical logits', async function () {
    const ids = PROMPTS[1];
    const ref = (await run(await session(buildGpt2Onnx(tinyWeights, tinyConfig, 'fp32')), tinyConfig, { ids: [ids] })).logits;
    for (const prefix of ['', 'transformer.']) {
      const w = weightsFromSafetensors(weightsToSafetensors(tinyWeights, tinyConfig, { prefix }), tinyConfig);
      const got = (await run(await session(buildGpt2Onnx(w, tinyConfig, 'fp32')), tinyConfig, { ids: [ids] })).logits;
      assert.equal(maxAbsDiff(got, ref), 0, `prefix "${prefix}"`);
    }
  });

  it('refuses weights that do not match the config', function () {
    assert.throws(() => buildGpt2Onnx(sharpWeights, { ...SHARP, nLayer: 2 }, 'fp32'), /3 blocks.*nLayer=2/);
    assert.throws(() => buildGpt2Onnx(sharpWeights, { ...SHARP, nHead: 5 }, 'fp32'), /nEmbd \(32\) must be divisible by nHead \(5\)/);
    assert.throws(() => buildGpt2Onnx(sharpWeights, SHARP, 'q2' as Gpt2Dtype), /unknown dtype q2/);
  });
});

// Errors as a fraction of each row's logit range (max - min). Measured on models/tiny (each run prints
// them); limits leave about 2x headroom. The tiny model's logits are nearly flat (range ~1), so argmax
// agreement is a weak signal there; the dequantized-oracle check is the strict one.
const QUANT_LIMITS = {
  q8: { sameTop: 0.85, vsFp32: 0.02, vsDequantized: 0.01 },
  q4: { sameTop: 0.8, vsFp32: 0.07, vsDequantized: 0.01 },
};
