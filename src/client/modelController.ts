// Owns the model's lifecycle on the host side: loads it lazily on the first request, reloads when the
// model settings change, exposes one observable state for the status bar, and recovers from a crashed
// worker on the next request. A load that failed is not retried on every keystroke: only when the
// settings change, the user asks for a restart or a retry, or an explicit request (Alt+\\, Generate
// continuation) comes after a backoff that doubles with each failure of the same settings.
import type { GenerateOptions, GenerationResult, LoadOptions, ModelInfo } from '../protocol';
import { AbortError } from '../core/abortable';
import { describeLoadFailure, type LoadFailure } from './loadFailure';
import { WorkerClient, WorkerError, type WorkerClientHooks, type WorkerClientOptions } from './workerClient';

export type ModelState =
  | { kind: 'idle' }
  | { kind: 'downloading'; file: string; percent: number }
  | { kind: 'loading' }
  | { kind: 'ready'; info: ModelInfo }
  | { kind: 'generating'; info: ModelInfo }
  /** `failure` is set when a load failed (not when a worker crashed or stalled while generating). */
  | { kind: 'error'; message: string; failure?: LoadFailure };

export interface ModelControllerHooks {
  onState?(state: ModelState): void;
  onLog?(level: 'trace' | 'info' | 'warn' | 'error', message: string): void;
}

/** Explicit requests retry a failed load after 1 s, then 2 s, 4 s, ... up to a minute after the last failure. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

interface Failed {
  key: string;
  error: Error;
  state: Extract<ModelState, { kind: 'error' }>;
  /** Failures in a row with these settings. */
  count: number;
  /** Before this time an explicit request shows the failure again instead of loading. */
  retryAt: number;
}

export class ModelController {
  private stateValue: ModelState = { kind: 'idle' };
  private options?: LoadOptions;
  private loading?: { key: string; promise: Promise<ModelInfo> };
  private loaded?: { key: string; info: ModelInfo };
  private failed?: Failed;
  private active = 0;
  readonly client: WorkerClient;

  constructor(
    workerScript: string,
    private readonly hooks: ModelControllerHooks = {},
    clientOptions: WorkerClientOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    const clientHooks: WorkerClientHooks = {
      onLog: (level, message) => hooks.onLog?.(level, message),
      onCrash: (reason) => this.crashed(reason),
    };
    this.client = new WorkerClient(workerScript, clientHooks, clientOptions);
  }

  get state(): ModelState {
    return this.stateValue;
  }

  /**
   * New load options take effect on the next request (lazy), so typing in settings loads nothing. Says whether
   * they differ from the current ones: a setting that changes nothing that loads (the model id while a local
   * folder wins) reloads nothing.
   */
  configure(options: LoadOptions): boolean {
    const changed = JSON.stringify(options) !== JSON.stringify(this.options);
    this.options = options;
    // An error belongs to the settings it happened with; the new ones have not been tried yet.
    if (changed && this.stateValue.kind === 'error') this.setState({ kind: 'idle' });
    return changed;
  }

  async generate(options: GenerateOptions, signal?: AbortSignal, onToken?: (sample: number, text: string) => void): Promise<GenerationResult> {
    const info = await this.ensureLoaded(signal);
    this.active++;
    this.setState({ kind: 'generating', info });
    try {
      return await this.client.generate(options, signal, onToken);
    } catch (error) {
      // The loaded model's files are no longer what was loaded (tokenRows.ts): the model is not ready, and the
      // file now there is loaded (and probed) by the next request, as after a change of settings.
      if (error instanceof WorkerError && error.code === 'model-files' && this.loaded?.info === info) {
        this.loaded = undefined;
        this.setState({ kind: 'error', message: `${error.message}; the model loads again on the next request` });
      }
      throw error;
    } finally {
      if (--this.active === 0 && this.stateValue.kind === 'generating') this.setState({ kind: 'ready', info });
    }
  }

  async ensureLoaded(signal?: AbortSignal, { explicit = false } = {}): Promise<ModelInfo> {
    if (!this.options) throw new WorkerError('bad-request', 'no model configured');
    const key = JSON.stringify(this.options);
    if (this.loaded?.key === key && this.client.running) return this.loaded.info;
    if (this.failed?.key === key && !(explicit && this.now() >= this.failed.retryAt)) {
      // The user asked, so the failure is shown again rather than nothing happening.
      if (explicit) this.setState(this.failed.state);
      throw this.failed.error;
    }
    if (this.loading?.key !== key) this.loading = { key, promise: this.load(key, this.options) };
    const loading = this.loading.promise;
    if (!signal) return loading;
    // The load goes on for the next request when this one is cancelled: downloads are expensive to restart.
    return Promise.race([loading, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new AbortError()), { once: true }))]);
  }

  /**
   * Call when an explicit request starts: retries a failed load whose backoff has passed, or shows its error
   * again. Never rejects: the request that follows reports a failure like any other.
   */
  async explicitRequest(signal?: AbortSignal): Promise<void> {
    await this.ensureLoaded(signal, { explicit: true }).catch(() => undefined);
  }

  /** The "Retry" action: loads again at once, whatever the backoff; a stale Retry once the model is ready does nothing. */
  async retry(): Promise<void> {
    if (this.failed) this.failed.retryAt = 0;
    await this.explicitRequest();
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
      const described = describeLoadFailure(failure, options.source);
      const state = { kind: 'error' as const, message: described.message, failure: described };
      if (!(failure instanceof WorkerError && failure.code === 'crashed')) this.failed = this.nextFailure(key, failure, state);
      this.setState(state);
      throw failure;
    } finally {
      if (this.loading?.key === key) this.loading = undefined;
    }
  }

  private nextFailure(key: string, error: Error, state: Extract<ModelState, { kind: 'error' }>): Failed {
    const count = this.failed?.key === key ? this.failed.count + 1 : 1;
    return { key, error, state, count, retryAt: this.now() + Math.min(FIRST_RETRY_MS * 2 ** (count - 1), MAX_RETRY_MS) };
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
