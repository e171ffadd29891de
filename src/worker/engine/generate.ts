// The sampling loop: prompt -> tokens (cropped to the window) -> prefill with prefix reuse ->
// sample, stream, stop at <|endoftext|>, the length limit, a stop rule or a token the model is unsure of.
// With healing, the prompt is backed up over the word it ends in and the first tokens spell that word
// again (tokenHealing.ts); only the text after the prompt's end is streamed and returned. Cancellation
// is checked between two decode steps.
// Several samples (the alternatives of Alt+\) decode as one batch: the prompt is prefilled once, its cache
// broadcast to one row per sample, and each step feeds every unfinished row's token at once, so the weights are
// read once per step for all of them. Each sample has its own seeded RNG stream, so the batch gives the very
// samples that decoding them one after another gives (the fallback when a graph does not accept a batch).
// A single sample decodes speculatively: tokens drafted from the prompt and the text so far (speculation.ts) go
// into one pass with the token to feed, and are kept while they equal what the row samples from that pass's logits.
import { END_OF_TEXT, type ConfidenceCut, type GenerateOptions, type GenerationResult, type StopReason } from '../../protocol';
import { mulberry32, randomSeed } from '../rng';
import type { BatchDecoder, TokenDecoder } from './decoder';
import { Sampler, tokenProbability } from './sampler';
import { PromptLookup } from './speculation';
import { HealingConstraint, healPrompt, type HealedPrompt } from './tokenHealing';
import type { TextCodec } from './tokenizer';
import { cropCharacters, cropTokens } from './promptTokens';
import { StopMatcher } from './stopMatcher';

export interface GenerateHooks {
  isCancelled(): boolean;
  onText(sample: number, text: string): void;
  /** Said once per decoder: why its samples decode one after another instead of as one batch. */
  log?(message: string): void;
}

/** Decoders whose batch failed, and why: their samples decode one after another from then on. */
const batchRefused = new WeakMap<TokenDecoder, string>();

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
  // One Sampler per sample, each with its own RNG stream (sample 0's is the request's seed, so a 1-sample request
  // gives the first of several): the same seed gives the same samples, batched or one after another.
  const seed = options.sampling.seed ?? randomSeed();
  const rows = Array.from({ length: prefill ? options.samples : 0 }, (_, sample) => {
    const sampler = new Sampler(options.sampling, mulberry32(sampleSeed(seed, sample)));
    const healing = new HealingConstraint(healed.removed, vocabulary ?? []);
    return new SampleRow(codec, options, healing, sampler, promptIds.length, decoder.shape.maxPositions, (t) => hooks.onText(sample, t));
  });
  if (prefill && rows.length > 1 && decoder.batch && !batchRefused.has(decoder)) {
    await decodeBatched(decoder, rows, promptIds, prefill.logits, hooks);
  } else if (prefill && rows.length === 1 && options.speculate !== false) {
    const lookup = speculationFor(decoder, promptIds, hooks);
    await decodeAlone(decoder, rows[0], prefill.logits, hooks.isCancelled, lookup && { lookup, decoder: lookup.decoder, log: hooks.log });
    if (lookup?.drafts) result.speculation = { drafts: lookup.drafts, drafted: lookup.drafted, accepted: lookup.accepted, ...(lookup.off ? { off: lookup.off } : {}) };
  } else if (prefill) {
    for (const row of rows) {
      decoder.cache.truncate(promptIds.length);
      await decodeAlone(decoder, row, prefill.logits, hooks.isCancelled);
      if (row.stopReason === 'cancelled') break;
    }
  }
  rows.forEach((row, sample) => {
    if (!row.started) return; // after a cancelled one
    result.texts.push(row.text());
    result.stopReasons.push(row.stopReason);
    result.newTokens += row.ids.length;
    if (row.cut) (result.confidenceCuts ??= []).push({ sample, ...row.cut });
  });
  if (!prefill) result.stopReasons.push('cancelled');
  result.timings.totalMs = performance.now() - started;
  result.timings.decodeMs = result.timings.totalMs - prefillMs;
  return result;
}

