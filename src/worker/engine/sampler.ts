// GPT-2's sampler, written out like llama2.c's: last-position logits -> temperature -> top-k -> top-p
// -> softmax -> multinomial draw from a seeded RNG. A Sampler lives for one request: it owns the RNG and
// buffers sized to the vocabulary on the first token, so later tokens allocate nothing and never copy the logits.
import type { SamplingOptions } from '../../protocol';
import { mulberry32, randomSeed, type Rng } from '../rng';

export interface Candidate {
  id: number;
  logit: number;
}

export class Sampler {
  private ids = new Int32Array(0); // candidate token ids, best first once sorted
  private probs = new Float64Array(0); // their probabilities, same order
  private weights = new Float64Array(0); // exp((logit - max) / T) per token, for "no limit" only

  /** `rng` is for callers that share one stream across samplers; by default the seed in `options` decides. */
  constructor(
    private readonly options: SamplingOptions,
    private readonly rng: Rng = mulberry32(options.seed ?? randomSeed()),
  ) {}

  sample(logits: Float32Array): number {
    const { temperature, topK, topP } = this.options;
    if (temperature <= 0 || topK === 1) return argmax(logits);
    this.fit(logits.length);
    // Drawn first (one draw per token, as always) so "no limit" can tell how far down the list it must sort.
    const u = this.rng();
    if (topK > 0 && topK < logits.length) return this.draw(u, this.nucleusOfTopK(logits, topK));
    const count = this.nucleusOfAll(logits, u);
    // Without top-p the draw is over the whole vocabulary (mass 1), of which only the prefix it lands in was sorted.
    return this.draw(u, count, topP < 1 ? undefined : 1);
  }

  private fit(vocab: number): void {
    if (this.ids.length >= vocab) return;
    this.ids = new Int32Array(vocab);
    this.probs = new Float64Array(vocab);
    this.weights = new Float64Array(vocab);
  }

  /** Top-k: softmax over the k best only, summed best first like the reference sampler. Returns the nucleus size. */
  private nucleusOfTopK(logits: Float32Array, k: number): number {
    selectBest(logits, k, this.ids);
    sortBestFirst(logits, this.ids, k);
    const max = logits[this.ids[0]];
    const t = this.options.temperature;
    let sum = 0;
    for (let i = 0; i < k; i++) sum += this.probs[i] = Math.exp((logits[this.ids[i]] - max) / t);
    for (let i = 0; i < k; i++) this.probs[i] /= sum;
    return topPCount(this.probs, this.options.topP, k);
  }

  /**
   * No top-k: the softmax spans the whole vocabulary, but only a best-first prefix can be drawn — the nucleus for
   * top-p < 1, else the tokens before the draw `u` runs out. Tokens below a weight cutoff hold less than the rest
   * of the mass together (llama2.c's top-p trick), so only those at or above it are sorted.
   */
  private nucleusOfAll(logits: Float32Array, u: number): number {
    const n = logits.length;
    const t = this.options.temperature;
    const max = logits[argmax(logits)];
    let total = 0;
    for (let i = 0; i < n; i++) total += this.weights[i] = Math.exp((logits[i] - max) / t);
    const needed = this.options.topP < 1 ? this.options.topP : u;
    // Rounding in `total` can leave the cutoff prefix a hair short; then everything is sorted, as before.
    for (const cutoff of [((1 - needed) * total) / n / 2, 0]) {
      const kept = this.keepAtLeast(cutoff);
      sortBestFirst(logits, this.ids, kept);
      let prefix = 0;
      for (let i = 0; i < kept; i++) prefix += this.probs[i] = this.weights[this.ids[i]] / total;
      if (kept === n || prefix > needed) return topPCount(this.probs, this.options.topP, kept);
    }
    throw new Error('unreachable: cutoff 0 keeps every token');
  }

  private keepAtLeast(cutoff: number): number {
    let kept = 0;
    for (let i = 0; i < this.weights.length && i < this.ids.length; i++) if (this.weights[i] >= cutoff) this.ids[kept++] = i;
    return kept;
  }

  /** Multinomial draw over the first `count` candidates, renormalized to their mass unless it is given. */
  private draw(u: number, count: number, givenMass?: number): number {
    let mass = 0;
    if (givenMass === undefined) for (let i = 0; i < count; i++) mass += this.probs[i];
    let r = u * (givenMass ?? mass);
    for (let i = 0; i < count; i++) {
      r -= this.probs[i];
      if (r < 0) return this.ids[i];
    }
    return this.ids[count - 1]; // r landed on the rounding error at the end
  }
}

/** One draw with a throwaway Sampler: for one-off calls (tests, the bench); generation keeps one Sampler per request. */
export function sampleToken(logits: Float32Array, options: SamplingOptions, rng: Rng): number {
  return new Sampler(options, rng).sample(logits);
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The k highest logits, best first (ties: lower id first). k <= 0 or k >= vocab keeps every token. */
export function topK(logits: Float32Array, k: number): Candidate[] {
  const n = k <= 0 || k >= logits.length ? logits.length : k;
  const ids = new Int32Array(logits.length);
  selectBest(logits, n, ids);
  sortBestFirst(logits, ids, n);
  return Array.from(ids.slice(0, n), (id) => ({ id, logit: logits[id] }));
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

/** Nucleus: the shortest best-first prefix of the first `length` probabilities whose sum reaches p (never empty). */
export function topPCount(probs: Float64Array, p: number, length = probs.length): number {
  if (p >= 1) return length;
  let cumulative = 0;
  for (let i = 0; i < length; i++) {
    cumulative += probs[i];
    if (cumulative >= p) return i + 1;
  }
  return length;
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

// The candidate heap: the root is the WORST candidate, so a better token replaces it in O(log k).
// "Better" = higher logit, then lower id, which keeps exactly k when logits tie at the threshold.

function better(logits: Float32Array, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

function siftDown(logits: Float32Array, heap: Int32Array, start: number, size: number): void {
  let i = start;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= size) return;
    const right = left + 1;
    const worse = right < size && better(logits, heap[left], heap[right]) ? right : left;
    if (!better(logits, heap[i], heap[worse])) return;
    const swap = heap[i];
    heap[i] = heap[worse];
    heap[worse] = swap;
    i = worse;
  }
}

/**
 * Leaves the k best token ids in heap[0..k): one pass, most tokens rejected by a single comparison with the root's
 * logit, kept in a local (the scan is most of a sampling step: 50257 tokens, a few hundred of which enter the heap).
 * A later id that ties the root is never better (ties go to the lower id), so `>` alone decides; NaN never enters.
 */
function selectBest(logits: Float32Array, k: number, heap: Int32Array): void {
  for (let id = 0; id < k; id++) heap[id] = id;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(logits, heap, i, k);
  let worst = logits[heap[0]];
  for (let id = k, n = logits.length; id < n; id++) {
    if (!(logits[id] > worst)) continue;
    heap[0] = id;
    siftDown(logits, heap, 0, k);
    worst = logits[heap[0]];
  }
}

/** Heapsort of ids[0..size) in place, best first: the worst goes to the end each round. */
function sortBestFirst(logits: Float32Array, ids: Int32Array, size: number): void {
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(logits, ids, i, size);
  for (let end = size - 1; end > 0; end--) {
    const swap = ids[0];
    ids[0] = ids[end];
    ids[end] = swap;
    siftDown(logits, ids, 0, end);
  }
}
