// (a) Cold request: a long prompt that nothing has seen before, e.g. the first completion after opening a
// file. Both systems prefill the whole prompt, then decode; the engine starts from an empty KV cache.
import { collectGarbage } from '../collectGarbage';
import type { CompletionSystem, RequestTiming } from '../systems/completionSystem';
import { requestStats, type RequestStats } from './requestStats';

export interface ColdRequestResult {
  promptTokens: number;
  maxNewTokens: number;
  repetitions: number;
  systems: Record<string, RequestStats>;
}

export async function runColdRequest(
  systems: CompletionSystem[],
  prompt: string,
  options: { maxNewTokens: number; repetitions: number; log: (line: string) => void },
): Promise<ColdRequestResult> {
  const timings = new Map(systems.map((s) => [s.name, [] as RequestTiming[]]));
  // Alternate the systems within each repetition: a burst of load from other work on the machine then
  // hits both, instead of all of one system's repetitions.
  for (let rep = 0; rep < options.repetitions; rep++) {
    for (const system of systems) {
      collectGarbage();
      const timing = await system.completeCold(prompt, options.maxNewTokens, 1000 + rep);
      timings.get(system.name)!.push(timing);
      options.log(`  cold ${rep + 1}/${options.repetitions} ${system.name}: ${timing.ms.toFixed(0)} ms`);
    }
  }
  const first = timings.get(systems[0].name)![0];
  return {
    promptTokens: first.promptTokens,
    maxNewTokens: options.maxNewTokens,
    repetitions: options.repetitions,
    systems: Object.fromEntries([...timings].map(([name, t]) => [name, requestStats(t)])),
  };
}
