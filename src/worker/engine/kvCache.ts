// The past key/values of the tokens the model has already seen, kept in the engine's own buffers.
// Layout per layer and kind (key/value): [nHead, stride, headDim], where `stride` is the capacity per head,
// rounded up to a chunk. The whole buffer goes to ONNX Runtime as the past input (a zero-copy view);
// slots past `length` are stale and hidden by zeros in the attention mask. So truncating the cache to a
// common prefix costs nothing, and the buffers are re-laid out only when the capacity grows by a chunk.
// Models without a position_ids input take positions from the past's length, so for them (`exactPast`)
// each step gets a compact copy of exactly `length` positions instead: correct, at one cache copy per step.
import { Tensor } from 'onnxruntime-node';

export interface CacheShape {
  nLayer: number;
  nHead: number;
  headDim: number;
  maxPositions: number; // the model's n_positions
}

export class KvCache {
  private ids: number[] = [];
  private stride = 0;
  private buffers: Float32Array[] = []; // index 2 * layer + (0 key | 1 value)

  constructor(
    readonly shape: CacheShape,
    private readonly exactPast = false,
    private readonly chunk = 64,
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

  clear(): void {
    this.ids = [];
    this.stride = 0;
    this.buffers = [];
  }

  /** Inputs for a step that feeds `count` new tokens: past_key_values.*, attention_mask and position_ids. */
  feeds(count: number): Record<string, Tensor> {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    const total = this.length + count;
    if (total > maxPositions) throw new Error(`context overflow: ${total} > ${maxPositions} positions`);
    this.reserve(total);
    const pastLength = this.length === 0 ? 0 : this.exactPast ? this.length : this.stride;
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const buffer = this.buffers[2 * layer + kind];
        const data = pastLength === 0 ? new Float32Array(0) : pastLength === this.stride ? buffer : this.compact(buffer);
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

  /** Stores the new tokens' keys/values (`present_new.{layer}.{key|value}`, [1, nHead, count, headDim]). */
  append(ids: readonly number[], presentNew: Record<string, Tensor>): void {
    const { nLayer, nHead, headDim } = this.shape;
    const count = ids.length;
    this.reserve(this.length + count);
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const src = presentNew[`present_new.${layer}.${name}`].data as Float32Array;
        const dst = this.buffers[2 * layer + kind];
        for (let h = 0; h < nHead; h++) {
          dst.set(src.subarray(h * count * headDim, (h + 1) * count * headDim), (h * this.stride + this.length) * headDim);
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

  private reserve(total: number): void {
    if (total <= this.stride) return;
    const { nHead, headDim, maxPositions } = this.shape;
    const stride = Math.min(maxPositions, Math.ceil(total / this.chunk) * this.chunk);
    this.buffers = Array.from({ length: 2 * this.shape.nLayer }, (_, i) => {
      const grown = new Float32Array(nHead * stride * headDim);
      const old = this.buffers[i];
      if (old) {
        for (let h = 0; h < nHead; h++) {
          grown.set(old.subarray(h * this.stride * headDim, (h * this.stride + this.length) * headDim), h * stride * headDim);
        }
      }
      return grown;
    });
    this.stride = stride;
  }
}
