// The sampling loop: prompt -> tokens (cropped to the window) -> prefill with prefix reuse ->
// sample, stream, stop at <|endoftext|>, the length limit or a stop rule. Cancellation is checked
// between two decode steps.
import { END_OF_TEXT, type GenerateOptions, type GenerationResult, type StopReason } from '../../protocol';
import { mulberry32, randomSeed } from '../rng';
import type { TokenDecoder } from './decoder';
import { sampleToken } from './sampler';
import type { TextCodec } from './tokenizer';
import { cropCharacters, cropTokens } from './promptTokens';
import { StopMatcher } from './stopMatcher';

export interface GenerateHooks {
  isCancelled(): boolean;
  onText(sample: number, text: string): void;
}

export async function generate(
  decoder: TokenDecoder,
  codec: TextCodec,
  options: GenerateOptions,
  hooks: GenerateHooks,
): Promise<GenerationResult> {
  const started = performance.now();
  const window = decoder.shape.maxPositions - options.maxNewTokens;
  const promptIds = cropTokens(codec.encode(cropCharacters(options.prompt, window)), window);
  if (promptIds.length === 0) promptIds.push(END_OF_TEXT); // GPT-2 samples unconditionally after <|endoftext|>
  const prefill = await decoder.prefill(promptIds, hooks.isCancelled);
  const prefillMs = performance.now() - started;
  const result: GenerationResult = {
    texts: [],
    stopReasons: [],
    promptTokens: promptIds.length,
    reusedTokens: prefill?.reused ?? 0,
    newTokens: 0,
    timings: { prefillMs, decodeMs: 0, totalMs: 0 },
  };
  const rng = mulberry32(options.sampling.seed ?? randomSeed());
  for (let sample = 0; sample < options.samples && prefill; sample++) {
    decoder.cache.truncate(promptIds.length);
    const { text, stopReason, tokens } = await sampleOne(decoder, codec, options, prefill.logits, rng, (t) => hooks.onText(sample, t), hooks.isCancelled);
    result.texts.push(text);
    result.stopReasons.push(stopReason);
    result.newTokens += tokens;
    if (stopReason === 'cancelled') break;
  }
  if (!prefill) result.stopReasons.push('cancelled');
  result.timings.totalMs = performance.now() - started;
  result.timings.decodeMs = result.timings.totalMs - prefillMs;
  return result;
}

async function sampleOne(
  decoder: TokenDecoder,
  codec: TextCodec,
  options: GenerateOptions,
  promptLogits: Float32Array,
  rng: () => number,
  onText: (text: string) => void,
  isCancelled: () => boolean,
): Promise<{ text: string; stopReason: StopReason; tokens: number }> {
  const ids: number[] = [];
  const stop = new StopMatcher(options.stop);
  let logits = promptLogits;
  let emitted = '';
  let stopReason: StopReason = 'length';
  while (ids.length < options.maxNewTokens) {
    if (isCancelled()) {
      stopReason = 'cancelled';
      break;
    }
    const token = sampleToken(logits, options.sampling, rng);
    if (token === END_OF_TEXT) {
      stopReason = 'eos';
      break;
    }
    ids.push(token);
    const { text, stopped } = stop.check(codec.decode(ids));
    const ready = stopped ? text : withoutPartialCharacter(text);
    if (ready.length > emitted.length && ready.startsWith(emitted)) {
      onText(ready.slice(emitted.length));
      emitted = ready;
    }
    if (stopped) {
      stopReason = 'stop';
      return { text, stopReason, tokens: ids.length };
    }
    if (ids.length === options.maxNewTokens || decoder.cache.length + 1 >= decoder.shape.maxPositions) break;
    logits = await decoder.forward([token]);
  }
  return { text: withoutPartialCharacter(decodeTokens(codec, ids)), stopReason, tokens: ids.length };
}

/** transformers.js refuses to decode no tokens, which is what a sample that draws <|endoftext|> first has. */
function decodeTokens(codec: TextCodec, ids: readonly number[]): string {
  return ids.length === 0 ? '' : codec.decode(ids);
}

/** A byte-level BPE token can end inside a UTF-8 sequence; hold that back until the next token completes it. */
function withoutPartialCharacter(text: string): string {
  return text.endsWith('\uFFFD') ? text.replace(/\uFFFD+$/, '') : text;
}
