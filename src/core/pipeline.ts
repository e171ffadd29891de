// One ghost-text request, start to finish, in the order it happens:
// debounce -> prefilter -> prompt window -> cache -> generate -> postprocess -> cache put.
//
// Cancellation: one AbortSignal runs through every step. An aborted request resolves to []
// (it never rejects with an abort error) and generate is never called once the signal has
// aborted. Errors from generate that are not cancellations reject, so the host can report them.

import type { ConfidenceCut, GenerateOptions, GenerationResult } from '../protocol';
import { isAbortError, sleep as abortableSleep, throwIfAborted } from './abortable';
import { CompletionCache } from './completionCache';
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
  /** `trigger` lets the host retry a failed model load for an explicit request only. */
  generate(options: GenerateOptions, signal: AbortSignal, trigger: Trigger): Promise<GenerationResult>;
  settings(): Settings;
  /** The clock: injectable so tests need not wait for real debounces. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  log?(message: string): void;
  cache?: CompletionCache;
  promptMaxChars?: number;
}

/** An explicit request offers alternatives to cycle through with Alt+] / Alt+[. */
export const SAMPLES: Readonly<Record<Trigger, number>> = { automatic: 1, invoke: 3 };

export class CompletionPipeline {
  private readonly cache: CompletionCache;

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

  clearCache(): void {
    this.cache.clear();
  }

  private async run(request: CompletionRequest, signal: AbortSignal): Promise<string[]> {
    await this.debounce(request.trigger, signal);
    const settings = this.deps.settings(); // read after the wait: the user may have changed them
    if (!this.prefilter(request, settings)) return [];
    const window = buildPromptWindow({
      textBeforeCursor: request.prefix,
      cursorOffset: request.cursorOffset,
      textAfterCursor: request.lineSuffix,
      maxChars: this.deps.promptMaxChars ?? DEFAULT_PROMPT_MAX_CHARS,
    });
    if (window.prompt.trim() === '') return []; // GPT-2 has nothing to continue
    const job: Job = { request, settings, prompt: window.prompt, context: postprocessContext(window, settings) };
    return this.fromCache(job) ?? (await this.generate(job, signal));
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
