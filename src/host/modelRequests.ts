// The two ways a request reaches the model, both counted by the RequestTracker. Ghost text while typing never
// retries a failed load (it would on every keystroke); an explicit request (Alt+\, Generate continuation) first
// retries it once its backoff has passed, or shows the failure again.
import type { ModelController } from '../client/modelController';
import type { Trigger } from '../core/pipeline';
import type { GenerateOptions, GenerationResult } from '../protocol';
import type { StreamingGenerate } from './generateCommand';
import type { RequestTracker } from './requestTracker';

export class ModelRequests {
  constructor(
    private readonly controller: ModelController,
    private readonly tracker: RequestTracker,
  ) {}

  /** The completion pipeline's generate; `onText` streams (the latency budget's requests set `options.stream`). */
  readonly inline = async (options: GenerateOptions, signal: AbortSignal, trigger?: Trigger, onText?: (text: string) => void): Promise<GenerationResult> => {
    if (trigger === 'invoke') await this.controller.explicitRequest(signal);
    return this.tracker.run('inline', options, signal, onText);
  };

  /** Generate continuation's. */
  readonly continuation: StreamingGenerate = async (options, signal, onText) => {
    await this.controller.explicitRequest(signal);
    return this.tracker.run('generate', options, signal, onText);
  };
}
