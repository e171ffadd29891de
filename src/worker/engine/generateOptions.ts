// The worker's own guard on generate requests: the host already clamps settings, but the CLI and any
// future caller talk to the engine directly. Values that cannot mean anything are refused with a clear
// message; values out of range are clamped as documented here, and the clamp is reported.
import type { GenerateOptions } from '../../protocol';
import { EngineError } from '../errors';

export const MAX_SAMPLES = 8;

export function normalizeGenerateOptions(raw: GenerateOptions, vocabSize: number, contextLength: number): { options: GenerateOptions; notes: string[] } {
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
  const { sampling } = raw;
  const topK = number('topK', sampling?.topK);
  return {
    notes,
    options: {
      prompt: raw.prompt,
      // 0 new tokens is a valid request with an empty answer; the window must keep room for one prompt token.
      maxNewTokens: clamp('maxNewTokens', number('maxNewTokens', raw.maxNewTokens), 0, contextLength - 1, true),
      sampling: {
        // topK <= 0 means "no limit", as in GPT-2's sampler; above the vocabulary it is the same thing.
        topK: topK <= 0 ? 0 : clamp('topK', topK, 1, vocabSize, true),
        topP: clamp('topP', number('topP', sampling.topP), 1e-6, 1, false),
        temperature: clamp('temperature', number('temperature', sampling.temperature), 0, 100, false),
        seed: sampling.seed === undefined ? undefined : Math.abs(Math.round(number('seed', sampling.seed))) >>> 0,
      },
      stop: {
        atNewline: raw.stop?.atNewline === true,
        strings: (Array.isArray(raw.stop?.strings) ? raw.stop.strings : []).filter((s) => typeof s === 'string' && s.length > 0).slice(0, 16),
      },
      stream: raw.stream === true,
      samples: clamp('samples', number('samples', raw.samples ?? 1), 1, MAX_SAMPLES, true),
      heal: raw.heal === true,
      minTokenProbability: clamp('minTokenProbability', number('minTokenProbability', raw.minTokenProbability ?? 0), 0, 1, false),
    },
  };
}
