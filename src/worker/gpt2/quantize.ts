// Weight quantizers for the q8 and q4 graphs. Pure functions over row-major Float32Arrays.
// Symmetric (zero point 0 / 8): GPT-2 weights are centred on 0, and symmetric int8 lets
// MatMulInteger skip the weight zero-point correction.

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
  nBlocks: number;
}

/**
 * The com.microsoft MatMulNBits weight layout (bits=4, no zero-point input, so zero point = 8):
 * for each output n, K is cut into blocks of 32; value = (nibble - 8) * scale[n, block].
 * `at(n, k)` reads the fp32 weight W[k, n], so callers can pass [K, N] (Conv1D) or [N, K] (wte) data.
 */
export function quantizeQ4(at: (n: number, k: number) => number, K: number, N: number): Q4Quantized {
  const nBlocks = Math.ceil(K / Q4_BLOCK);
  const blob = Q4_BLOCK / 2;
  const packed = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const block = new Float32Array(Q4_BLOCK);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      let amax = 0;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const k = b * Q4_BLOCK + j;
        block[j] = k < K ? at(n, k) : 0; // K not a multiple of 32: pad with zeros
        amax = Math.max(amax, Math.abs(block[j]));
      }
      // Symmetric around 8: use [-7, 7] (nibbles 1..15) so +amax and -amax are both exact.
      const sc = amax / 7 || 1;
      scales[n * nBlocks + b] = sc;
      const base = (n * nBlocks + b) * blob;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const nib = Math.max(0, Math.min(15, Math.round(block[j] / sc) + 8));
        packed[base + (j >> 1)] |= j & 1 ? nib << 4 : nib;
      }
    }
  }
  return { packed, scales, nBlocks };
}