/** Sample i > 0 gets its own stream: the seed mixed with i (murmur3's finalizer), so no two streams overlap. */
export function sampleSeed(seed: number, sample: number): number {
  if (sample === 0) return seed >>> 0;
  let h = (seed ^ Math.imul(sample, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One sample's state between two decode steps: what it sampled, streamed, and why it stopped. */
class SampleRow {
  readonly ids: number[] = [];
  stopReason: StopReason = 'length';
  cut?: Omit<ConfidenceCut, 'sample'>;
  started = false;
  done = false;
  private finalText?: string;
  private emitted = '';
  private limit: number; // tokens that only spell the healed word again do not count
  private readonly stop: StopMatcher;
  private readonly afterPrompt: (generated: string) => string;

  constructor(
    private readonly codec: TextCodec,
    private readonly options: GenerateOptions,
    private readonly healing: HealingConstraint,
    private readonly sampler: Sampler,
    private readonly promptLength: number,
    private readonly maxPositions: number,
    private readonly onText: (text: string) => void,
  ) {
    this.limit = options.maxNewTokens;
    this.stop = new StopMatcher(options.stop);
    this.afterPrompt = textAfter(healing);
  }

  /** Samples a token from the logits after the row's last token: the token to feed next, or undefined when the row is done. */
  next(logits: Float32Array): number | undefined {
    this.started = true;
    if (this.ids.length >= this.limit) return this.end('length');
    const { healing, options } = this;
    const allowed = healing.active ? healing.mask(logits) : logits;
    const token = this.sampler.sample(allowed);
    if (token === END_OF_TEXT) return this.end('eos');
    const healingOnly = healing.active && healing.advance(token);
    if (healingOnly) this.limit++;
    else if ((options.minTokenProbability ?? 0) > 0) {
      const probability = tokenProbability(allowed, token, options.sampling.temperature);
      if (probability < options.minTokenProbability!) {
        this.cut = { token: this.ids.length, probability };
        return this.end('low-confidence');
      }
    }
    this.ids.push(token);
    const { text, stopped } = this.stop.check(this.afterPrompt(this.codec.decode(this.ids)));
    const ready = stopped ? text : withoutPartialCharacter(text);
    if (ready.length > this.emitted.length && ready.startsWith(this.emitted)) {
      this.onText(ready.slice(this.emitted.length));
      this.emitted = ready;
    }
    if (stopped) {
      this.finalText = text;
      return this.end('stop');
    }
    // the model never runs for a token that will not be used
    if (this.ids.length === this.limit || this.promptLength + this.ids.length >= this.maxPositions) return this.end('length');
    return token;
  }

  /** How many tokens the row may hold in all, so far (healing tokens raise it). */
  get maxTokens(): number {
    return this.limit;
  }

  cancel(): void {
    this.started = true;
    this.end('cancelled');
  }

  text(): string {
    return this.finalText ?? withoutPartialCharacter(this.afterPrompt(decodeTokens(this.codec, this.ids)));
  }

  private end(reason: StopReason): undefined {
    this.stopReason = reason;
    this.done = true;
    return undefined;
  }
}

/** Decoders that cannot verify drafts (no logits for every position), and why: they decode plainly from then on. */
const speculationRefused = new WeakMap<TokenDecoder, string>();

type Verifier = TokenDecoder & Required<Pick<TokenDecoder, 'forwardAll'>>;
interface Speculation {
  lookup: PromptLookup;
  decoder: Verifier;
  log?: (message: string) => void;
}

/** A prompt lookup for one request, or undefined (said once per decoder) when the decoder cannot verify drafts. */
function speculationFor(decoder: TokenDecoder, promptIds: readonly number[], hooks: GenerateHooks): (PromptLookup & { decoder: Verifier }) | undefined {
  if (!decoder.forwardAll) refuseSpeculation(decoder, 'the decoder cannot return the logits of every position', hooks.log);
  if (speculationRefused.has(decoder)) return undefined;
  return Object.assign(new PromptLookup(promptIds), { decoder: decoder as Verifier });
}

function refuseSpeculation(decoder: TokenDecoder, reason: string, log?: (message: string) => void): void {
  if (speculationRefused.has(decoder)) return;
  speculationRefused.set(decoder, reason);
  log?.(`speculative decoding off: ${reason}; tokens decode one per model step`);
}

/**
 * One sample on the single-row cache, which holds the tokens `logits` follow. With `speculation`, a token to feed
 * takes the tokens drafted after it along into one pass, which returns the logits after each; the row samples from
 * them in order (its own RNG stream, one draw per token, as always) and keeps drafted tokens while they equal its
 * samples. At the first that differs, the sample is kept, the rest of the draft is dropped and the cache forgets
 * their positions, so the tokens are exactly those decoding one step at a time would sample from the same logits.
 */
async function decodeAlone(decoder: TokenDecoder, row: SampleRow, logits: Float32Array, isCancelled: () => boolean, speculation?: Speculation): Promise<void> {
  if (isCancelled()) return row.cancel();
  let token = row.next(logits);
  while (token !== undefined) {
    // room: the row samples at most maxTokens in all (the pass gives one sample more than it drafts), within the window
    const room = Math.min(row.maxTokens - row.ids.length - 1, decoder.shape.maxPositions - decoder.cache.length - 1);
    const draft = speculation?.lookup.draft(token, room) ?? [];
    const verified = draft.length > 0 ? await verify(speculation!, [token, ...draft]) : undefined;
    if (!verified) {
      logits = await decoder.forward([token]);
      if (isCancelled()) return row.cancel();
      token = row.next(logits);
      continue;
    }
    const base = decoder.cache.length - draft.length - 1;
    let kept = 0;
    let next = row.next(verified[0]);
    while (next !== undefined && kept < draft.length && next === draft[kept]) {
      speculation!.lookup.accept(next);
      next = row.next(verified[++kept]);
    }
    decoder.cache.truncate(base + 1 + kept); // the token, and the drafted tokens kept
    speculation!.lookup.record(draft.length, kept);
    if (isCancelled()) return row.done ? undefined : row.cancel();
    token = next;
  }
}

/** The logits after each of `ids`, from one pass; undefined (and speculation off, said once) when the graph cannot. */
async function verify(speculation: Speculation, ids: number[]): Promise<Float32Array[] | undefined> {
  const { decoder, lookup } = speculation;
  try {
    return await decoder.forwardAll(ids);
  } catch (error) {
    const reason = String(error instanceof Error ? error.message : error).split('\n')[0];
    refuseSpeculation(decoder, reason, speculation.log);
    lookup.stop(reason);
    return undefined;
  }
}

/**
 * Every sample in one batch. Rows that finish leave it (the last row moves into their place), so the batch never
 * computes tokens nobody reads: with a stop at the end of the line, alternatives end at very different lengths,
 * and a dropped row costs one copy of its past, a kept one that past's attention and a full lm_head every step.
 * If the graph refuses the batch, the unfinished rows go on one after another from where they are.
 */
async function decodeBatched(decoder: TokenDecoder, rows: SampleRow[], promptIds: readonly number[], promptLogits: Float32Array, hooks: GenerateHooks): Promise<void> {
  const live = [...rows]; // batch row -> sample
  let logits = live.map(() => promptLogits);
  let batch: BatchDecoder | undefined;
  for (;;) {
    if (hooks.isCancelled()) return live.forEach((row) => row.cancel());
    const tokens = live.map((row, i) => row.next(logits[i]));
    for (let i = live.length - 1; i >= 0; i--) {
      if (tokens[i] !== undefined) continue;
      batch?.drop(i);
      live[i] = live[live.length - 1];
      tokens[i] = tokens[tokens.length - 1];
      live.pop();
      tokens.pop();
    }
    if (live.length === 0) return;
    try {
      batch ??= decoder.batch!(live.length, promptIds.length + Math.max(...live.map((row) => row.maxTokens)));
      logits = await batch.forward(tokens as number[]);
    } catch (error) {
      const reason = String(error instanceof Error ? error.message : error).split('\n')[0];
      batchRefused.set(decoder, reason);
      hooks.log?.(`samples decode one after another, not as one batch: ${reason}`);
      live.sort((a, b) => rows.indexOf(a) - rows.indexOf(b));
      for (const row of live) {
        const resumed = await decoder.prefill([...promptIds, ...row.ids], hooks.isCancelled);
        if (!resumed) row.cancel();
        else await decodeAlone(decoder, row, resumed.logits, hooks.isCancelled);
        if (row.stopReason === 'cancelled') return live.forEach((other) => other.done || other.cancel());
      }
      return;
    }
  }
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
