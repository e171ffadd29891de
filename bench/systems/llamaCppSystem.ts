// llama.cpp (through node-llama-cpp's prebuilt CPU binaries) on a GGUF of the SAME weights the engine runs
// (bench/gguf/gpt2Gguf.ts), driven as an application keeping one context sequence would drive it: a request
// compares its prompt's tokens with the sequence's, erases the sequence from the first difference and evaluates
// only the new tokens (llama.cpp's own prefix reuse: its KV cache stays in the context between requests).
// Sampling is set explicitly to the engine's (node-llama-cpp defaults to greedy, top-k 40, top-p 0.95): temperature
// 1, top-k 50, top-p 1, min-p 0, no repeat penalty. Threads: the same count as the engine's intra-op threads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { LLAMA_CPP } from '../targets';
import type { CompletionSystem, DecodeTiming, RequestTiming, SystemConfig } from './completionSystem';

// npm 11 skips node-llama-cpp's install script (and .npmrc has ignore-scripts): never download or build,
// use the prebuilt binary of @node-llama-cpp/linux-x64 (or the platform's).
process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD ??= 'true';

export class LlamaCppSystem implements CompletionSystem {
  readonly name = LLAMA_CPP;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    private readonly config: SystemConfig,
    readonly loadMs: number,
    /** The llama.cpp build and how the context runs, for the results. */
    readonly description: string,
  ) {}

  static async load(config: SystemConfig, ggufFile: string): Promise<LlamaCppSystem> {
    const started = performance.now();
    // node-llama-cpp is ESM with top-level await: loaded by import(), which the bench's CommonJS cannot require().
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ build: 'never', gpu: false, progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: config.threads });
    const model = await llama.loadModel({ modelPath: ggufFile, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: model.trainContextSize, // 1024: GPT-2's whole window, as the engine can use
      sequences: 1,
      batchSize: 512,
      threads: { ideal: config.threads, min: config.threads },
    });
    const sequence = context.getSequence();
    const description = `node-llama-cpp ${llamaVersion()}, llama.cpp ${llama.llamaCppRelease.release} (${llama.buildType} ${llama.gpu || 'cpu'}), ${context.currentThreads} threads, batch ${context.batchSize}, flash attention ${context.flashAttention}`;
    return new LlamaCppSystem(llama, model, context, sequence, config, performance.now() - started, description);
  }

  tokenize(text: string): number[] {
    return this.model.tokenize(text, false);
  }

  private sampling(seed: number) {
    return { temperature: 1, topK: this.config.topK, topP: 1, minP: 0, seed, yieldEogToken: true };
  }

  async complete(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    const started = performance.now();
    const ids = this.model.tokenize(prompt, false) as Token[];
    // Keep the sequence's tokens up to the first one the prompt does not share; at least the last prompt token
    // is evaluated again, since its logits are what the first new token is sampled from.
    const reused = Math.min(this.sequence.compareContextTokens(ids).firstDifferentIndex, ids.length - 1);
    if (reused < this.sequence.nextTokenIndex) await this.sequence.eraseContextTokenRanges([{ start: reused, end: this.sequence.nextTokenIndex }]);
    let firstTokenMs = 0;
    const newIds: Token[] = [];
    for await (const token of this.sequence.evaluate(ids.slice(reused), this.sampling(seed))) {
      if (newIds.length === 0) firstTokenMs = performance.now() - started;
      newIds.push(token);
      if (newIds.length >= maxNewTokens) break;
    }
    this.model.detokenize(newIds); // the extension needs text, as the other systems produce
    return { ms: performance.now() - started, firstTokenMs, promptTokens: ids.length, newTokens: newIds.length, reusedTokens: reused };
  }

  async completeCold(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming> {
    await this.sequence.clearHistory();
    return this.complete(prompt, maxNewTokens, seed);
  }

  /** Token-to-token intervals of one evaluation (as for transformers.js): the context grows by one per token. */
  async measureDecode(promptIds: number[], tokens: number): Promise<DecodeTiming> {
    await this.sequence.clearHistory();
    const times: number[] = [];
    // tokens + 1: the first new token comes out of the prefill, each later one out of a decode step.
    for await (const _ of this.sequence.evaluate(promptIds as Token[], this.sampling(1))) {
      times.push(performance.now());
      if (times.length >= tokens + 1) break;
    }
    return { context: promptIds.length, tokenMs: times.slice(1).map((t, i) => t - times[i]) };
  }

  /** Greedy ids after `ids` (temperature 0), for the fp32 correctness check. */
  async greedy(ids: number[], steps: number): Promise<number[]> {
    await this.sequence.clearHistory();
    const out: number[] = [];
    for await (const token of this.sequence.evaluate(ids as Token[], { temperature: 0, yieldEogToken: true })) {
      out.push(token);
      if (out.length >= steps) break;
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

function llamaVersion(): string {
  const file = path.join(__dirname, '..', '..', 'node_modules', 'node-llama-cpp', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}
