import * as assert from 'node:assert/strict';
import { NUMBER_RANGES } from '../../src/core/settings';
import type { GenerateOptions } from '../../src/protocol';
import { normalizeGenerateOptions } from '../../src/worker/engine/generateOptions';

const REQUEST: GenerateOptions = {
  prompt: 'Hello',
  maxNewTokens: 8,
  sampling: { topK: 50, topP: 1, temperature: 1 },
  stop: { atNewline: false, strings: [] },
  stream: false,
  samples: 1,
};

function normalize(sampling: Partial<GenerateOptions['sampling']>, extra: Partial<GenerateOptions> = {}) {
  return normalizeGenerateOptions({ ...REQUEST, ...extra, sampling: { ...REQUEST.sampling, ...sampling } }, 1024);
}

describe('normalizeGenerateOptions', () => {
  it('clamps sampling values to the same ranges as the settings, and says so', () => {
    const { options, notes } = normalize({ temperature: 5, topP: 0.0001, topK: 1e9 }, { minTokenProbability: 3 });
    assert.equal(options.sampling.temperature, NUMBER_RANGES.temperature.max);
    assert.equal(options.sampling.topP, NUMBER_RANGES.topP.min);
    assert.equal(options.sampling.topK, NUMBER_RANGES.topK.max);
    assert.equal(options.minTokenProbability, NUMBER_RANGES.minTokenProbability.max);
    assert.deepEqual(notes, ['topK 1000000000 clamped to 50257', 'topP 0.0001 clamped to 0.01', 'temperature 5 clamped to 2', 'minTokenProbability 3 clamped to 1']);
  });

  it('passes in-range values through untouched', () => {
    const { options, notes } = normalize({ temperature: 2, topP: 0.01, topK: 0, seed: 7 });
    assert.deepEqual(options.sampling, { topK: 0, topP: 0.01, temperature: 2, seed: 7 });
    assert.deepEqual(notes, []);
  });

  it('speculative decoding is on unless the request turns it off', () => {
    assert.equal(normalize({}).options.speculate, true);
    assert.equal(normalize({}, { speculate: false }).options.speculate, false);
  });

  it('refuses what cannot mean anything instead of crashing the worker', () => {
    assert.throws(() => normalize({ temperature: Number.NaN }), /temperature must be a number/);
    assert.throws(() => normalize({ topK: 'x' as unknown as number }), /topK must be a number/);
    assert.throws(() => normalizeGenerateOptions({ ...REQUEST, sampling: undefined } as unknown as GenerateOptions, 1024), /topK must be a number/);
    assert.throws(() => normalizeGenerateOptions({ ...REQUEST, prompt: 3 } as unknown as GenerateOptions, 1024), /prompt must be a string/);
  });

  it('keeps protocol limits the settings do not know: the window and the number of samples', () => {
    const { options } = normalize({}, { maxNewTokens: 1e6, samples: 100 });
    assert.equal(options.maxNewTokens, 1023);
    assert.equal(options.samples, 8);
  });
});
