// The past key/values of the tokens the model has already seen, kept in the engine's own buffers.
// Layout per layer and kind (key/value): [nHead, stride, headDim], where `stride` is the room per head:
// the positions in use rounded up to a chunk. The first nHead * stride * headDim floats of a buffer go to
// ONNX Runtime as the past input (a zero-copy view); slots past `length` are stale and hidden by zeros in the
// attention mask. So truncating the cache to a common prefix costs nothing, and the heads are re-laid out
// only when the stride changes: up when the tokens outgrow it, down when they shrink well below it (after a
// long file, a short one would otherwise pay attention over every stale slot of the long one).
// Models without a position_ids input take positions from the past's length, so for them (`exactPast`)
// each step gets a compact copy of exactly `length` positions instead: correct, at one cache copy per step.
import { Tensor } from 'onnxruntime-node';

/** Positions per head are laid out in whole chunks of this many. */
const KV_CHUNK = 64;

/** Slots per head the cache lays out for `positions` tokens: whole chunks, at most the model's window. */
export function slotsFor(positions: number, maxPositions: number, chunk = KV_CHUNK): number {
  return Math.min(maxPositions, Math.ceil(positions / chunk) * chunk);
}

export interface CacheShape {
  nLayer: number;
  nHead: number;
  headDim: number;
  maxPositions: number; // the model's n_positions
}

export class KvCache {
  private ids: number[] = [];
  private stride = 0;
  private buffers: Float32Array[] = []; // index 2 * layer + (0 key | 1 value); may be longer than in use

  constructor(
    readonly shape: CacheShape,
    private readonly exactPast = false,
    private readonly chunk = KV_CHUNK,
  ) {}

  get length(): number {
    return this.ids.length;
  }

  get tokens(): readonly number[] {
    return this.ids;
  }

  /** How many leading tokens of `ids` the cache already holds. */
  commonPrefix(ids: readonly number[]): number {
    const n = Math.min(ids.length, this.ids.length);
    let i = 0;
    while (i < n && ids[i] === this.ids[i]) i++;
    return i;
  }

  /** Forgets every position from `length` on. */
  truncate(length: number): void {
    this.ids.length = Math.min(length, this.ids.length);
  }

  /** Forgets every token; the buffers stay, for the next prompt. */
  clear(): void {
    this.ids = [];
  }

  /** Positions per head the buffers are laid out for (what ONNX Runtime reads per head each step). */
  get slotsPerHead(): number {
    return this.stride;
  }

  /** The keys (`index` 2 * layer) or values (2 * layer + 1) of one head at the positions held: [length, headDim], a view. */
  headPositions(index: number, head: number): Float32Array {
    const { headDim } = this.shape;
    const start = head * this.stride * headDim;
    return this.buffers[index].subarray(start, start + this.length * headDim);
  }

  /** Inputs for a step that feeds `count` new tokens: past_key_values.*, attention_mask and position_ids. */
  feeds(count: number): Record<string, Tensor> {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    const total = this.length + count;
    if (total > maxPositions) throw new Error(`context overflow: ${total} > ${maxPositions} positions`);
    this.fit(total);
    const pastLength = this.length === 0 ? 0 : this.exactPast ? this.length : this.stride;
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const buffer = this.buffers[2 * layer + kind];
        const data = pastLength === 0 ? new Float32Array(0) : pastLength === this.stride ? buffer.subarray(0, nHead * this.stride * headDim) : this.compact(buffer);
        feeds[`past_key_values.${layer}.${name}`] = new Tensor('float32', data, [1, nHead, pastLength, headDim]);
      }
    }
    // [1, past + count]: 1 for real past positions, 0 for stale slots, 1 for the new tokens
    const mask = new BigInt64Array(pastLength + count);
    mask.fill(1n, 0, this.length);
    mask.fill(1n, pastLength);
    const positions = BigInt64Array.from({ length: count }, (_, i) => BigInt(this.length + i));
    feeds.attention_mask = new Tensor('int64', mask, [1, mask.length]);
    feeds.position_ids = new Tensor('int64', positions, [1, count]);
    return feeds;
  }

  /**
   * Stores the new tokens' keys/values: `present_new.{layer}.{key|value}` [1, nHead, count, headDim] from a lean
   * graph, or, from a graph run as shipped (`present.*` [1, nHead, past + count, headDim]), the positions from
   * `offset` on, where the step's past ended.
   */
  append(ids: readonly number[], outputs: Record<string, Tensor>, { prefix, offset } = { prefix: 'present_new', offset: 0 }): void {
    const { nLayer, nHead, headDim } = this.shape;
    const count = ids.length;
    if (this.length + count > this.stride) this.fit(this.length + count);
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const present = outputs[`${prefix}.${layer}.${name}`];
        const src = present.data as Float32Array;
        const positions = Number(present.dims[2]);
        const dst = this.buffers[2 * layer + kind];
        for (let h = 0; h < nHead; h++) {
          const from = (h * positions + offset) * headDim;
          dst.set(src.subarray(from, from + count * headDim), (h * this.stride + this.length) * headDim);
        }
      }
    }
    this.ids.push(...ids);
  }

  /** [nHead, stride, headDim] -> [nHead, length, headDim] */
  private compact(buffer: Float32Array): Float32Array {
    const { nHead, headDim } = this.shape;
    const out = new Float32Array(nHead * this.length * headDim);
    for (let h = 0; h < nHead; h++) {
      out.set(buffer.subarray(h * this.stride * headDim, (h * this.stride + this.length) * headDim), h * this.length * headDim);
    }
    return out;
  }

  /**
   * Lays the buffers out for `total` positions: whole chunks, so that typing and generating re-lay them out
   * once per chunk, not per token. Shrinks only when more than a chunk would stay unused, so a request that
   * generates across a chunk boundary and is then truncated back does not re-lay out twice per keystroke.
   */
  private fit(total: number): void {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    const stride = slotsFor(total, maxPositions, this.chunk);
    if (stride <= this.stride && stride >= this.stride - this.chunk) return;
    const floats = nHead * stride * headDim;
    if (this.buffers.length > 0 && this.buffers[0].length >= floats) {
      for (const buffer of this.buffers) this.moveHeads(buffer, buffer, stride);
    } else {
      // Fresh memory costs a page fault per 4 KB page, several times the copy itself: grow by doubling,
      // so a cache that grows to n positions allocates about log2(n / chunk) times, not n / chunk times.
      const oldCapacity = this.buffers.length > 0 ? this.buffers[0].length / (nHead * headDim) : 0;
      const capacity = Math.min(maxPositions, Math.max(stride, 2 * oldCapacity));
      this.buffers = Array.from({ length: 2 * nLayer }, (_, i) => {
        const grown = new Float32Array(nHead * capacity * headDim);
        if (this.buffers[i]) this.moveHeads(this.buffers[i], grown, stride);
        return grown;
      });
    }
    this.stride = stride;
  }

  /**
   * Copies each head's `length` positions from the current layout into one with `stride` positions per head.
   * In place, heads move right when growing and left when shrinking: order them so that no head is written
   * over before it has moved (copyWithin itself handles a head overlapping its own old place).
   */
  private moveHeads(from: Float32Array, to: Float32Array, stride: number): void {
    const { nHead, headDim } = this.shape;
    const used = this.length * headDim;
    if (used === 0) return;
    for (let i = 0; i < nHead; i++) {
      const h = stride > this.stride ? nHead - 1 - i : i;
      const source = h * this.stride * headDim;
      if (from === to) to.copyWithin(h * stride * headDim, source, source + used);
      else to.set(from.subarray(source, source + used), h * stride * headDim);
    }
  }
}
