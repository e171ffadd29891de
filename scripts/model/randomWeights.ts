// Seeded random GPT-2 weights for test and benchmark models.
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import { numel, weightsFromTensors, type Gpt2Weights } from '../../src/worker/gpt2/weights';
import { mulberry32, type Rng } from '../../src/worker/rng';

/** n samples of N(0, std) by Box-Muller (two per pair of uniforms). */
function normal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rng() || 1e-12)) * std;
    const theta = 2 * Math.PI * rng();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

export interface RandomWeightOptions {
  /** Multiplies every init std (default 1 = GPT-2's). Tests use > 1 so attention is far from uniform. */
  scale?: number;
}

/**
 * Seeded random weights with GPT-2's init: N(0, 0.02), residual projections (c_proj) scaled by
 * 1/sqrt(2*nLayer). Biases and LayerNorm gains/biases get small random values instead of 0/1 so
 * that a graph that forgets one of them gives different logits.
 */
export function randomWeights(c: Gpt2Config, seed: number, opts: RandomWeightOptions = {}): Gpt2Weights {
  const rng = mulberry32(seed);
  const s = opts.scale ?? 1;
  return weightsFromTensors(c, ({ name, shape }) => {
    const n = numel(shape);
    if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) return normal(rng, n, 0.1).map((v) => 1 + v);
    if (name.endsWith('.bias')) return normal(rng, n, 0.01 * s);
    if (name === 'wpe.weight') return normal(rng, n, 0.01 * s);
    if (name.endsWith('c_proj.weight')) return normal(rng, n, (0.02 * s) / Math.sqrt(2 * c.nLayer));
    return normal(rng, n, 0.02 * s); // wte, c_attn, c_fc
  });
}
