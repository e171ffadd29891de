// One ghost-text request, start to finish, in the order it happens:
// debounce -> prefilter -> prompt window -> cache -> generate -> postprocess -> cache put.
//
// Cancellation: one AbortSignal runs through every step. An aborted request resolves to []
// (it never rejects with an abort error) and generate is never called once the signal has
// aborted. Errors from generate that are not cancellations reject, so the host can report them.
//
// Latency budget (settings.latencyBudgetMs, ghost text while typing only): the request to the model streams, and when
// the budget is spent the request answers with the whole words ready so far; the generation goes on in the background
// (a LiveGeneration, see latencyBudget.ts) and puts its whole answer into the cache. A later request that it serves
// (its prompt is this one's plus text already streamed: the user typed or accepted part of the ghost text) waits on it
// instead of asking the model again. Any other request cancels it at once, before its own debounce; so does a
// cancelled request that no other takes over within LIVE_GRACE_MS.

import type { ConfidenceCut, GenerateOptions, GenerationResult } from '../protocol';
import { AbortError, isAbortError, sleep as abortableSleep, throwIfAborted } from './abortable';
import { CompletionCache } from './completionCache';
import { LiveGeneration, readyText } from './latencyBudget';
import { isSingleLine, postprocessAll, type PostprocessContext } from './postprocess/index';
import { buildPromptWindow, DEFAULT_PROMPT_MAX_CHARS, type PromptWindow } from './promptWindow';
import { ghostTextRequest } from './requests';
import { isLanguageEnabled, type Settings } from './settings';

export type Trigger = 'automatic' | 'invoke';

export interface CompletionRequest {
  languageId: string;
  /** Text before the cursor; the host reads at least the prompt bound's worth of characters. */
  prefix: string;
  /** Text after the cursor (its line is what counts); the prompt window cuts and bounds it. */
  lineSuffix: string;
  /** Document offset of the cursor; keeps the prompt window anchored (see promptWindow.ts). */
  cursorOffset?: number;
  documentVersion?: number;
  trigger: Trigger;
}

export interface PipelineDependencies {
  /**
   * `trigger` lets the host retry a failed model load for an explicit request only. `onText` gets each streamed piece
   * of sample 0's text when `options.stream` is set (the latency budget's requests).
   */
  generate(options: GenerateOptions, signal: AbortSignal, trigger: Trigger, onText?: (text: string) => void): Promise<GenerationResult>;
  settings(): Settings;
  /** The clock: injectable so tests need not wait for real debounces. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  log?(message: string): void;
  cache?: CompletionCache;
  promptMaxChars?: number;
}

/** An explicit request offers alternatives to cycle through with Alt+] / Alt+[. */
export const SAMPLES: Readonly<Record<Trigger, number>> = { automatic: 1, invoke: 3 };

/**
 * How long a background generation outlives the cancellation of the request waiting on it. The editor cancels a request
 * when the user types and asks again at once; the new request takes the generation over or cancels it, so this only
 * ends generations nobody asks about any more (the editor was closed, the cursor left).
 */
export const LIVE_GRACE_MS = 1000;

export class CompletionPipeline {
  private readonly cache: CompletionCache;
  /** The one generation that may go on past the request that started it (latency budget). */
  private live?: LiveGeneration;

  constructor(private readonly deps: PipelineDependencies) {
    this.cache = deps.cache ?? new CompletionCache();
  }

  async complete(request: CompletionRequest, signal: AbortSignal): Promise<string[]> {
    try {
      return await this.run(request, signal);
    } catch (error) {
      if (signal.aborted || isAbortError(error)) return [];
      throw error;
    }
  }

  /** Also stops a background generation: what it would cache was asked with settings that no longer hold. */
  clearCache(): void {
    this.stopLive();
    this.cache.clear();
  }

  private async run(request: CompletionRequest, signal: AbortSignal): Promise<string[]> {
    throwIfAborted(signal);
    this.keepLiveOnlyFor(request, signal);
    await this.debounce(request.trigger, signal);
    const settings = this.deps.settings(); // read after the wait: the user may have changed them
    if (!this.prefilter(request, settings)) return [];
    const job = this.job(request, settings);
    if (!job) return []; // GPT-2 has nothing to continue
    return this.fromCache(job) ?? (await this.generate(job, signal));
  }

