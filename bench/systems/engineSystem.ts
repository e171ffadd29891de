// The project's engine, driven the way the worker drives it (EngineService -> generate()): one model,
// one long-lived decoder whose KV cache carries the prompt prefix from one request to the next.
import { generate } from '../../src/worker/engine/generate';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { Sampler } from '../../src/worker/engine/sampler';
import type { GenerateOptions } from '../../src/protocol';
import { ENGINE } from '../targets';
import type { CompletionSystem, DecodeTiming, RequestTiming, SystemConfig } from './completionSystem';

export class EngineSystem implements CompletionSystem {
  private constructor(
    /** The key every result table and target looks it up by: ENGINE, or another name for a second engine. */
    readonly name: string,
    private readonly model: LoadedModel,
    private readonly config: SystemConfig,
    readonly loadMs: number,
    /** What loadModel said: which graph runs, and why faster ones were not used. */
    readonly loadLog: string[],
  ) {}

  /** Which graph the loader chose for the file (ModelInfo.graph), e.g. "the engine's own graph". */
  get graph(): string {
    return this.model.info.graph;
  }

  static async load(config: SystemConfig, name = ENGINE): Promise<EngineSystem> {
    const started = performance.now();
    const loadLog: string[] = [];
    const model = await loadModel({ folder: config.folder, name: config.folder, dtype: config.dtype, device: 'cpu', threads: config.threads, log: (line) => loadLog.push(line) });
    return new EngineSystem(name, model, config, performance.now() - started, loadLog);
  }

  async complete(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    const options: GenerateOptions = {
      prompt,
      maxNewTokens,
      sampling: { topK: this.config.topK, topP: 1, temperature: 1, seed },
      // No stop rules: the request must run its full length to compare with transformers.js' min_new_tokens.
      // The engine has no "minimum length", so <|endoftext|> could still end it early; newTokens reports that.
      stop: { atNewline: false, strings: [] },
      stream: false,
      samples: 1,
    };
    const started = performance.now();
    const result = await generate(this.model.decoder, this.model.codec, options, { isCancelled: () => false, onText: () => {} });
    return {
      ms: performance.now() - started,
      firstTokenMs: result.timings.prefillMs,
      promptTokens: result.promptTokens,
      newTokens: result.newTokens,
      reusedTokens: result.reusedTokens,
    };
  }

  async completeCold(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    // reset() empties the cache and drops its buffers: what a freshly constructed decoder would hold.
    this.model.decoder.reset();
    return this.complete(prompt, maxNewTokens, seed);
  }

  /**
   * Every measured token runs at exactly `promptIds.length` tokens of context: after each step the cache is
   * truncated back to the prompt (free in this engine), so all samples see the same attention length.
   */
  async measureDecode(promptIds: number[], tokens: number): Promise<DecodeTiming> {
    const { decoder } = this.model;
    decoder.reset();
    const prefill = await decoder.prefill(promptIds);
    if (!prefill) throw new Error('prefill was cancelled');
    const sampling = { topK: this.config.topK, topP: 1, temperature: 1 };
    const sampler = new Sampler({ ...sampling, seed: 1 }); // one per run, as generate() keeps one per request
    let token = sampler.sample(prefill.logits);
    const timing: Required<DecodeTiming> = { context: promptIds.length, tokenMs: [], stepMs: [], sampleMs: [] };
    for (let i = 0; i < tokens; i++) {
      const started = performance.now();
      const logits = await decoder.forward([token]);
      const stepped = performance.now();
      token = sampler.sample(logits);
      const sampled = performance.now();
      decoder.cache.truncate(promptIds.length);
      timing.stepMs.push(stepped - started);
      timing.sampleMs.push(sampled - stepped);
      timing.tokenMs.push(sampled - started);
    }
    return timing;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
