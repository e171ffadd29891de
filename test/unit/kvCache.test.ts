// The cache's buffer layout: how many slots ONNX Runtime reads per head, when the heads are re-laid out,
// and that every kept key/value survives each re-layout. (kvReuse.test.ts checks the same end to end,
// through the model's logits.)
import * as assert from 'node:assert/strict';
import { Tensor } from 'onnxruntime-node';
import { KvCache } from '../../src/worker/engine/kvCache';

const shape = { nLayer: 1, nHead: 3, headDim: 2, maxPositions: 64 };
const CHUNK = 4;

/** A value no other (position, head, dim, kind) has, so a misplaced copy cannot go unnoticed. */
const valueAt = (position: number, head: number, dim: number, kind: number) => 1000 * position + 10 * head + dim + kind / 2;

/** Appends positions [from, to) as the model would return them: present_new [1, nHead, count, headDim]. */
function appendPositions(cache: KvCache, from: number, to: number): void {
  const count = to - from;
  const present: Record<string, Tensor> = {};
  for (const [kind, name] of ['key', 'value'].entries()) {
    const data = new Float32Array(shape.nHead * count * shape.headDim);
    for (let h = 0; h < shape.nHead; h++) {
      for (let i = 0; i < count; i++) for (let d = 0; d < shape.headDim; d++) data[(h * count + i) * shape.headDim + d] = valueAt(from + i, h, d, kind);
    }
    present[`present_new.0.${name}`] = new Tensor('float32', data, [1, shape.nHead, count, shape.headDim]);
  }
  cache.feeds(count);
  cache.append(Array.from({ length: count }, (_, i) => from + i), present);
}

/** The past ONNX Runtime gets for one more token, checked position by position against what was appended. */
function expectPastHoldsEveryToken(cache: KvCache): Tensor {
  const feeds = cache.feeds(1);
  for (const [kind, name] of ['key', 'value'].entries()) {
    const past = feeds[`past_key_values.0.${name}`];
    const slots = past.dims[2];
    assert.equal(slots, cache.slotsPerHead);
    const data = past.data as Float32Array;
    for (let h = 0; h < shape.nHead; h++) {
      for (let p = 0; p < cache.length; p++) {
        for (let d = 0; d < shape.headDim; d++) assert.equal(data[(h * slots + p) * shape.headDim + d], valueAt(p, h, d, kind), `${name} head ${h} position ${p} dim ${d}`);
      }
    }
  }
  const mask = feeds.attention_mask.data as BigInt64Array;
  assert.deepEqual([...mask].map(Number), [...Array(cache.length).fill(1), ...Array(cache.slotsPerHead - cache.length).fill(0), 1]);
  return feeds['past_key_values.0.key'];
}

describe('KV cache layout', () => {
  it('reads whole chunks per head, and keeps every key and value as the chunks grow one by one', () => {
    const cache = new KvCache(shape, false, CHUNK);
    for (let n = 1; n <= 23; n++) {
      appendPositions(cache, n - 1, n);
      expectPastHoldsEveryToken(cache);
      assert.equal(cache.slotsPerHead, Math.ceil((n + 1) / CHUNK) * CHUNK);
    }
  });

  it('reads fewer slots again once the tokens shrink well below them, with the kept ones intact', () => {
    const cache = new KvCache(shape, false, CHUNK);
    appendPositions(cache, 0, 40);
    cache.truncate(5);
    expectPastHoldsEveryToken(cache);
    assert.equal(cache.slotsPerHead, 8, 'a 6-token step reads 2 chunks, not the 11 the long prompt needed');
  });

  it('keeps its layout while a request generates across a chunk boundary and is truncated back', () => {
    const cache = new KvCache(shape, false, CHUNK);
    appendPositions(cache, 0, 10); // 10 tokens + 1: 12 slots
    appendPositions(cache, 10, 15); // generated across the boundary: 16 slots
    assert.equal(cache.slotsPerHead, 16);
    cache.truncate(10); // the next keystroke's prompt
    expectPastHoldsEveryToken(cache);
    assert.equal(cache.slotsPerHead, 16, 'one spare chunk is kept rather than re-laid out per keystroke');
  });

  it('grows its memory by doubling, and re-lays out in place while that memory suffices', () => {
    const cache = new KvCache(shape, false, CHUNK);
    appendPositions(cache, 0, 10); // 12 slots: allocates room for 12
    appendPositions(cache, 10, 14); // 16 slots: allocates room for 24
    const allocated = expectPastHoldsEveryToken(cache).data as Float32Array;
    appendPositions(cache, 14, 20); // 24 slots
    const grown = expectPastHoldsEveryToken(cache).data as Float32Array;
    cache.truncate(2);
    const shrunk = expectPastHoldsEveryToken(cache).data as Float32Array;
    assert.equal(grown.buffer, allocated.buffer);
    assert.equal(shrunk.buffer, allocated.buffer);
    assert.equal(shrunk.length, shape.nHead * 4 * shape.headDim, 'ONNX Runtime gets a view of the slots in use, not the whole buffer');
  });

  it('clear() forgets the tokens and the next prompt starts from an empty past', () => {
    const cache = new KvCache(shape, false, CHUNK);
    appendPositions(cache, 0, 30);
    cache.clear();
    const feeds = cache.feeds(3);
    assert.deepEqual(feeds['past_key_values.0.value'].dims, [1, shape.nHead, 0, shape.headDim]);
    appendPositions(cache, 0, 3);
    expectPastHoldsEveryToken(cache);
    assert.equal(cache.slotsPerHead, 4);
  });

  it('an exact-past model gets exactly the tokens, whatever the layout', () => {
    const cache = new KvCache(shape, true, CHUNK);
    appendPositions(cache, 0, 13);
    cache.truncate(7);
    const past = cache.feeds(1)['past_key_values.0.key'];
    assert.deepEqual(past.dims, [1, shape.nHead, 7, shape.headDim]);
    const data = past.data as Float32Array;
    assert.equal(data[(2 * 7 + 6) * shape.headDim + 1], valueAt(6, 2, 1, 0));
  });
});
