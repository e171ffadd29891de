// Owns the model's lifecycle on the host side: loads it lazily on the first request, reloads when the
// model settings change, exposes one observable state for the status bar, and recovers from a crashed
// worker on the next request. A load that failed is not retried on every keystroke: only when the
// settings change or the user asks for a restart.
import type { GenerateOptions, GenerationResult, LoadOptions, ModelInfo } from '../protocol';
import { AbortError } from '../core/abortable';
import { WorkerClient, WorkerError, type WorkerClientHooks, type WorkerClientOptions } from './workerClient';

export type ModelState =
  | { kind: 'idle' }
  | { kind: 'downloading'; file: string; percent: number }
  | { kind: 'loading' }
  | { kind: 'ready'; info: ModelInfo }
  | { kind: 'generating'; info: ModelInfo }
  | { kind: 'error'; message: string };

export interface ModelControllerHooks {
  onState?(state: ModelState): void;
  onLog?(level: 'trace' | 'info' | 'warn' | 'error', message: string): void;
}

export class ModelController {
  private stateValue: ModelState = { kind: 'idle' };
  private options?: LoadOptions;
  private loading?: { key: string; promise: Promise<ModelInfo> };
  private loaded?: { key: string; info: ModelInfo };
  private failed?: { key: string; error: Error };
  private active = 0;
  readonly client: WorkerClient;

  constructor(workerScript: string, private readonly hooks: ModelControllerHooks = {}, clientOptions: WorkerClientOptions = {}) {
    const clientHooks: WorkerClientHooks = {
      onLog: (level, message) => hooks.onLog?.(level, message),
      onCrash: (reason) => this.crashed(reason),
    };
    this.client = new WorkerClient(workerScript, clientHooks, clientOptions);
  }

  get state(): ModelState {
    return this.stateValue;
  }

  /** New load options take effect on the next request (lazy), so typing in settings loads nothing. */
  configure(options: LoadOptions): void {
    this.options = options;
  }

  async generate(options: GenerateOptions, signal?: AbortSignal, onToken?: (sample: number, text: string) => void): Promise<GenerationResult> {
    const info = await this.ensureLoaded(signal);
    this.active++;
    this.setState({ kind: 'generating', info });
    try {
      return await this.client.generate(options, signal, onToken);
    } finally {
      if (--this.active === 0 && this.stateValue.kind === 'generating') this.setState({ kind: 'ready', info });
    }
  }

  async ensureLoaded(signal?: AbortSignal): Promise<ModelInfo> {
    if (!this.options) throw new WorkerError('bad-request', 'no model configured');
    const key = JSON.stringify(this.options);
    if (this.loaded?.key === key && this.client.running) return this.loaded.info;
    if (this.failed?.key === key) throw this.failed.error;
    if (this.loading?.key !== key) this.loading = { key, promise: this.load(key, this.options) };
    const loading = this.loading.promise;
    if (!signal) return loading;
    // The load goes on for the next request when this one is cancelled: downloads are expensive to restart.
    return Promise.race([loading, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new AbortError()), { once: true }))]);
  }

  /** Forgets a failed load and restarts the worker: the "Restart" action and recovery after fixing files. */
  async restart(): Promise<void> {
    this.failed = undefined;
    this.loaded = undefined;
    this.loading = undefined;
    await this.client.terminate('restarted by the user');
    this.setState({ kind: 'idle' });
  }

  dispose(): Promise<void> {
    return this.client.terminate('the extension was deactivated');
  }

  private async load(key: string, options: LoadOptions): Promise<ModelInfo> {
    this.loaded = undefined; // the worker unloads its model before it loads another, even when that load fails
    this.setState({ kind: 'loading' });
    const started = Date.now();
    try {
      const info = await this.client.load(options, (p) =>
        this.setState(p.phase === 'download' ? { kind: 'downloading', file: p.file, percent: p.percent } : { kind: 'loading' }),
      );
      this.loaded = { key, info };
      this.failed = undefined;
      this.hooks.onLog?.('info', `model ${info.name} (${info.dtype}, ${info.device}, ${info.nLayer} layers, ${info.contextLength} positions) ready in ${Date.now() - started} ms`);
      this.setState({ kind: 'ready', info });
      return info;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      // A crash may have had nothing to do with the model, so that load is tried again; one that stalled the
      // worker ('unresponsive') would stall every fresh worker too, so it is remembered like a bad file.
      if (!(failure instanceof WorkerError && failure.code === 'crashed')) this.failed = { key, error: failure };
      this.setState({ kind: 'error', message: failure.message });
      throw failure;
    } finally {
      if (this.loading?.key === key) this.loading = undefined;
    }
  }

  private crashed(reason: string): void {
    this.loaded = undefined;
    this.loading = undefined;
    // No onLog here: the error state carries the reason, and whoever shows states logs it once (the host's Notifier).
    this.setState({ kind: 'error', message: `${reason}; it restarts on the next request` });
  }

  private setState(state: ModelState): void {
    this.stateValue = state;
    this.hooks.onState?.(state);
  }
}
