// (b) Typing session: the request pattern ghost text makes. Each request's prompt is the previous one plus
// the 1-3 characters typed since, so almost all of it was seen by the request before. The engine keeps
// one decoder for the whole session (as the worker does) and reruns only the tokens its KV cache lacks;
// transformers.js' generate() keeps nothing and reruns the whole prompt every time.
import { collectGarbage } from '../collectGarbage';
import type { CompletionSystem, RequestTiming } from '../systems/completionSystem';
import type { TypingSession } from '../prompts';
import { requestStats, type RequestStats } from './requestStats';

export interface TypingSessionResult {
  requests: number;
  maxNewTokens: number;
  promptTokens: { first: number; last: number };
  systems: Record<string, RequestStats>;
}

export async function runTypingSession(
  systems: CompletionSystem[],
  session: TypingSession,
  options: { maxNewTokens: number; log: (line: string) => void },
): Promise<TypingSessionResult> {
  const timings = new Map(systems.map((s) => [s.name, [] as RequestTiming[]]));
  for (const [i, prompt] of session.prompts.entries()) {
    // The session opens on a file nothing has seen: its first request is cold for every system.
    // Systems alternate request by request; the engine's cache is untouched by the other system's runs.
    for (const system of systems) {
      const request = i === 0 ? system.completeCold : system.complete;
      collectGarbage();
      const timing = await request.call(system, prompt, options.maxNewTokens, 2000 + i);
      timings.get(system.name)!.push(timing);
    }
    const line = systems.map((s) => `${s.name} ${timings.get(s.name)![i].ms.toFixed(0)} ms`).join(', ');
    options.log(`  typing ${i + 1}/${session.prompts.length}: ${line}`);
  }
  return {
    requests: session.prompts.length,
    maxNewTokens: options.maxNewTokens,
    promptTokens: { first: session.startTokens, last: session.endTokens },
    systems: Object.fromEntries([...timings].map(([name, t]) => [name, requestStats(t)])),
  };
}
