// The one place where parsed Settings become GenerateOptions: ghost text, the Generate command and the CLI all
// build their requests here, so a setting reaches the worker by one path and means the same thing everywhere.
import type { GenerateOptions, SamplingOptions } from '../protocol';
import type { Settings } from './settings';

export function samplingOptions(settings: Settings, seed?: number): SamplingOptions {
  const sampling: SamplingOptions = { topK: settings.topK, topP: settings.topP, temperature: settings.temperature };
  return seed === undefined ? sampling : { ...sampling, seed };
}

export interface GhostTextShape {
  prompt: string;
  /** Stop at the first newline (the postprocess context decides, from `multiline` and the cursor's line). */
  singleLine: boolean;
  samples: number;
}

/** A few tokens to show as ghost text: cut where the model is unsure, healed because the cursor is often inside a word. */
export function ghostTextRequest(settings: Settings, { prompt, singleLine, samples }: GhostTextShape): GenerateOptions {
  return {
    prompt,
    maxNewTokens: settings.maxNewTokens,
    sampling: samplingOptions(settings),
    stop: { atNewline: singleLine, strings: [] },
    stream: false,
    samples,
    heal: true,
    minTokenProbability: settings.minTokenProbability,
  };
}

/** A longer continuation streamed as it comes: the Generate command in the editor and the CLI in a terminal. */
export function continuationRequest(settings: Settings, { prompt, seed }: { prompt: string; seed?: number }): GenerateOptions {
  return {
    prompt,
    maxNewTokens: settings.generateMaxTokens,
    sampling: samplingOptions(settings, seed),
    stop: { atNewline: false, strings: [] },
    stream: true,
    samples: 1,
  };
}
