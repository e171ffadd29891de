// The sampler as it was before it became a class (commit b22071d): the oracle the Sampler must match token for token.
// Kept verbatim (sorting every logit for top-k 0, allocating per token): only the results matter here.
import type { SamplingOptions } from '../../src/protocol';
import type { Rng } from '../../src/worker/rng';

export interface Candidate {
  id: number;
  logit: number;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The k highest logits, best first. k <= 0 or k >= vocab keeps every token. */
export function topK(logits: Float32Array, k: number): Candidate[] {
  const n = logits.length;
  if (k <= 0 || k >= n) return sortDescending(Array.from(logits, (logit, id) => ({ id, logit })));
  const threshold = kthLargest(logits, k);
  const kept: Candidate[] = [];
  // Strictly-greater first, then ties at the threshold in id order, so exactly k survive.
  for (let id = 0; id < n; id++) if (logits[id] > threshold) kept.push({ id, logit: logits[id] });
  for (let id = 0; id < n && kept.length < k; id++) if (logits[id] === threshold) kept.push({ id, logit: logits[id] });
  return sortDescending(kept);
}

/** Softmax of logit/temperature over the candidates (already sorted best first). */
export function softmax(candidates: Candidate[], temperature: number): Float64Array {
  const probs = new Float64Array(candidates.length);
  const max = candidates[0].logit;
  let sum = 0;
  for (let i = 0; i < candidates.length; i++) sum += probs[i] = Math.exp((candidates[i].logit - max) / temperature);
  for (let i = 0; i < probs.length; i++) probs[i] /= sum;
  return probs;
}

/** Nucleus: the shortest best-first prefix whose probability reaches p (never empty). */
export function topPCount(probs: Float64Array, p: number): number {
  if (p >= 1) return probs.length;
  let cumulative = 0;
  for (let i = 0; i < probs.length; i++) {
    cumulative += probs[i];
    if (cumulative >= p) return i + 1;
  }
  return probs.length;
}

/**
 * The probability of `token` in softmax(logits / temperature) over the whole vocabulary: what the model thinks of
 * it, before top-k/top-p narrow the choice (those would make every greedy token look certain). Greedy counts as
 * temperature 1. Masked (-Infinity) logits count as probability 0.
 */
export function tokenProbability(logits: Float32Array, token: number, temperature: number): number {
  const t = temperature > 0 ? temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] - max) / t);
  return Math.exp((logits[token] - max) / t) / sum;
}

export function sampleToken(logits: Float32Array, options: SamplingOptions, rng: Rng): number {
  if (options.temperature <= 0 || options.topK === 1) return argmax(logits);
  const candidates = topK(logits, options.topK);
  const probs = softmax(candidates, options.temperature);
  const count = topPCount(probs, options.topP);
  let mass = 0;
  for (let i = 0; i < count; i++) mass += probs[i];
  let r = rng() * mass;
  for (let i = 0; i < count; i++) {
    r -= probs[i];
    if (r < 0) return candidates[i].id;
  }
  return candidates[count - 1].id; // r landed on the rounding error at the end
}

function sortDescending(candidates: Candidate[]): Candidate[] {
  return candidates.sort((a, b) => b.logit - a.logit || a.id - b.id);
}

/** Quickselect on a copy: O(vocab) instead of sorting 50k logits on every token. */
function kthLargest(values: Float32Array, k: number): number {
  const a = Float32Array.from(values);
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}
