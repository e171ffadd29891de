// The sampling loop: prompt -> tokens (cropped to the window) -> prefill with prefix reuse ->
// sample, stream, stop at <|endoftext|>, the length limit, a stop rule or a token the model is unsure of.
// With healing, the prompt is backed up over the word it ends in and the first tokens spell that word
// again (tokenHealing.ts); only the text after the prompt's end is streamed and returned. Cancellation
// is checked between two decode steps.
import { END_OF_TEXT, type ConfidenceCut, type GenerateOptions, type GenerationResult, type StopReason } from '../../protocol';
import type { TokenDecoder } from './decoder';
import { Sampler, tokenProbability } from './sampler';
import { HealingConstraint, healPrompt, type HealedPrompt } from './tokenHealing';
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
  const cropped = cropTokens(codec.encode(cropCharacters(options.prompt, window)), window);
  const vocabulary = options.heal ? codec.vocabulary?.() : undefined;
  // The backed-up prompt is a prefix of the next keystroke's prompt too, so the KV cache still serves it.
  const healed: HealedPrompt = vocabulary ? healPrompt(cropped, vocabulary) : { ids: cropped, removed: '' };
  const promptIds = healed.ids;
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
  // One Sampler (one RNG stream, one set of buffers) for all samples: the same seed gives the same samples.
  const sampler = new Sampler(options.sampling);
  for (let sample = 0; sample < options.samples && prefill; sample++) {
    decoder.cache.truncate(promptIds.length);
    const constraint = new HealingConstraint(healed.removed, vocabulary ?? []);
    const { text, stopReason, tokens, cut } = await sampleOne(decoder, codec, options, constraint, prefill.logits, sampler, (t) => hooks.onText(sample, t), hooks.isCancelled);
    result.texts.push(text);
    result.stopReasons.push(stopReason);
    result.newTokens += tokens;
    if (cut) (result.confidenceCuts ??= []).push({ sample, ...cut });
    if (stopReason === 'cancelled') break;
  }
  if (!prefill) result.stopReasons.push('cancelled');
  result.timings.totalMs = performance.now() - started;
  result.timings.decodeMs = result.timings.totalMs - prefillMs;
  return result;
}

interface Sample {
  text: string;
  stopReason: StopReason;
  tokens: number;
  cut?: Omit<ConfidenceCut, 'sample'>;
}

async function sampleOne(
  decoder: TokenDecoder,
  codec: TextCodec,
  options: GenerateOptions,
  healing: HealingConstraint,
  promptLogits: Float32Array,
  sampler: Sampler,
  onText: (text: string) => void,
  isCancelled: () => boolean,
): Promise<Sample> {
  const ids: number[] = [];
  const stop = new StopMatcher(options.stop);
  const minProbability = options.minTokenProbability ?? 0;
  const afterPrompt = textAfter(healing);
  let limit = options.maxNewTokens; // tokens that only spell the healed word again do not count
  let logits = promptLogits;
  let emitted = '';
  let stopReason: StopReason = 'length';
  while (ids.length < limit) {
    if (isCancelled()) {
      stopReason = 'cancelled';
      break;
    }
    const allowed = healing.active ? healing.mask(logits) : logits;
    const token = sampler.sample(allowed);
    if (token === END_OF_TEXT) {
      stopReason = 'eos';
      break;
    }
    const healingOnly = healing.active && healing.advance(token);
    if (healingOnly) limit++;
    else if (minProbability > 0) {
      const probability = tokenProbability(allowed, token, options.sampling.temperature);
      if (probability < minProbability) {
        stopReason = 'low-confidence';
        return { text: withoutPartialCharacter(afterPrompt(decodeTokens(codec, ids))), stopReason, tokens: ids.length, cut: { token: ids.length, probability } };
      }
    }
    ids.push(token);
    const { text, stopped } = stop.check(afterPrompt(codec.decode(ids)));
    const ready = stopped ? text : withoutPartialCharacter(text);
    if (ready.length > emitted.length && ready.startsWith(emitted)) {
      onText(ready.slice(emitted.length));
      emitted = ready;
    }
    if (stopped) {
      stopReason = 'stop';
      return { text, stopReason, tokens: ids.length };
    }
    if (ids.length === limit || decoder.cache.length + 1 >= decoder.shape.maxPositions) break;
    logits = await decoder.forward([token]);
  }
  return { text: withoutPartialCharacter(afterPrompt(decodeTokens(codec, ids))), stopReason, tokens: ids.length };
}

/** The constraint makes the generated text start with the healed word; what the user sees starts after it. */
function textAfter(healing: HealingConstraint): (generated: string) => string {
  const removed = healing.pending;
  return (generated) => (generated.length > removed.length ? generated.slice(removed.length) : '');
}

/** transformers.js refuses to decode no tokens, which is what a sample that draws <|endoftext|> first has. */
function decodeTokens(codec: TextCodec, ids: readonly number[]): string {
  return ids.length === 0 ? '' : codec.decode(ids);
}

/** A byte-level BPE token can end inside a UTF-8 sequence; hold that back until the next token completes it. */
function withoutPartialCharacter(text: string): string {
  return text.endsWith('\uFFFD') ? text.replace(/\uFFFD+$/, '') : text;
}
