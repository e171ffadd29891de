// Weight quantizers for the q8 and q4 graphs. Pure functions over row-major Float32Arrays.
// int8 is symmetric (zero point 0): GPT-2 weights are centred on 0, and it lets MatMulInteger skip the
// weight zero-point correction. 4-bit is asymmetric: with only 16 levels, wasting one costs too much.

export interface Int8Quantized {
  q: Int8Array; // same layout as the input
  scale: Float32Array; // one per column (perColumn) or per row (perRow)
}

/** w [K, N] -> int8 [K, N] with one scale per output column n: w ~= q * scale[n]. */
export function quantizeInt8PerColumn(w: Float32Array, K: number, N: number): Int8Quantized {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(w[k * N + n]));
  }
  for (let n = 0; n < N; n++) scale[n] = scale[n] / 127 || 1; // all-zero column: any scale works
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) q[k * N + n] = Math.round(w[k * N + n] / scale[n]);
  }
  return { q, scale };
}

/** w [R, C] -> int8 [R, C] with one scale per row (the embedding table: one scale per token). */
export function quantizeInt8PerRow(w: Float32Array, R: number, C: number): Int8Quantized {
  const scale = new Float32Array(R);
  const q = new Int8Array(R * C);
  for (let r = 0; r < R; r++) {
    let amax = 0;
    for (let c = 0; c < C; c++) amax = Math.max(amax, Math.abs(w[r * C + c]));
    scale[r] = amax / 127 || 1;
    for (let c = 0; c < C; c++) q[r * C + c] = Math.round(w[r * C + c] / scale[r]);
  }
  return { q, scale };
}

export const Q4_BLOCK = 32;

export interface Q4Quantized {
  packed: Uint8Array; // [N, nBlocks, Q4_BLOCK / 2]: two 4-bit values per byte, low nibble first
  scales: Float32Array; // [N * nBlocks]
  zeroPoints: Uint8Array; // [N, ceil(nBlocks / 2)]: one 4-bit zero point per block, low nibble first
  nBlocks: number;
}

/**
 * The com.microsoft MatMulNBits weight layout (bits=4): for each output n, K is cut into blocks of 32;
 * W[k, n] ~= (nibble - zeroPoint[n, block]) * scale[n, block].
 * Asymmetric min/max per block, as onnxruntime's MatMul4BitsQuantizer does by default: all 16 levels
 * cover [min, max], about 17% less error than symmetric amax/7 on Gaussian weights.
 * `at(n, k)` reads the fp32 weight W[k, n], so callers can pass [K, N] (Conv1D) or [N, K] (wte) data.
 */
export function quantizeQ4(at: (n: number, k: number) => number, K: number, N: number): Q4Quantized {
  const nBlocks = Math.ceil(K / Q4_BLOCK);
  const blob = Q4_BLOCK / 2;
  const zpRow = Math.ceil(nBlocks / 2);
  const packed = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const zeroPoints = new Uint8Array(N * zpRow);
  const block = new Float32Array(Q4_BLOCK);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      // Range must include 0 so that zero-padding (K not a multiple of 32) and exact zeros stay exact.
      let lo = 0, hi = 0;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const k = b * Q4_BLOCK + j;
        block[j] = k < K ? at(n, k) : 0;
        lo = Math.min(lo, block[j]);
        hi = Math.max(hi, block[j]);
      }
      const sc = (hi - lo) / 15 || 1;
      const zp = Math.max(0, Math.min(15, Math.round(-lo / sc)));
      scales[n * nBlocks + b] = sc;
      zeroPoints[n * zpRow + (b >> 1)] |= b & 1 ? zp << 4 : zp;
      const base = (n * nBlocks + b) * blob;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const nib = Math.max(0, Math.min(15, Math.round(block[j] / sc) + zp));
        packed[base + (j >> 1)] |= j & 1 ? nib << 4 : nib;
      }
    }
  }
  return { packed, scales, zeroPoints, nBlocks };
}
