import * as assert from 'node:assert/strict';
import { continuationRequest, ghostTextRequest, samplingOptions } from '../../src/core/requests';
import { DEFAULT_SETTINGS, parseSettings } from '../../src/core/settings';

const settings = parseSettings({ topK: 7, topP: 0.5, temperature: 0.3, maxNewTokens: 12, generateMaxTokens: 99, minTokenProbability: 0.05 }).settings;

describe('requests: one path from settings to GenerateOptions', () => {
  it('sampling comes from the settings, with an optional seed', () => {
    assert.deepEqual(samplingOptions(settings), { topK: 7, topP: 0.5, temperature: 0.3 });
    assert.deepEqual(samplingOptions(settings, 42), { topK: 7, topP: 0.5, temperature: 0.3, seed: 42 });
  });

  it('ghost text: short, healed, unstreamed, several samples when asked for', () => {
    assert.deepEqual(ghostTextRequest(settings, { prompt: 'def f', singleLine: true, samples: 3 }), {
      prompt: 'def f',
      maxNewTokens: 12,
      sampling: { topK: 7, topP: 0.5, temperature: 0.3 },
      stop: { atNewline: true, strings: [] },
      stream: false,
      samples: 3,
      heal: true,
      minTokenProbability: 0.05,
    });
  });

  it('a continuation (Generate command and CLI): long, streamed, one sample, no confidence cut', () => {
    assert.deepEqual(continuationRequest(settings, { prompt: 'Once' }), {
      prompt: 'Once',
      maxNewTokens: 99,
      sampling: { topK: 7, topP: 0.5, temperature: 0.3 },
      stop: { atNewline: false, strings: [] },
      stream: true,
      samples: 1,
    });
    assert.equal(continuationRequest(DEFAULT_SETTINGS, { prompt: 'x', seed: 5 }).sampling.seed, 5);
  });
});
