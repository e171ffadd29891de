// What a scenario needs from either system (the project's engine, transformers.js): the same three
// operations, so that every scenario runs the identical request against both.
import type { Dtype } from '../../src/protocol';

export interface SystemConfig {
  folder: string; // model folder (config.json, tokenizer.json, onnx/...)
  dtype: Dtype;
  threads: number; // ONNX Runtime intra-op threads; inter-op is 1 for both
  topK: number;
}

/** One completion request, timed from the prompt text to the completion text. */
export interface RequestTiming {
  ms: number;
  /** Prompt text -> logits of the last prompt token (tokenization and prefill). */
  firstTokenMs: number;
  promptTokens: number;
  newTokens: number; // tokens actually generated
  /** Prompt tokens whose KV cache came from an earlier request (engine only; transformers.js recomputes all). */
  reusedTokens: number;
}

/** Per-token cost of decoding with `context` tokens already in the KV cache. */
export interface DecodeTiming {
  context: number;
  /** Wall time of each measured token: model step + sampling. */
  tokenMs: number[];
  /** The model step alone, where the system lets us separate it from sampling. */
  stepMs?: number[];
  sampleMs?: number[];
}

export interface CompletionSystem {
  readonly name: string;
  readonly loadMs: number;
  /** A request as the extension makes it while the user types: the system keeps whatever state it keeps. */
  complete(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming>;
  /** The same request with nothing cached from earlier requests. */
  completeCold(prompt: string, maxNewTokens: number, seed: number): Promise<RequestTiming>;
  /** Decodes `tokens` tokens after a prompt of `promptIds`. */
  measureDecode(promptIds: number[], tokens: number): Promise<DecodeTiming>;
  dispose(): Promise<void>;
}
