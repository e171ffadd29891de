// The past of B rows that continue one prompt (the alternatives of one request), for batched decode steps.
// All rows share ONE sequence of slots: [prompt | step 1: row 0 .. row B-1 | step 2: row 0 .. | ...], laid out
// [1, nHead, stride, headDim] per layer and kind and fed as the past with batch 1, while input_ids,
// attention_mask and position_ids have B rows. The engine's graph attends to the past and the new keys as two
// blocks, so ONNX MatMul broadcasts the past over the rows: a step reads the prompt's keys and values once for
// every row, where a copy per row would read them B times (2x the time of one row at 512 tokens of context).
// Each row's attention_mask row shows the prompt and that row's own slots only. A row that finishes leaves the
// batch without any copy: its slots stay, hidden from everyone. Slots past `length` are stale and masked, as in
// KvCache. The single-row KvCache is only read, so after the request it still holds the prompt.
import { Tensor } from 'onnxruntime-node';
import { slotsFor, type CacheShape, type KvCache } from './kvCache';

/** The owner of the prompt's slots: every row sees them. */
const PROMPT = -1;

export class BatchKvCache {
  private promptLength = 0;
  private generated = 0; // steps so far: every live row holds this many positions after the prompt
  private stride = 0;
  private owners: number[] = []; // per slot in use: the row id that wrote it, or PROMPT
  private rowIds: number[] = []; // batch row -> row id (ids stay when rows move, so owners stay true)
  private buffers: Float32Array[] = []; // index 2 * layer + (0 key | 1 value); kept between requests, may be longer than in use

  constructor(readonly shape: CacheShape) {}

  get rows(): number {
    return this.rowIds.length;
  }

  /** `rows` rows continue what `cache` holds, with room for `positions` positions each. */
  start(cache: KvCache, rows: number, positions: number): void {
    const { nLayer, nHead, headDim } = this.shape;
    this.promptLength = cache.length;
    this.owners = new Array<number>(cache.length).fill(PROMPT);
    this.rowIds = Array.from({ length: rows }, (_, r) => r);
    this.generated = 0;
    this.layout(this.slotsFor(cache.length + rows * Math.max(1, positions - cache.length)), false);
    for (let index = 0; index < 2 * nLayer; index++) {
      for (let h = 0; h < nHead; h++) this.buffers[index].set(cache.headPositions(index, h), h * this.stride * headDim);
    }
  }

  /** Inputs for a step that feeds one token per row: past_key_values.* [1, ...], attention_mask [B, T], position_ids [B, 1]. */
  feeds(): Record<string, Tensor> {
    const { nLayer, nHead, headDim, maxPositions } = this.shape;
    const position = this.promptLength + this.generated; // every row's next position
    if (position + 1 > maxPositions) throw new Error(`context overflow: ${position + 1} > ${maxPositions} positions`);
    const rows = this.rows;
    if (this.owners.length + rows > this.stride) this.layout(this.slotsFor(this.owners.length + rows), true);
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < nLayer; layer++) {
      for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
        const data = this.buffers[2 * layer + kind].subarray(0, nHead * this.stride * headDim);
        feeds[`past_key_values.${layer}.${name}`] = new Tensor('float32', data, [1, nHead, this.stride, headDim]);
      }
    }
    const width = this.stride + 1; // per row: 1 for the prompt and its own slots, 0 for others' and stale ones, 1 for the new token
    const mask = new BigInt64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const id = this.rowIds[r];
      mask.fill(1n, r * width, r * width + this.promptLength);
      for (let slot = this.promptLength; slot < this.owners.length; slot++) if (this.owners[slot] === id) mask[r * width + slot] = 1n;
      mask[r * width + this.stride] = 1n;
    }
    feeds.attention_mask = new Tensor('int64', mask, [rows, width]);
    feeds.position_ids = new Tensor('int64', new BigInt64Array(rows).fill(BigInt(position)), [rows, 1]);
    return feeds;
  }

  /** Stores each row's new key/value (`present_new.*` [B, nHead, 1, headDim]) in the next B slots. */
  append(outputs: Record<string, Tensor>): void {
    const { nLayer, nHead, headDim } = this.shape;
    const rows = this.rows;
    const first = this.owners.length;
    for (let index = 0; index < 2 * nLayer; index++) {
      const src = outputs[`present_new.${index >> 1}.${index & 1 ? 'value' : 'key'}`].data as Float32Array;
      const dst = this.buffers[index];
      for (let r = 0; r < rows; r++) {
        for (let h = 0; h < nHead; h++) {
          const from = (r * nHead + h) * headDim;
          dst.set(src.subarray(from, from + headDim), (h * this.stride + first + r) * headDim);
        }
      }
    }
    this.owners.push(...this.rowIds);
    this.generated++;
  }

  /** Row `row` leaves the batch; the last row takes its index. Nothing is copied: its slots stay, masked. */
  drop(row: number): void {
    const last = this.rows - 1;
    if (row < 0 || row > last) throw new Error(`no row ${row} in a batch of ${this.rows}`);
    this.rowIds[row] = this.rowIds[last];
    this.rowIds.pop();
  }

  /** Slots are not positions (B of them per step), so they are not bounded by the model's window. */
  private slotsFor(slots: number): number {
    return slotsFor(slots, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Lays the buffers out with `stride` slots per head, keeping the memory of earlier requests when it is large
   * enough (fresh memory costs a page fault per 4 KB page). `keep`: move the slots in use into the new layout.
   */
  private layout(stride: number, keep: boolean): void {
    const { nLayer, nHead, headDim } = this.shape;
    const floats = nHead * stride * headDim;
    const old = this.buffers;
    const oldStride = this.stride;
    const fresh = old.length === 0 || old[0].length < floats || (keep && stride > oldStride);
    if (fresh) this.buffers = Array.from({ length: 2 * nLayer }, () => new Float32Array(floats));
    this.stride = stride;
    if (!keep) return;
    const used = this.owners.length * headDim;
    for (let index = 0; index < 2 * nLayer; index++) {
      for (let h = nHead - 1; h >= 0; h--) this.buffers[index].set(old[index].subarray(h * oldStride * headDim, h * oldStride * headDim + used), h * stride * headDim);
    }
  }
}