  private job(request: CompletionRequest, settings: Settings): Job | undefined {
    const window = buildPromptWindow({
      textBeforeCursor: request.prefix,
      cursorOffset: request.cursorOffset,
      textAfterCursor: request.lineSuffix,
      maxChars: this.deps.promptMaxChars ?? DEFAULT_PROMPT_MAX_CHARS,
    });
    if (window.prompt.trim() === '') return undefined;
    return { request, settings, prompt: window.prompt, context: postprocessContext(window, settings) };
  }

  /**
   * Runs when a request arrives, before its debounce: the user typed, and a background generation that does not serve
   * the new text is stopped now, so the worker is free by the time the new request needs it.
   */
  private keepLiveOnlyFor(request: CompletionRequest, signal: AbortSignal): void {
    const live = this.live;
    if (!live || live.outcome) return;
    const job = this.job(request, this.deps.settings());
    if (job && live.typedFor(cacheKey(job, request.trigger)) !== undefined) this.own(live, signal);
    else this.stopLive();
  }

  private stopLive(): void {
    this.live?.cancel();
    this.live = undefined;
  }

  /** `signal`'s request now waits on `live`; when it is cancelled and no other takes over in LIVE_GRACE_MS, `live` stops. */
  private own(live: LiveGeneration, signal: AbortSignal): void {
    live.owner = signal;
    const wait = this.deps.sleep ?? abortableSleep;
    const orphaned = () => {
      if (live.owner !== signal) return;
      wait(LIVE_GRACE_MS, live.timerSignal).then(
        () => live.owner === signal && live.cancel(),
        () => undefined, // the generation ended first
      );
    };
    signal.addEventListener('abort', orphaned, { once: true });
  }

  /** Typing fast cancels the previous request, so only the pause after the last keystroke reaches the model. */
  private async debounce(trigger: Trigger, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (trigger === 'invoke') return; // the user asked: answer now
    const wait = this.deps.sleep ?? abortableSleep;
    await wait(this.deps.settings().debounceMs, signal);
    throwIfAborted(signal);
  }

  /** `enable` and the language map govern ghost text while typing; an explicit request overrides them. */
  private prefilter(request: CompletionRequest, settings: Settings): boolean {
    if (request.trigger === 'invoke') return true;
    return settings.enable && isLanguageEnabled(settings, request.languageId);
  }

  /**
   * Results of an explicit request (3 samples) also serve later automatic ones; an explicit
   * request never settles for a 1-sample result, or there would be nothing to cycle through.
   */
  private fromCache(job: Job): string[] | undefined {
    const triggers: Trigger[] = job.request.trigger === 'invoke' ? ['invoke'] : ['invoke', 'automatic'];
    for (const trigger of triggers) {
      const hit = this.cache.get(cacheKey(job, trigger));
      // Typed-through remainders meet a new line prefix, so they are cleaned again.
      if (hit !== undefined) return postprocessAll(hit, job.context);
    }
    return undefined;
  }

  /** Called with no await since the debounce's abort check, so an aborted request never gets here. */
  private async generate(job: Job, signal: AbortSignal): Promise<string[]> {
    const key = cacheKey(job, job.request.trigger);
    const live = this.live;
    if (live && live.typedFor(key) !== undefined) {
      this.own(live, signal);
      return this.showFrom(live, job, signal);
    }
    this.stopLive();
    const budget = job.request.trigger === 'automatic' ? job.settings.latencyBudgetMs : 0;
    return budget > 0 ? this.showFrom(this.startLive(job, key, budget, signal), job, signal) : this.generateWhole(job, signal);
  }

  /** Without a budget: one request with the editor's signal, answered with the whole text. */
  private async generateWhole(job: Job, signal: AbortSignal): Promise<string[]> {
    const result = await this.deps.generate(generateOptions(job), signal, job.request.trigger);
    const completions = postprocessAll(result.texts, job.context);
    // Cached even when this request was aborted meanwhile: the keystroke that aborted it is
    // often the first character of this very suggestion, and typing-through can serve it.
    // A generation cut short by cancellation is not the model's whole answer, so it is not kept.
    if (!result.stopReasons.includes('cancelled')) this.cache.put(cacheKey(job, job.request.trigger), completions);
    this.deps.log?.(describeGeneration(job.request, result, completions.length));
    throwIfAborted(signal);
    return completions;
  }

