import * as assert from 'node:assert/strict';
import { argmax, sampleToken, softmax, tokenProbability, topK, topPCount } from '../../src/worker/engine/sampler';
import { mulberry32 } from '../../src/worker/rng';

const VOCAB = 50257;

function randomLogits(seed: number, n = VOCAB): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() - 0.5) * 20);
}

describe('sampler', () => {
  it('top-k returns exactly the k largest logits, best first', () => {
    const logits = randomLogits(1);
    const expected = Array.from(logits, (logit, id) => ({ id, logit }))
      .sort((a, b) => b.logit - a.logit)
      .slice(0, 50)
      .map((c) => c.id);
    assert.deepEqual(topK(logits, 50).map((c) => c.id), expected);
  });

  it('top-k keeps exactly k when logits tie at the threshold', () => {
    const logits = new Float32Array(100).fill(1);
    logits[7] = 5;
    const kept = topK(logits, 3);
    assert.deepEqual(kept.map((c) => c.id), [7, 0, 1]);
  });

  it('top-k 0 (and k >= vocab) keeps every token', () => {
    const logits = randomLogits(2, 1000);
    assert.equal(topK(logits, 0).length, 1000);
    assert.equal(topK(logits, 5000).length, 1000);
  });

  it('top-k 1 and temperature 0 are greedy and deterministic', () => {
    const logits = randomLogits(3);
    const best = argmax(logits);
    for (let seed = 0; seed < 20; seed++) {
      assert.equal(sampleToken(logits, { topK: 1, topP: 1, temperature: 1 }, mulberry32(seed)), best);
      assert.equal(sampleToken(logits, { topK: 50, topP: 1, temperature: 0 }, mulberry32(seed)), best);
    }
  });

  it('the same seed reproduces the same samples; another seed does not', () => {
    const logits = randomLogits(4).map((x) => x / 10); // flatter, so samples vary
    const draw = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 50 }, () => sampleToken(logits, { topK: 50, topP: 1, temperature: 1 }, rng));
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('never samples outside the k best', () => {
    const rng = mulberry32(5);
    for (let trial = 0; trial < 200; trial++) {
      const logits = randomLogits(100 + trial).map((x) => x / 8);
      const allowed = new Set(topK(logits, 10).map((c) => c.id));
      assert.ok(allowed.has(sampleToken(logits, { topK: 10, topP: 1, temperature: 1.5 }, rng)));
    }
  });

  it('samples in proportion to softmax probabilities', () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
    const counts = [0, 0, 0];
    const rng = mulberry32(6);
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { topK: 0, topP: 1, temperature: 1 }, rng)]++;
    assert.ok(Math.abs(counts[0] / 20000 - 0.5) < 0.02, `${counts}`);
    assert.ok(Math.abs(counts[2] / 20000 - 0.2) < 0.02, `${counts}`);
  });

  it('top-p keeps the shortest prefix reaching p, never nothing', () => {
    const probs = softmax(
      [0.5, 0.3, 0.15, 0.05].map((p, id) => ({ id, logit: Math.log(p) })),
      1,
    );
    assert.equal(topPCount(probs, 0.5), 1);
    assert.equal(topPCount(probs, 0.79), 2);
    assert.equal(topPCount(probs, 0.81), 3);
    assert.equal(topPCount(probs, 1e-6), 1);
    assert.equal(topPCount(probs, 1), 4);
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
    const rng = mulberry32(7);
    for (let i = 0; i < 500; i++) assert.ok(sampleToken(logits, { topK: 0, topP: 0.7, temperature: 1 }, rng) < 2);
  });

  it('tokenProbability is the full-vocabulary softmax after temperature, greedy counting as 1', () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2), -Infinity]);
    assert.ok(Math.abs(tokenProbability(logits, 1, 1) - 0.3) < 1e-6);
    assert.ok(Math.abs(tokenProbability(logits, 1, 0) - 0.3) < 1e-6);
    assert.ok(Math.abs(tokenProbability(logits, 0, 0.5) - 0.25 / 0.38) < 1e-6);
    assert.equal(tokenProbability(logits, 3, 1), 0);
    const random = randomLogits(3, 500);
    const total = Array.from(random, (_, i) => tokenProbability(random, i, 0.7)).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-6, String(total));
  });
});
