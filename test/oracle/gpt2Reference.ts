// An independent GPT-2 forward pass in plain TypeScript: the test oracle for the ONNX graph.
// Deliberately naive (loops, Float64 accumulation, whole sequence at once, no cache) and sharing
// nothing with src/worker/gpt2/graph.ts but the weight/config types, so a bug has to be made twice
// to go unnoticed. Formulas follow Radford et al.'s gpt-2/src/model.py.
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import type { Gpt2Weights, LayerNorm, Linear } from '../../src/worker/gpt2/weights';

type Mat = Float64Array[]; // rows
type Visibility = (query: number, key: number) => boolean;

/** x [n, K] @ W [K, N] + b, W in Conv1D (input-major) layout. */
function linear(x: Mat, p: Linear, N: number): Mat {
  const K = x[0].length;
  return x.map((row) => {
    const y = Float64Array.from(p.bias);
    for (let k = 0; k < K; k++) {
      const xk = row[k];
      for (let n = 0; n < N; n++) y[n] += xk * p.weight[k * N + n];
    }
    return y;
  });
}

function layerNorm(x: Mat, p: LayerNorm, eps: number): Mat {
  return x.map((row) => {
    const E = row.length;
    const mean = row.reduce((a, b) => a + b, 0) / E;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / E; // biased, as torch
    const inv = 1 / Math.sqrt(variance + eps);
    return row.map((v, i) => (v - mean) * inv * p.weight[i] + p.bias[i]);
  });
}

function gelu(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

function softmaxInPlace(a: Float64Array): void {
  const m = Math.max(...a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] = Math.exp(a[i] - m);
  for (let i = 0; i < a.length; i++) a[i] /= s;
}

/**
 * Causal multi-head attention; `visible(i, j)` = false additionally hides key j from query i.
 * A query that sees no key at all gets a zero context (its logits are never checked).
 */
function attention(x: Mat, w: Gpt2Weights['h'][number]['attn'], c: Gpt2Config, visible: Visibility): Mat {
  const E = c.nEmbd, H = c.nHead, D = E / H, n = x.length;
  const qkv = linear(x, w.c_attn, 3 * E); // [n, 3E] = q | k | v
  const out: Mat = Array.from({ length: n }, () => new Float64Array(E));
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < n; i++) {
      const keys: number[] = [];
      for (let j = 0; j <= i; j++) if (visible(i, j)) keys.push(j);
      if (keys.length === 0) continue;
      const scores = Float64Array.from(keys, (j) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += qkv[i][h * D + d] * qkv[j][E + h * D + d];
        return s / Math.sqrt(D);
      });
      softmaxInPlace(scores);
      keys.forEach((j, t) => {
        for (let d = 0; d < D; d++) out[i][h * D + d] += scores[t] * qkv[j][2 * E + h * D + d];
      });
    }
  }
  return linear(out, w.c_proj, E);
}

function add(a: Mat, b: Mat): Mat {
  return a.map((row, i) => row.map((v, k) => v + b[i][k]));
}

export interface ForwardOptions {
  /** Position of each token (default 0, 1, 2, ...). */
  positions?: number[];
  /** Extra mask on top of causality: may query i attend to key j? (default: always). */
  visible?: Visibility;
}

/** GPT-2 logits for a token sequence: [seq, vocab], row-major. */
export function forward(w: Gpt2Weights, c: Gpt2Config, tokenIds: number[], opts: ForwardOptions = {}): Float32Array {
  const E = c.nEmbd, V = c.vocabSize, n = tokenIds.length;
  const positions = opts.positions ?? tokenIds.map((_, i) => i);
  const visible = opts.visible ?? (() => true);
  let x: Mat = tokenIds.map((t, i) => {
    const row = new Float64Array(E);
    for (let e = 0; e < E; e++) row[e] = w.wte[t * E + e] + w.wpe[positions[i] * E + e];
    return row;
  });
  for (const block of w.h) {
    x = add(x, attention(layerNorm(x, block.ln_1, c.layerNormEpsilon), block.attn, c, visible));
    const hidden = linear(layerNorm(x, block.ln_2, c.layerNormEpsilon), block.mlp.c_fc, 4 * E).map((r) => r.map(gelu));
    x = add(x, linear(hidden, block.mlp.c_proj, E));
  }
  x = layerNorm(x, w.ln_f, c.layerNormEpsilon);
  // Tied output embedding: logits[i, v] = x[i] . wte[v]
  const logits = new Float32Array(n * V);
  for (let i = 0; i < n; i++) {
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += x[i][e] * w.wte[v * E + e];
      logits[i * V + v] = s;
    }
  }
  return logits;
}
