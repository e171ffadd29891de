// The past of B rows that continue one prompt (the alternatives of one request), for batched decode steps.
// Per layer and kind (key/value) one buffer laid out [rows, nHead, stride, headDim], whose first
// rows * nHead * stride * headDim floats go to ONNX Runtime as the past input [B, nHead, stride, headDim]
// (a zero-copy view). Every row starts as a copy of the single-row cache's prompt (broadcast) and all rows grow
// by one position per step, so they share one length, one mask row and one position; slots past `length` are
// stale and masked, as in KvCache. A row that finishes leaves the batch: the last row is copied into its place.
// The single-row KvCache is only read, so after the request it still holds the prompt for the next request.
import { Tensor } from 'onnxruntime-node';
import { slotsFor, type CacheShape, type KvCache } from './kvCache';

export class BatchKvCache {
  private rowCount = 0;
  private length = 0;
  private stride = 0;
  private buffers: Float32Array[] = []; // index 2 * layer + (0 key | 1 value); kept between requests, may be longer than in use

  constructor(readonly shape: CacheShape) {}

  get rows(): number {
    return this.rowCount;
  }

  /** Positions every row holds. */
  get positions(): number {
    return this.length;
  }

  /** Every row becomes a copy of what `cache` holds, laid out with room for `positions` in all. */
  broadcast(cache: KvCache, rows: number, positions: number): void {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    this.rowCount = rows;
    this.length = cache.length;
    this.layout(slotsFor(Math.max(positions, cache.length + 1), maxPositions), false);
    for (let index = 0; index < 2 * nLayer; index++) {
      const buffer = this.buffers[index];
      for (let h = 0; h < nHead; h++) {
        const prompt = cache.headPositions(index, h);
        for (let r = 0; r < rows; r++) buffer.set(prompt, (r * nHead + h) * this.stride * headDim);
      }
    }
  }

  /** Inputs for a step that feeds one token per row: past_key_values.*, attention_mask [B, T], position_ids [B, 1]. */
  feeds(): Record<string, Tensor> {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    if (this.length + 1 > maxPositions) throw new Error(`context overflow: ${this.length + 1} > ${maxPositions} positions`);
    if (this.length + 1 > this.stride) this.layout(slotsFor(this.length + 1, maxPositions), true);
    const rows = this.rowCount;
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const data = this.buffers[2 * layer + kind].subarray(0, rows * nHead * this.stride * headDim);
        feeds[`past_key_values.${layer}.${name}`] = new Tensor('float32', data, [rows, nHead, this.stride, headDim]);
      }
    }
    const width = this.stride + 1; // per row: 1 for the real past, 0 for stale slots, 1 for the new token
    const mask = new BigInt64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      mask.fill(1n, r * width, r * width + this.length);
      mask[r * width + this.stride] = 1n;
    }
    feeds.attention_mask = new Tensor('int64', mask, [rows, width]);
    feeds.position_ids = new Tensor('int64', new BigInt64Array(rows).fill(BigInt(this.length)), [rows, 1]);
    return feeds;
  }

  /**
   * Stores each row's new key/value: `present_new.*` [B, nHead, 1, headDim] from a lean graph, or from a graph as
   * shipped `present.*` [B, nHead, past + 1, headDim], the position at `offset`.
   */
  append(outputs: Record<string, Tensor>, { prefix, offset } = { prefix: 'present_new', offset: 0 }): void {
    const { nLayer, nHead, headDim } = this.shape;
    for (let index = 0; index < 2 * nLayer; index++) {
      const present = outputs[`${prefix}.${index >> 1}.${index & 1 ? 'value' : 'key'}`];
      const src = present.data as Float32Array;
      const positions = Number(present.dims[2]);
      const dst = this.buffers[index];
      for (let rh = 0; rh < this.rowCount * nHead; rh++) {
        const from = (rh * positions + offset) * headDim;
        dst.set(src.subarray(from, from + headDim), (rh * this.stride + this.length) * headDim);
      }
    }
    this.length++;
  }

  /** Row `row` leaves the batch; the last row moves into its place (only the positions in use are copied). */
  drop(row: number): void {
    const { nHead, headDim } = this.shape;
    const last = this.rowCount - 1;
    if (row < 0 || row > last) throw new Error(`no row ${row} in a batch of ${this.rowCount}`);
    if (row !== last) {
      for (const buffer of this.buffers) {
        for (let h = 0; h < nHead; h++) {
          const from = (last * nHead + h) * this.stride * headDim;
          buffer.copyWithin((row * nHead + h) * this.stride * headDim, from, from + this.length * headDim);
        }
      }
    }
    this.rowCount--;
  }

  /**
   * Lays the buffers out with `stride` slots per head, keeping the memory of earlier requests when it is large
   * enough (fresh memory costs a page fault per 4 KB page). `keep`: move the rows' positions into the new layout.
   */
  private layout(stride: number, keep: boolean): void {
    const { nLayer, nHead, headDim } = this.shape;
    const floats = this.rowCount * nHead * stride * headDim;
    const old = this.buffers;
    const oldStride = this.stride;
    const fresh = old.length === 0 || old[0].length < floats || (keep && stride > oldStride);
    if (fresh) this.buffers = Array.from({ length: 2 * nLayer }, () => new Float32Array(floats));
    this.stride = stride;
    if (!keep) return;
    for (let index = 0; index < 2 * nLayer; index++) {
      for (let rh = this.rowCount * nHead - 1; rh >= 0; rh--) {
        const from = rh * oldStride * headDim;
        this.buffers[index].set(old[index].subarray(from, from + this.length * headDim), rh * stride * headDim);
      }
    }
  }
}
