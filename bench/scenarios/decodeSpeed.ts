// (c) Decode speed: the cost of one more token once the prompt is in the KV cache, at a short and at a
// long context. A decode step multiplies one activation vector by every weight matrix, so it cannot be
// faster than the time to stream the weights from RAM once: the bandwidth floor. The ratio to that floor
// says how much of a step is spent on something other than reading weights.
import { summarize, type Summary } from '../stats';
import { collectGarbage } from '../collectGarbage';
import type { CompletionSystem } from '../systems/completionSystem';

export interface DecodeSpeedPoint {
  context: number;
  tokenMs: Summary; // model step + sampling
  stepMs?: Summary; // model step alone, where measurable
  sampleMs?: Summary;
  samples: number[];
}

export interface DecodeSpeedResult {
  tokensPerPoint: number;
  systems: Record<string, DecodeSpeedPoint[]>;
}

export async function runDecodeSpeed(
  systems: CompletionSystem[],
  promptIds: (context: number) => number[],
  options: { contexts: number[]; tokens: number; log: (line: string) => void },
): Promise<DecodeSpeedResult> {
  const result: DecodeSpeedResult = { tokensPerPoint: options.tokens, systems: {} };
  for (const context of options.contexts) {
    for (const system of systems) {
      collectGarbage();
      const timing = await system.measureDecode(promptIds(context), options.tokens);
      const point: DecodeSpeedPoint = { context, tokenMs: summarize(timing.tokenMs), samples: timing.tokenMs };
      if (timing.stepMs) point.stepMs = summarize(timing.stepMs);
      if (timing.sampleMs) point.sampleMs = summarize(timing.sampleMs);
      (result.systems[system.name] ??= []).push(point);
      options.log(`  decode @${context} ${system.name}: ${point.tokenMs.median.toFixed(1)} ms/token`);
    }
  }
  return result;
}
