// GPT-2 parameters as plain Float32Arrays, laid out exactly like a Hugging Face checkpoint so that
// loading one is a copy: Linear weights are HF Conv1D, i.e. [in, out] row-major (y = x @ W + b).
// Field names follow the checkpoint's module names (h.0.attn.c_attn.weight -> h[0].attn.c_attn.weight).
import { validateConfig, type Gpt2Config } from './config';

/**
 * An int8 matrix as onnxruntime's quantizer stores it (what a downloaded q8 export holds):
 * w[k, n] ~= (q[k, n] - zeroPoint) * scale, with one scale and zero point for the whole matrix or one per
 * output column n. Kept as it is, so a mapped export computes with exactly the weights it shipped.
 */
export interface Int8Matrix {
  q: Int8Array | Uint8Array; // [K, N] row-major (or [rows, cols] for an embedding table)
  scale: Float32Array; // [1] or [N]
  zeroPoint: Int8Array | Uint8Array; // same length as scale
}

/** A weight matrix: fp32 values, or (from a q8 export) the int8 values it was shipped as. */
export type Matrix = Float32Array | Int8Matrix;

export interface Linear<M extends Matrix = Float32Array> {
  weight: M; // [in, out]
  bias: Float32Array; // [out]
}

export interface LayerNorm {
  weight: Float32Array; // [nEmbd] gain
  bias: Float32Array; // [nEmbd]
}

export interface Gpt2Block<M extends Matrix = Float32Array> {
  ln_1: LayerNorm;
  attn: { c_attn: Linear<M> /* [E, 3E]: q | k | v */; c_proj: Linear<M> /* [E, E] */ };
  ln_2: LayerNorm;
  mlp: { c_fc: Linear<M> /* [E, 4E] */; c_proj: Linear<M> /* [4E, E] */ };
}

/**
 * Gpt2Weights<Float32Array> is a checkpoint; Gpt2Weights<Matrix> is what a downloaded export holds, which may
 * keep int8 matrices and an lm_head of its own.
 */
export interface Gpt2Weights<M extends Matrix = Float32Array> {
  wte: M; // [vocabSize, nEmbd], also the (tied) lm_head
  wpe: Float32Array; // [nPositions, nEmbd]
  h: Gpt2Block<M>[]; // nLayer blocks
  ln_f: LayerNorm;
  /** [nEmbd, vocabSize]: an export's own copy of wte^T (tied weights, stored apart); absent = use wte. */
  lmHead?: M;
}

export const isInt8 = (m: Matrix): m is Int8Matrix => !(m instanceof Float32Array);

export interface TensorSpec {
  name: string; // checkpoint name without the "transformer." prefix
  shape: number[];
}

/** Every parameter tensor of a GPT-2, in checkpoint order, with its shape. */
export function tensorSpecs(c: Gpt2Config): TensorSpec[] {
  const E = c.nEmbd;
  const specs: TensorSpec[] = [
    { name: 'wte.weight', shape: [c.vocabSize, E] },
    { name: 'wpe.weight', shape: [c.nPositions, E] },
  ];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    specs.push(
      { name: p + 'ln_1.weight', shape: [E] },
      { name: p + 'ln_1.bias', shape: [E] },
      { name: p + 'attn.c_attn.weight', shape: [E, 3 * E] },
      { name: p + 'attn.c_attn.bias', shape: [3 * E] },
      { name: p + 'attn.c_proj.weight', shape: [E, E] },
      { name: p + 'attn.c_proj.bias', shape: [E] },
      { name: p + 'ln_2.weight', shape: [E] },
      { name: p + 'ln_2.bias', shape: [E] },
      { name: p + 'mlp.c_fc.weight', shape: [E, 4 * E] },
      { name: p + 'mlp.c_fc.bias', shape: [4 * E] },
      { name: p + 'mlp.c_proj.weight', shape: [4 * E, E] },
      { name: p + 'mlp.c_proj.bias', shape: [E] },
    );
  }
  specs.push({ name: 'ln_f.weight', shape: [E] }, { name: 'ln_f.bias', shape: [E] });
  return specs;
}

export const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Builds a Gpt2Weights by asking `load` for each tensor (in tensorSpecs order), checking its length.
 * The single place that maps checkpoint names to fields: safetensors reading and random init both use it.
 */
export function weightsFromTensors(c: Gpt2Config, load: (spec: TensorSpec) => Float32Array): Gpt2Weights {
  validateConfig(c);
  const t = new Map<string, Float32Array>();
  for (const spec of tensorSpecs(c)) {
    const a = load(spec);
    if (a.length !== numel(spec.shape)) {
      throw new Error(`tensor ${spec.name}: expected ${numel(spec.shape)} values for shape [${spec.shape}], got ${a.length}`);
    }
    t.set(spec.name, a);
  }
  const get = (n: string) => t.get(n)!;
  const lin = (p: string): Linear => ({ weight: get(p + '.weight'), bias: get(p + '.bias') });
  const h: Gpt2Block[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    h.push({
      ln_1: lin(p + 'ln_1'),
      attn: { c_attn: lin(p + 'attn.c_attn'), c_proj: lin(p + 'attn.c_proj') },
      ln_2: lin(p + 'ln_2'),
      mlp: { c_fc: lin(p + 'mlp.c_fc'), c_proj: lin(p + 'mlp.c_proj') },
    });
  }
  return { wte: get('wte.weight'), wpe: get('wpe.weight'), h, ln_f: lin('ln_f') };
}
