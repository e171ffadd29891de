import * as assert from 'node:assert/strict';
import type { SamplingOptions } from '../../src/protocol';
import { argmax, Sampler, sampleToken, softmax, tokenProbability, topK, topPCount } from '../../src/worker/engine/sampler';
import * as reference from '../oracle/samplerReference';
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

describe('Sampler', () => {
  const COMBOS: SamplingOptions[] = [];
  // The reference sorts the whole vocabulary for top-k 0, so the grid is kept small enough to run in seconds.
  for (const topK of [0, 1, 2, 50, 1000])
    for (const topP of [1, 0.9, 0.3])
      for (const temperature of [0, 0.3, 1, 1.6]) COMBOS.push({ topK, topP, temperature });
  COMBOS.push({ topK: VOCAB, topP: 0.95, temperature: 0.7 }, { topK: 40, topP: 0.01, temperature: 1 });

  /** Real logits are peaked; a flat and a masked (token-healing) case cover the long tail and -Infinity. */
  const LOGITS = [
    randomLogits(11),
    randomLogits(12).map((x) => x / 10),
    (() => {
      const masked = new Float32Array(VOCAB).fill(-Infinity);
      for (const id of [5, 17, 300, 301, 40000]) masked[id] = id % 7;
      return masked;
    })(),
    (() => {
      const ties = new Float32Array(VOCAB).fill(0);
      ties[9] = 2;
      return ties;
    })(),
  ];

  it('draws exactly the tokens the old sampleToken drew, for fixed seeds, across top-k/top-p/temperature', () => {
    for (const options of COMBOS) {
      const sampler = new Sampler(options, mulberry32(99));
      const oldRng = mulberry32(99);
      for (let step = 0; step < 12; step++) {
        const logits = LOGITS[step % LOGITS.length];
        const expected = reference.sampleToken(logits, options, oldRng);
        assert.equal(sampler.sample(logits), expected, `${JSON.stringify(options)} step ${step}`);
      }
    }
  });

  it('seeds its own RNG from options.seed', () => {
    const options = { topK: 0, topP: 1, temperature: 1, seed: 7 };
    const logits = LOGITS[1];
    const a = new Sampler(options);
    const b = new Sampler(options);
    const old = mulberry32(7);
    for (let i = 0; i < 20; i++) {
      const expected = reference.sampleToken(logits, options, old);
      assert.equal(a.sample(logits), expected);
      assert.equal(b.sample(logits), expected);
    }
  });

  it('allocates no typed array per token once the first token has sized its buffers', () => {
    for (const options of [
      { topK: 50, topP: 1, temperature: 1 },
      { topK: 0, topP: 1, temperature: 1 },
      { topK: 0, topP: 0.9, temperature: 0.8 },
      { topK: 1000, topP: 0.5, temperature: 1.2 },
    ]) {
      const sampler = new Sampler(options, mulberry32(3));
      sampler.sample(LOGITS[0]);
      assert.equal(countTypedArrays(() => LOGITS.forEach((logits) => sampler.sample(logits))), 0, JSON.stringify(options));
    }
  });
});

/** How many typed arrays `run` creates (new X, X.from, X.of), by standing in for the global constructors meanwhile. */
function countTypedArrays(run: () => void): number {
  const names = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint32Array'] as const;
  const globals = globalThis as unknown as Record<string, unknown>;
  const saved = names.map((name) => globals[name] as Float32ArrayConstructor);
  let count = 0;
  names.forEach((name, i) => {
    globals[name] = new Proxy(saved[i], {
      construct: (target, args, newTarget) => (count++, Reflect.construct(target, args, newTarget)),
      get: (target, key, receiver) =>
        key === 'from' || key === 'of'
          ? (...args: unknown[]) => (count++, (Reflect.get(target, key) as (...a: unknown[]) => unknown).apply(target, args))
          : Reflect.get(target, key, receiver),
    });
  });
  try {
    run();
  } finally {
    names.forEach((name, i) => (globals[name] = saved[i]));
  }
  return count;
}