  /** A streaming request whose budget timer starts now; its whole answer goes into the cache, whoever still waits for it. */
  private startLive(job: Job, key: string, budgetMs: number, signal: AbortSignal): LiveGeneration {
    const live = new LiveGeneration(key, job.context);
    this.live = live;
    this.own(live, signal);
    const wait = this.deps.sleep ?? abortableSleep;
    wait(budgetMs, live.timerSignal).then(
      () => live.spendBudget(),
      () => undefined, // it ended within the budget
    );
    const options: GenerateOptions = { ...generateOptions(job), stream: true };
    this.deps.generate(options, live.signal, job.request.trigger, (text) => live.append(text)).then(
      (result) => {
        if (live.outcome) return; // cancelled meanwhile: what it would cache was not asked for any more
        if (result.stopReasons.includes('cancelled')) return live.cancel();
        const completions = postprocessAll(result.texts, job.context);
        this.cache.put(key, completions);
        this.deps.log?.(describeGeneration(job.request, result, completions.length));
        live.finish({ kind: 'done', completions });
      },
      (error: unknown) => live.finish(live.signal.aborted || isAbortError(error) ? { kind: 'cancelled' } : { kind: 'failed', error }),
    );
    return live;
  }

  /**
   * What `live` has for `job` (its own request, or one that typed part of its text): its whole answer when it ends in
   * time, else once the budget is spent the whole words ready so far, or the first ones that come.
   */
  private async showFrom(live: LiveGeneration, job: Job, signal: AbortSignal): Promise<string[]> {
    const typed = cacheKey(job, job.request.trigger).slice(live.key.length);
    for (;;) {
      throwIfAborted(signal);
      const outcome = live.outcome;
      if (outcome?.kind === 'failed') throw outcome.error;
      if (outcome?.kind === 'cancelled') throw new AbortError();
      if (outcome?.kind === 'done') {
        const rest = outcome.completions.filter((c) => c.length > typed.length && c.startsWith(typed)).map((c) => c.slice(typed.length));
        // Typed to the very end of it: this generation has nothing more to say, the model is asked again.
        if (rest.length === 0 && typed !== '') return this.generate(job, signal);
        return postprocessAll(rest, job.context);
      }
      if (live.budgetSpent) {
        const streamed = live.text.slice(typed.length);
        const shown = postprocessAll([readyText(streamed)], job.context);
        if (shown.length > 0) {
          this.deps.log?.(
            `completion (${job.request.trigger}, v${job.request.documentVersion ?? '?'}): latency budget spent, showing ` +
              `${shown[0]!.length} of ${streamed.length} characters streamed so far; the generation goes on for the cache`,
          );
          return shown;
        }
      }
      await live.changed(signal);
    }
  }
}

/** One request on its way through the pipeline, after the prompt window is known. */
interface Job {
  request: CompletionRequest;
  settings: Settings;
  prompt: string;
  context: PostprocessContext;
}

function postprocessContext(window: PromptWindow, settings: Settings): PostprocessContext {
  const linePrefix = window.prompt.slice(window.prompt.lastIndexOf('\n') + 1);
  return { linePrefix, lineSuffix: window.lineSuffix, multiline: settings.multiline };
}

function generateOptions({ prompt, settings, context, request }: Job): GenerateOptions {
  return ghostTextRequest(settings, { prompt, singleLine: isSingleLine(context), samples: SAMPLES[request.trigger] });
}

/**
 * Everything that changes what the model or the filters would produce goes in front of the
 * prompt, so the prompt stays last and "typing through" (old key is a prefix of the new key) works.
 */
function cacheKey({ prompt, settings, context }: Job, trigger: Trigger): string {
  // latencyBudgetMs is not in it: the cache only ever holds whole answers.
  const { multiline, maxNewTokens, topK, topP, temperature, minTokenProbability } = settings;
  const header = JSON.stringify([trigger, multiline, maxNewTokens, topK, topP, temperature, minTokenProbability, context.lineSuffix]);
  return `${header}\u0000${prompt}`;
}

function describeGeneration(request: CompletionRequest, result: GenerationResult, kept: number): string {
  const { promptTokens, reusedTokens, newTokens, timings } = result;
  return (
    `completion (${request.trigger}, v${request.documentVersion ?? '?'}): ${kept}/${result.texts.length} kept, ` +
    `${promptTokens} prompt tokens (${reusedTokens} reused), ${newTokens} new, ${Math.round(timings.totalMs)} ms` +
    (result.confidenceCuts ?? []).map(describeCut).join('')
  );
}

function describeCut({ sample, token, probability }: ConfidenceCut): string {
  return `; sample ${sample} cut for low confidence at new token ${token} (p=${probability.toPrecision(2)})`;
}
