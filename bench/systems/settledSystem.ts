// A system that waits, untimed, before every request, so that the thread pool of the system that ran just
// before has gone idle. Two engines are two ONNX Runtime sessions with a thread pool each; after a run its
// threads spin for a while before they sleep, and on 2 cores a spinning pool takes a core from the next
// session's request.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CompletionSystem, DecodeTiming, RequestTiming } from './completionSystem';

export class SettledSystem implements CompletionSystem {
  constructor(
    private readonly inner: CompletionSystem,
    private readonly pauseMs = 25,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get loadMs(): number {
    return this.inner.loadMs;
  }

  async complete(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    await sleep(this.pauseMs);
    return this.inner.complete(prompt, maxNewTokens, seed);
  }

  async completeCold(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    await sleep(this.pauseMs);
    return this.inner.completeCold(prompt, maxNewTokens, seed);
  }

  async measureDecode(promptIds: number[], tokens: number): Promise<DecodeTiming> {
    await sleep(this.pauseMs);
    return this.inner.measureDecode(promptIds, tokens);
  }

  async dispose(): Promise<void> {
    // The wrapped system belongs to whoever made it.
  }
}
