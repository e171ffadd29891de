// model.safetensors reading/writing: round trips in F32/F16/BF16, HF naming variants, and clear errors.
import * as assert from 'node:assert/strict';
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import { readSafetensors, toFloat32, weightsFromSafetensors } from '../../src/worker/gpt2/safetensors';
import { randomWeights } from '../../scripts/model/randomWeights';
import { weightsToSafetensors, writeSafetensors, type NamedTensor } from '../../scripts/model/safetensorsWriter';
import { tensorsOfWeights } from '../../scripts/model/tensorsOfWeights';

const C: Gpt2Config = { nLayer: 2, nHead: 2, nEmbd: 8, nPositions: 16, vocabSize: 50, layerNormEpsilon: 1e-5 };
const W = randomWeights(C, 3, { scale: 10 });
const named = (prefix = ''): NamedTensor[] => tensorsOfWeights(W, C).map(({ spec, data }) => ({ name: prefix + spec.name, shape: spec.shape, data }));

function flat(w: typeof W): Float32Array {
  const parts = tensorsOfWeights(w, C).map((t) => t.data);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

/** A file with one tensor replaced (or removed when `replace` is null). */
function withTensor(name: string, replace: NamedTensor | null): Uint8Array {
  const ts = named().filter((t) => t.name !== name);
  return writeSafetensors(replace ? [...ts, replace] : ts);
}

describe('safetensors', function () {
  it('round-trips F32 exactly, with and without the "transformer." prefix', function () {
    for (const prefix of ['', 'transformer.']) {
      const file = weightsToSafetensors(W, C, { prefix });
      assert.deepEqual(flat(weightsFromSafetensors(file, C)), flat(W));
    }
  });

  it('writes an 8-byte aligned header with metadata, as the reference writer does', function () {
    const file = weightsToSafetensors(W, C);
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const { tensors, metadata } = readSafetensors(file);
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual(tensors.get('h.1.mlp.c_fc.weight')?.shape, [8, 32]);
  });

  for (const [dtype, relErr] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
    it(`reads ${dtype} checkpoints to float32 within ${dtype}'s rounding`, function () {
      const got = flat(weightsFromSafetensors(weightsToSafetensors(W, C, { dtype }), C));
      const want = flat(W);
      for (let i = 0; i < want.length; i++) {
        const tol = Math.abs(want[i]) * relErr + 2 ** -24; // half an ulp, plus f16's subnormal step
        assert.ok(Math.abs(got[i] - want[i]) <= tol, `value ${i}: ${got[i]} vs ${want[i]}`);
      }
    });
  }

  it('converts F16 / BF16 specials, subnormals and exact values', function () {
    const v = Float32Array.of(0, -0, 1, -2, 0.5, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity);
    assert.deepEqual(Array.from(weightsFromSafetensorsValues(v, 'F16')), Array.from(v));
    const bf = Float32Array.of(0, -0, 1, -2, 0.5, 65536, 2 ** -24, 2 ** -126, 2 ** 100, Infinity, -Infinity); // f32's exponent range
    assert.deepEqual(Array.from(weightsFromSafetensorsValues(bf, 'BF16')), Array.from(bf));
    assert.ok(Number.isNaN(weightsFromSafetensorsValues(Float32Array.of(NaN), 'F16')[0]));
    assert.ok(Math.abs(weightsFromSafetensorsValues(Float32Array.of(1 / 3), 'F16')[0] - 1 / 3) < 2 ** -12);
  });

  it('ignores the attn.bias / attn.masked_bias buffers and accepts a tied lm_head.weight', function () {
    const extra: NamedTensor[] = [
      { name: 'h.0.attn.bias', shape: [1, 1, 16, 16], data: new Float32Array(256).fill(1) },
      { name: 'h.0.attn.masked_bias', shape: [], data: Float32Array.of(-1e4) },
      { name: 'lm_head.weight', shape: [50, 8], data: W.wte },
    ];
    const file = writeSafetensors([...named('transformer.'), ...extra]);
    assert.deepEqual(flat(weightsFromSafetensors(file, C)), flat(W));
  });

  it('names a missing tensor', function () {
    assert.throws(() => weightsFromSafetensors(withTensor('h.1.ln_2.bias', null), C), /missing tensor h\.1\.ln_2\.bias/);
  });

  it('names a tensor with the wrong shape', function () {
    const bad = { name: 'h.0.attn.c_attn.weight', shape: [24, 8], data: new Float32Array(192) }; // transposed (nn.Linear layout)
    assert.throws(() => weightsFromSafetensors(withTensor(bad.name, bad), C), /h\.0\.attn\.c_attn\.weight has shape \[24,8\], expected \[8,24\]/);
  });

  it('rejects a checkpoint whose config does not match', function () {
    const file = weightsToSafetensors(W, C);
    assert.throws(() => weightsFromSafetensors(file, { ...C, nEmbd: 16 }), /wte\.weight has shape \[50,8\], expected \[50,16\]/);
    assert.throws(() => weightsFromSafetensors(file, { ...C, nLayer: 3 }), /missing tensor h\.2\.ln_1\.weight/);
  });

  it('rejects an untied lm_head.weight', function () {
    const lm = { name: 'lm_head.weight', shape: [50, 8], data: W.wte.map((v) => v + 1) };
    assert.throws(() => weightsFromSafetensors(writeSafetensors([...named(), lm]), C), /lm_head\.weight differs/);
  });

  it('reports truncated or corrupt files clearly', function () {
    const file = weightsToSafetensors(W, C);
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    assert.throws(() => readSafetensors(file.subarray(0, 5)), /too short/);
    assert.throws(() => readSafetensors(file.subarray(0, 8 + n - 10)), /truncated header/);
    assert.throws(() => readSafetensors(file.subarray(0, file.length - 4)), /tensor ln_f\.bias lies outside the file/);
    const garbled = file.slice();
    garbled[8] = 0x7b + 1; // '{' -> '|'
    assert.throws(() => readSafetensors(garbled), /header is not valid JSON/);
  });

  it('refuses non-float dtypes naming the tensor', function () {
    const json = JSON.stringify({ 'wte.weight': { dtype: 'I32', shape: [50, 8], data_offsets: [0, 1600] } });
    const head = new TextEncoder().encode(json);
    const f = new Uint8Array(8 + head.length + 1600);
    new DataView(f.buffer).setBigUint64(0, BigInt(head.length), true);
    f.set(head, 8);
    assert.throws(() => weightsFromSafetensors(f, C), /tensor wte\.weight has dtype I32; only F32, F16 and BF16/);
  });
});

/** Writes `v` as one tensor in `dtype` and reads it back as float32. */
function weightsFromSafetensorsValues(v: Float32Array, dtype: 'F16' | 'BF16'): Float32Array {
  const { tensors } = readSafetensors(writeSafetensors([{ name: 'v', shape: [v.length], data: v }], dtype));
  return toFloat32('v', tensors.get('v')!);
}
