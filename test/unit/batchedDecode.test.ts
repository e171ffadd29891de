// Batched decoding on the lean graph (tiny fp32 model): the prompt's cache broadcast to B rows, one token per
// row per step, must give each row the logits that row gets decoded alone, and leave the single-row cache
// holding the prompt for the next request's prefix reuse.
import * as assert from 'node:assert/strict';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { mulberry32 } from '../../src/worker/rng';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { tinyModelDir } from '../support/tinyModel';

describe('batched decoding (B rows in one step)', function () {
  this.timeout(120_000);
  let batched: LoadedModel;
  let reference: LoadedModel;

  before(async () => {
    const folder = await tinyModelDir();
    const request = { folder, name: 'tiny', dtype: 'fp32' as const, device: 'cpu' as const, threads: 1 };
    [batched, reference] = [await loadModel(request), await loadModel(request)];
  });
  after(async () => {
    await batched?.dispose();
    await reference?.dispose();
  });

  const randomIds = (seed: number, n: number) => {
    const rng = mulberry32(seed);
    return Array.from({ length: n }, () => Math.floor(rng() * 50257));
  };

  /** The logits after `ids`, computed from scratch by the reference model (batch 1). */
  async function alone(ids: number[]): Promise<Float32Array> {
    reference.decoder.reset();
    return Float32Array.from((await reference.decoder.prefill(ids))!.logits);
  }

  it('gives every row the logits of that row decoded alone (within 1e-4), across a chunk boundary', async () => {
    const prompt = randomIds(1, 58); // 58 + 12 crosses the 64-slot chunk the rows start in
    await batched.decoder.prefill(prompt);
    const rows = [randomIds(2, 12), randomIds(3, 12), randomIds(4, 12)];
    const batch = batched.decoder.batch(3, prompt.length + 4);
    let worst = 0;
    for (let step = 0; step < 12; step++) {
      const logits = await batch.forward(rows.map((r) => r[step]));
      assert.equal(logits.length, 3);
      for (let r = 0; r < 3; r++) {
        const diff = maxAbsDiff(logits[r], await alone([...prompt, ...rows[r].slice(0, step + 1)]));
        worst = Math.max(worst, diff);
        assert.ok(diff < 1e-4, `step ${step}, row ${r}: max |diff| ${diff}`);
      }
    }
    assert.ok(maxAbsDiff((await batch.forward([1, 2, 3]))[0], (await batch.forward([1, 2, 3]))[1]) > 1e-3, 'the rows really differ');
    console.log(`      worst |diff| ${worst.toExponential(2)}`);
  });

  it('the rows share one past of batch 1: the prompt is held once, and each step adds one slot per row', async () => {
    const prompt = randomIds(12, 40);
    await batched.decoder.prefill(prompt);
    const session = (batched.decoder as unknown as { session: { run: (feeds: Record<string, { dims: readonly number[] }>, ...rest: unknown[]) => unknown } }).session;
    const run = session.run;
    const seen: { past: readonly number[]; ids: readonly number[]; mask: readonly number[] }[] = [];
    session.run = function (feeds, ...rest) {
      seen.push({ past: feeds['past_key_values.0.key'].dims, ids: feeds.input_ids.dims, mask: feeds.attention_mask.dims });
      return run.call(this, feeds, ...rest);
    };
    try {
      const batch = batched.decoder.batch(3, prompt.length + 30);
      for (let step = 0; step < 30; step++) await batch.forward([step, step + 1, step + 2]);
    } finally {
      session.run = run;
    }
    assert.equal(seen.length, 30);
    seen.forEach((step, s) => {
      assert.equal(step.past[0], 1, 'past batch');
      assert.equal(step.ids[0], 3, 'input_ids batch');
      assert.deepEqual(step.mask, [3, step.past[2] + 1]);
      // laid out at the start for the prompt's 40 slots once and 3 per step, in whole chunks of 64
      assert.equal(step.past[2], Math.ceil((40 + 3 * 30) / 64) * 64, `slots at step ${s}`);
    });
  });

  it('a dropped row leaves the others decoding as before (the last row takes its place)', async () => {
    const prompt = randomIds(5, 9);
    await batched.decoder.prefill(prompt);
    const rows = [randomIds(6, 6), randomIds(7, 6), randomIds(8, 6)];
    const batch = batched.decoder.batch(3, prompt.length + 6);
    for (let step = 0; step < 3; step++) await batch.forward(rows.map((r) => r[step]));
    batch.drop(0); // row 2 is now row 0
    assert.equal(batch.rows, 2);
    const kept = [rows[2], rows[1]];
    for (let step = 3; step < 6; step++) {
      const logits = await batch.forward(kept.map((r) => r[step]));
      for (let r = 0; r < 2; r++) assert.ok(maxAbsDiff(logits[r], await alone([...prompt, ...kept[r].slice(0, step + 1)])) < 1e-4, `step ${step}, row ${r}`);
    }
  });

  it('a cache truncated back to the prompt without a model step (a sample that drew <|endoftext|> first) gives the prompt\'s logits again', async () => {
    const prompt = randomIds(10, 15);
    await batched.decoder.prefill(prompt);
    await batched.decoder.forward([11]);
    await batched.decoder.forward([12]);
    batched.decoder.cache.truncate(prompt.length); // what the samples one after another do before each sample
    const again = await batched.decoder.prefill(prompt);
    assert.ok(maxAbsDiff(again!.logits, await alone(prompt)) < 1e-4, 'not the logits after the truncated tokens');
  });

  it('leaves the single-row cache holding the prompt, which the next request reuses', async () => {
    const prompt = randomIds(9, 20);
    const first = Float32Array.from((await batched.decoder.prefill(prompt))!.logits);
    const batch = batched.decoder.batch(2, prompt.length + 5);
    for (let step = 0; step < 5; step++) await batch.forward([100 + step, 200 + step]);
    assert.deepEqual([...batched.decoder.cache.tokens], prompt);
    const again = await batched.decoder.prefill(prompt);
    assert.equal(again!.reused, prompt.length);
    assert.equal(maxAbsDiff(again!.logits, first), 0);
    const longer = [...prompt, 7, 8];
    const next = await batched.decoder.prefill(longer);
    assert.equal(next!.reused, prompt.length);
    assert.ok(maxAbsDiff(next!.logits, await alone(longer)) < 1e-4);
  });
});
