// The quantizers' inverses: what a q8 / q4 graph effectively computes with, for tests that check the packing.
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import { Q4_BLOCK, quantizeInt8PerColumn, quantizeInt8PerRow, quantizeQ4, type Int8Quantized, type Q4Quantized } from '../../src/worker/gpt2/quantize';
import type { Gpt2Weights, Linear } from '../../src/worker/gpt2/weights';

export function dequantizeInt8PerColumn({ q, scale }: Int8Quantized, K: number, N: number): Float32Array {
  return Float32Array.from({ length: K * N }, (_, i) => q[i] * scale[i % N]);
}

export function dequantizeInt8PerRow({ q, scale }: Int8Quantized, R: number, C: number): Float32Array {
  return Float32Array.from({ length: R * C }, (_, i) => q[i] * scale[Math.floor(i / C)]);
}

/** Back to a [K, N] matrix from the MatMulNBits layout. */
export function dequantizeQ4({ packed, scales, zeroPoints, nBlocks }: Q4Quantized, K: number, N: number): Float32Array {
  const out = new Float32Array(K * N);
  const zpRow = Math.ceil(nBlocks / 2);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / Q4_BLOCK), j = k % Q4_BLOCK;
      const byte = packed[(n * nBlocks + b) * (Q4_BLOCK / 2) + (j >> 1)];
      const zpByte = zeroPoints[n * zpRow + (b >> 1)];
      const nib = j & 1 ? byte >> 4 : byte & 15;
      const zp = b & 1 ? zpByte >> 4 : zpByte & 15;
      out[k * N + n] = (nib - zp) * scales[n * nBlocks + b];
    }
  }
  return out;
}

/**
 * The weights a q8 / q4 graph effectively computes with: every quantized tensor rounded through its
 * quantizer. An fp32 forward pass over these differs from the quantized graph only by activation
 * rounding, which makes it a sharp check of the packing (and a measure of weight-only error).
 */
export function dequantizedWeights(w: Gpt2Weights, c: Gpt2Config, dtype: 'q8' | 'q4'): Gpt2Weights {
  const E = c.nEmbd;
  const lin = (l: Linear, K: number, N: number): Linear => ({
    weight:
      dtype === 'q8'
        ? dequantizeInt8PerColumn(quantizeInt8PerColumn(l.weight, K, N), K, N)
        : dequantizeQ4(quantizeQ4((n, k) => l.weight[k * N + n], K, N), K, N),
    bias: l.bias,
  });
  return {
    wte: dequantizeInt8PerRow(quantizeInt8PerRow(w.wte, c.vocabSize, E), c.vocabSize, E), // int8 in both
    wpe: w.wpe,
    ln_f: w.ln_f,
    h: w.h.map((b) => ({
      ln_1: b.ln_1,
      attn: { c_attn: lin(b.attn.c_attn, E, 3 * E), c_proj: lin(b.attn.c_proj, E, E) },
      ln_2: b.ln_2,
      mlp: { c_fc: lin(b.mlp.c_fc, E, 4 * E), c_proj: lin(b.mlp.c_proj, 4 * E, E) },
    })),
  };
}
