// The worker's request handling, free of worker_threads so that tests can drive it directly.
// Requests run one at a time in arrival order; `cancel` is honoured between two decode steps,
// or before a queued request starts.
import type { GenerateOptions, GenerationResult, HostToWorker, LoadOptions, WorkerStartData, WorkerToHost } from '../protocol';
import { EngineError, errorMessage } from './errors';
import { generate } from './engine/generate';
import { normalizeGenerateOptions } from './engine/generateOptions';
import { loadModel, type LoadedModel } from './engine/loadModel';
import { resolveModel } from './store/modelStore';

export class EngineService {
  private model?: LoadedModel;
  private modelKey?: string;
  /** Set when the model's files changed on disk after its load: why it cannot generate until loaded again. */
  private stale?: EngineError;
  private queue: Promise<void> = Promise.resolve();
  private readonly cancelled = new Set<number>();
  /** Ids enqueued and not yet finished: a cancel for any other id has nothing to stop and is dropped. */
  private readonly unfinished = new Set<number>();
  private readonly downloads = new Map<number, AbortController>();

  constructor(private readonly post: (message: WorkerToHost) => void) {}

  /** How many cancels are remembered for requests that have not finished yet (tests watch it stay bounded). */
  get pendingCancels(): number {
    return this.cancelled.size;
  }

  handle(message: HostToWorker): void {
    switch (message.type) {
      case 'cancel':
        if (this.unfinished.has(message.id)) this.cancelled.add(message.id);
        this.downloads.get(message.id)?.abort();
        return;
      case 'load':
        return this.enqueue(message.id, () => this.load(message.id, message.options));
      case 'generate':
        return this.enqueue(message.id, () => this.generate(message.id, message.options));
      case 'dispose':
        return this.enqueue(message.id, () => this.unload());
    }
  }

  private enqueue(id: number, job: () => Promise<void>): void {
    this.unfinished.add(id);
    this.queue = this.queue.then(async () => {
      try {
        await job();
      } catch (error) {
        const code = error instanceof EngineError ? error.code : 'runtime';
        this.post({ type: 'error', id, code, message: errorMessage(error) });
      } finally {
        this.unfinished.delete(id);
        this.cancelled.delete(id);
      }
    });
  }

  private async load(id: number, options: LoadOptions): Promise<void> {
    const key = JSON.stringify(options);
    if (this.model && key === this.modelKey && !this.stale) return this.post({ type: 'loaded', id, info: this.model.info });
    await this.unload();
    const abort = new AbortController();
    this.downloads.set(id, abort);
    try {
      const resolved = await resolveModel(options.source, options.dtype, {
        signal: abort.signal,
        log: (message) => this.post({ type: 'log', level: 'info', message }),
        onProgress: (file, loaded, total) =>
          this.post({ type: 'progress', id, phase: 'download', file, loaded, total, percent: total > 0 ? Math.floor((100 * loaded) / total) : 0 }),
      });
      this.post({ type: 'progress', id, phase: 'load', file: resolved.folder, loaded: 0, total: 0, percent: 0 });
      const { dtype, device, threads } = options;
      const log = (message: string) => this.post({ type: 'log', level: 'info', message });
      this.model = await loadModel({ folder: resolved.folder, name: resolved.name, dtype, device, threads, log, probeCacheDir: options.stateDir });
      this.modelKey = key;
      if (this.model.info.fallbackReason) this.post({ type: 'log', level: 'warn', message: `GPU not used, running on CPU: ${this.model.info.fallbackReason}` });
      this.post({ type: 'loaded', id, info: this.model.info });
    } finally {
      this.downloads.delete(id);
    }
  }

  private async generate(id: number, raw: GenerateOptions): Promise<void> {
    if (!this.model) throw new EngineError('bad-request', 'no model is loaded; send a load request first');
    if (this.stale) throw this.stale;
    const { decoder, codec, info } = this.model;
    const { options, notes } = normalizeGenerateOptions(raw, info.contextLength);
    for (const note of notes) this.post({ type: 'log', level: 'warn', message: `request ${id}: ${note}` });
    const isCancelled = () => this.cancelled.has(id);
    if (isCancelled() || options.maxNewTokens === 0) return this.post({ type: 'done', id, result: emptyResult(isCancelled()) });
    const result = await generate(decoder, codec, options, {
      isCancelled,
      onText: (sample, text) => options.stream && this.post({ type: 'token', id, sample, text }),
      log: (message) => this.post({ type: 'log', level: 'info', message }),
    }).catch((error: unknown) => {
      // The loaded model's files are no longer what was loaded (tokenRows.ts): every request says so until a load
      // reads them again (a load with the same options no longer answers with this model).
      if (error instanceof EngineError && error.code === 'model-files') this.stale = error;
      throw error;
    });
    this.post({ type: 'done', id, result });
  }

  private async unload(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    this.modelKey = undefined;
    this.stale = undefined;
    await model?.dispose();
  }
}

const DEFAULT_HEARTBEAT_MS = 1000;

/**
 * Posts `alive` now and then on a timer, busy or idle, so that the host can tell a worker working through a long
 * request from one whose event loop is stuck; silence while idle means stuck too. The timer does not keep the
 * thread alive.
 */
export function startHeartbeat(post: (message: WorkerToHost) => void, start?: Partial<WorkerStartData>): void {
  post({ type: 'alive' });
  setInterval(() => post({ type: 'alive' }), start?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS).unref();
}

function emptyResult(cancelled: boolean): GenerationResult {
  return {
    texts: cancelled ? [] : [''],
    stopReasons: [cancelled ? 'cancelled' : 'length'],
    promptTokens: 0,
    reusedTokens: 0,
    newTokens: 0,
    timings: { prefillMs: 0, decodeMs: 0, totalMs: 0 },
  };
}
