// The worker's own guard on generate requests: the host and the CLI send settings already parsed, but a request
// from any client must not crash the worker. Values that cannot mean anything are refused with a clear message;
// values out of range are clamped to the settings' own ranges (one table, src/core/settings.ts), and the clamp is
// reported. Only what settings cannot know is decided here: the context window and the number of samples.
import { NUMBER_RANGES } from '../../core/settings';
import type { GenerateOptions } from '../../protocol';
import { EngineError } from '../errors';

export const MAX_SAMPLES = 8;

export function normalizeGenerateOptions(raw: GenerateOptions, contextLength: number): { options: GenerateOptions; notes: string[] } {
  const notes: string[] = [];
  if (typeof raw?.prompt !== 'string') throw new EngineError('bad-request', 'prompt must be a string');
  const number = (name: string, value: unknown): number => {
    if (typeof value !== 'number' || Number.isNaN(value)) throw new EngineError('bad-request', `${name} must be a number, got ${JSON.stringify(value)}`);
    return value;
  };
  const clamp = (name: string, value: number, min: number, max: number, integer: boolean): number => {
    const fixed = Math.min(max, Math.max(min, integer ? Math.round(value) : value));
    if (fixed !== value) notes.push(`${name} ${value} clamped to ${fixed}`);
    return fixed;
  };
  const ranged = (name: keyof typeof NUMBER_RANGES, value: unknown): number => {
    const { min, max, integer } = NUMBER_RANGES[name];
    return clamp(name, number(name, value), min, max, integer);
  };
  const { sampling } = raw;
  return {
    notes,
    options: {
      prompt: raw.prompt,
      // 0 new tokens is a valid request with an empty answer; the window must keep room for one prompt token.
      maxNewTokens: clamp('maxNewTokens', number('maxNewTokens', raw.maxNewTokens), 0, contextLength - 1, true),
      sampling: {
        // topK 0 means "no limit"; at or above the vocabulary it is the same thing to the sampler.
        topK: ranged('topK', sampling?.topK),
        topP: ranged('topP', sampling.topP),
        temperature: ranged('temperature', sampling.temperature),
        seed: sampling.seed === undefined ? undefined : Math.abs(Math.round(number('seed', sampling.seed))) >>> 0,
      },
      stop: {
        atNewline: raw.stop?.atNewline === true,
        strings: (Array.isArray(raw.stop?.strings) ? raw.stop.strings : []).filter((s) => typeof s === 'string' && s.length > 0).slice(0, 16),
      },
      stream: raw.stream === true,
      samples: clamp('samples', number('samples', raw.samples ?? 1), 1, MAX_SAMPLES, true),
      heal: raw.heal === true,
      minTokenProbability: ranged('minTokenProbability', raw.minTokenProbability ?? 0),
      speculate: raw.speculate !== false,
    },
  };
}
