// The host retries a failed model load only for an explicit request (Alt+\), so generate learns the trigger.
import assert from 'node:assert/strict';
import { CompletionPipeline, type Trigger } from '../../src/core/pipeline';
import { DEFAULT_SETTINGS } from '../../src/core/settings';
import type { GenerateOptions, GenerationResult } from '../../src/protocol';

const result = (samples: number): GenerationResult => ({
  texts: Array(samples).fill(' world'),
  stopReasons: Array(samples).fill('eos'),
  promptTokens: 1,
  reusedTokens: 0,
  newTokens: samples,
  timings: { prefillMs: 0, decodeMs: 0, totalMs: 0 },
});

describe('CompletionPipeline: the trigger reaches generate', () => {
  for (const trigger of ['invoke', 'automatic'] as Trigger[]) {
    it(`${trigger}`, async () => {
      const seen: (Trigger | undefined)[] = [];
      const pipeline = new CompletionPipeline({
        settings: () => DEFAULT_SETTINGS,
        sleep: async () => undefined,
        generate: async (options: GenerateOptions, _signal: AbortSignal, got?: Trigger) => {
          seen.push(got);
          return result(options.samples);
        },
      });
      await pipeline.complete({ languageId: 'plaintext', prefix: 'Hello', lineSuffix: '', trigger }, new AbortController().signal);
      assert.deepEqual(seen, [trigger]);
    });
  }
});
