// A short generation that every graph must get through at load, with logits compared to a reference: the
// proof that an optimisation (a rewritten graph, a GPU) computes what the model as shipped computes, and
// that "ready" means a generation just worked.
import type { Gpt2Decoder } from './decoder';

/**
 * "The quick brown fox jumps over": a prompt pass of 3 tokens, a decode step, 2 tokens on top of the cache (the
 * steps where a graph that mishandles sequence lengths fails), and a last decode step.
 */
const PROBE_IDS = [464, 2068, 7586, 21831, 18045, 625, 262];
export const PROBE_STEPS = [[0, 3], [3, 4], [4, 6], [6, 7]] as const;

/** Last-position logits after each probe step. Throws what the graph threw, or when logits are not finite. */
export async function probeLogits(decoder: Gpt2Decoder): Promise<Float32Array[]> {
  const ids = PROBE_IDS.map((id) => id % decoder.shape.vocabSize);
  decoder.reset();
  try {
    const out: Float32Array[] = [];
    for (const [from, to] of PROBE_STEPS) {
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

export interface ProbeTolerance {
  /** Relative to the logits' scale (a 124M model's logits are ~100 in size, the fixtures' ~0.3). */
  relative: number;
  /**
   * Compare only the one-token steps. Quantized graphs quantize activations per tensor, so a graph that runs the
   * lm_head on the last position only (the lean graph) rounds it differently from one that runs every position;
   * the multi-token steps must still run, and fill the cache the one-token steps read.
   */
  singleTokenStepsOnly: boolean;
}

/** Why `got` is not the reference's output, or undefined when every compared step is within tolerance. */
export function probeMismatch(got: Float32Array[], want: Float32Array[], tolerance: ProbeTolerance): string | undefined {
  for (let step = 0; step < want.length; step++) {
    if (tolerance.singleTokenStepsOnly && PROBE_STEPS[step][1] - PROBE_STEPS[step][0] > 1) continue;
    let diff = 0, scale = 1;
    for (let i = 0; i < want[step].length; i++) {
      diff = Math.max(diff, Math.abs(got[step][i] - want[step][i]));
      scale = Math.max(scale, Math.abs(want[step][i]));
    }
    const allowed = tolerance.relative * scale;
    if (diff > allowed) return `probe step ${step + 1}: logits differ by up to ${diff.toPrecision(3)} (allowed ${allowed.toPrecision(3)})`;
  }
  return undefined;
}
