// A short generation that every graph must get through at load, with logits compared to a reference: the
// proof that an optimisation (a rewritten graph, a GPU) computes what the model as shipped computes, and
// that "ready" means a generation just worked.
import type { Gpt2Decoder } from './decoder';

/** "The quick brown fox jumps": a prompt pass of 3 tokens, one decode step, then 2 tokens on top of the cache. */
const PROBE_IDS = [464, 2068, 7586, 21831, 18045, 625];
const STEPS = [[0, 3], [3, 4], [4, 6]] as const;

/** Last-position logits after each probe step. Throws what the graph threw, or when logits are not finite. */
export async function probeLogits(decoder: Gpt2Decoder): Promise<Float32Array[]> {
  const ids = PROBE_IDS.map((id) => id % decoder.shape.vocabSize);
  decoder.reset();
  try {
    const out: Float32Array[] = [];
    for (const [from, to] of STEPS) {
      const logits = Float32Array.from(await decoder.forward(ids.slice(from, to)));
      if (logits.length !== decoder.shape.vocabSize) throw new Error(`logits have ${logits.length} values, expected ${decoder.shape.vocabSize}`);
      if (!logits.every(Number.isFinite)) throw new Error('logits are not finite numbers');
      out.push(logits);
    }
    return out;
  } finally {
    decoder.reset();
  }
}

/**
 * Why `got` is not the reference's output, or undefined when every step is within `tolerance`, relative to the
 * logits' scale (a 124M model's logits are ~100 in size, the fixtures' ~0.3).
 */
export function probeMismatch(got: Float32Array[], want: Float32Array[], tolerance: number): string | undefined {
  for (let step = 0; step < want.length; step++) {
    let diff = 0, scale = 1;
    for (let i = 0; i < want[step].length; i++) {
      diff = Math.max(diff, Math.abs(got[step][i] - want[step][i]));
      scale = Math.max(scale, Math.abs(want[step][i]));
    }
    if (diff > tolerance * scale) return `probe step ${step + 1}: logits differ by up to ${diff.toPrecision(3)} (allowed ${(tolerance * scale).toPrecision(3)})`;
  }
  return undefined;
}
