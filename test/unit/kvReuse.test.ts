// Reused-cache logits must equal recomputed logits: random edit sequences (append, delete, replace,
// jumps across the 64-slot chunks and the 256-token prefill slices) on the tiny fp32 model.
import * as assert from 'node:assert/strict';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { mulberry32 } from '../../src/worker/rng';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { expectReuseMatchesRecomputation } from '../support/reuseAcrossEdits';
import { tinyModelDir } from '../support/tinyModel';

describe('KV cache reuse', function () {
  this.timeout(120_000);
  let reusing: LoadedModel;
  let fresh: LoadedModel;

  before(async () => {
    const folder = await tinyModelDir();
    const request = { folder, name: 'tiny', dtype: 'fp32' as const, device: 'cpu' as const, threads: 1 };
    [reusing, fresh] = [await loadModel(request), await loadModel(request)];
  });
  after(async () => {
    await reusing?.dispose();
    await fresh?.dispose();
  });

  async function recomputed(ids: number[]): Promise<Float32Array> {
    fresh.decoder.reset();
    return Float32Array.from((await fresh.decoder.prefill(ids))!.logits);
  }

  it('equals a full recomputation across random edit sequences', async () => {
    const { worst, reused } = await expectReuseMatchesRecomputation(reusing.decoder, fresh.decoder, { seed: 2024, steps: 120, tolerance: 1e-4 });
    assert.ok(reused > 1000, `the cache was actually reused (${reused} tokens)`);
    console.log(`      worst |diff| ${worst.toExponential(2)}, ${reused} tokens reused`);
  });

  it('decoding token by token after a reused prefix equals recomputation', async () => {
    const rng = mulberry32(7);
    const ids = Array.from({ length: 60 }, () => Math.floor(rng() * 50257));
    await reusing.decoder.prefill(ids.slice(0, 30));
    let logits!: Float32Array;
    for (const id of ids.slice(30)) logits = await reusing.decoder.forward([id]);
    assert.ok(maxAbsDiff(logits, await recomputed(ids)) < 1e-4);
  });

  it('an identical prompt runs no model step', async () => {
    const ids = [464, 2068, 7586, 21831];
    const first = Float32Array.from((await reusing.decoder.prefill(ids))!.logits);
    const again = await reusing.decoder.prefill(ids);
    assert.equal(again!.reused, ids.length);
    assert.equal(maxAbsDiff(first, again!.logits), 0);
  });

  it('refuses to overflow the context window', async () => {
    reusing.decoder.reset();
    await assert.rejects(reusing.decoder.prefill(Array(1025).fill(1)), /context overflow: 1025 > 1024/);
  });
});
