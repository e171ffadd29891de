// The host's end of the protocol: starts the worker thread, matches replies to requests, turns an
// AbortSignal into a `cancel` message, and reports a crashed worker instead of hanging on it. A worker whose
// event loop is stuck (a malformed model file; cancel cannot reach it) is ended by a watchdog: the worker sends
// `alive` on a timer, and one that sends nothing at all for `stallTimeoutMs` is terminated.
import { Worker } from 'node:worker_threads';
import { AbortError } from '../core/abortable';
import type { GenerateOptions, GenerationResult, HostToWorker, LoadOptions, ModelInfo, ModelSource, WorkerStartData, WorkerToHost } from '../protocol';
import type { WorkerTestSeam } from '../testSeam';

export class WorkerError extends Error {
  constructor(
    readonly code: Extract<WorkerToHost, { type: 'error' }>['code'],
    message: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

export interface WorkerClientHooks {
  onLog?(level: 'trace' | 'info' | 'warn' | 'error', message: string): void;
  /** The worker died (crash, out of memory, killed). Pending requests have been rejected. */
  onCrash?(reason: string): void;
}

export interface WorkerClientOptions {
  /**
   * End a worker that sends nothing, not even its heartbeat, for this long. Loading a big model blocks the
   * worker's loop for a few seconds while protobufs decode, so this must stay well above that.
   */
  stallTimeoutMs?: number;
  /** Tests only: every worker started is handed to it and told to obey its crash request. */
  testSeam?: WorkerTestSeam;
}

const DEFAULT_STALL_MS = 30_000;
/** Before its first message a worker is still parsing its bundle and loading ONNX Runtime, which says nothing about the model. */
const STARTUP_STALL_MS = 60_000;
const STALL_HINT = 'a model file may be malformed, e.g. a tokenizer regex that never finishes';

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onMessage?(message: WorkerToHost): void;
}

/** What the watchdog knows about the worker it guards. */
interface Watch {
  startedAt: number;
  heardAt?: number;
  lastTick: number;
  timer: NodeJS.Timeout;
  /** Requests sent and not answered yet, cancelled ones included, oldest first: the first one is what the worker is on. */
  unanswered: Map<number, string>;
}

export class WorkerClient {
  private worker?: Worker;
  private watch?: Watch;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly stallMs: number;
  private readonly testSeam?: WorkerTestSeam;
  private model = 'no model';

  constructor(
    private readonly workerScript: string,
    private readonly hooks: WorkerClientHooks = {},
    options: WorkerClientOptions = {},
  ) {
    this.stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
    this.testSeam = options.testSeam;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  load(options: LoadOptions, onProgress?: (message: Extract<WorkerToHost, { type: 'progress' }>) => void, signal?: AbortSignal): Promise<ModelInfo> {
    this.model = describeSource(options.source);
    return this.request<ModelInfo>({ type: 'load', id: 0, options }, signal, (m) => m.type === 'progress' && onProgress?.(m), `loading ${this.model}`);
  }

  generate(options: GenerateOptions, signal?: AbortSignal, onToken?: (sample: number, text: string) => void): Promise<GenerationResult> {
    const onMessage = (m: WorkerToHost) => m.type === 'token' && onToken?.(m.sample, m.text);
    return this.request<GenerationResult>({ type: 'generate', id: 0, options }, signal, onMessage, `generating with ${this.model}`);
  }

  /** Stops the worker thread; pending requests are rejected. The next request starts a new one. */
  async terminate(reason = 'the worker was stopped'): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.forget(worker);
    this.rejectAll(new WorkerError('crashed', reason));
    await worker.terminate();
  }

  private request<T>(message: HostToWorker, signal: AbortSignal | undefined, onMessage: (m: WorkerToHost) => void, doing: string): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        this.send({ type: 'cancel', id });
        reject(new AbortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        fn(...args);
      };
      this.pending.set(id, { resolve: settle(resolve as (v: unknown) => void), reject: settle(reject), onMessage });
      this.send({ ...message, id } as HostToWorker);
      this.watch?.unanswered.set(id, doing);
    });
  }

  private send(message: HostToWorker): void {
    this.ensureWorker().postMessage(message);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const workerData: WorkerStartData = { heartbeatMs: Math.min(1000, this.stallMs / 5), ...(this.testSeam && { testSeam: true }) };
    const worker = new Worker(this.workerScript, { workerData });
    this.testSeam?.attach(worker);
    worker.on('message', (message: WorkerToHost) => this.receive(worker, message));
    worker.on('error', (error) => this.died(worker, `the model worker crashed: ${error.message}`));
    worker.on('exit', (code) => this.died(worker, `the model worker exited (code ${code})`));
    this.worker = worker;
    this.watch = this.startWatch(worker);
    return worker;
  }

  private startWatch(worker: Worker): Watch {
    const period = Math.min(1000, this.stallMs / 4);
    const now = Date.now();
    const watch: Watch = { startedAt: now, lastTick: now, unanswered: new Map(), timer: setInterval(() => this.check(worker, watch, period), period) };
    watch.timer.unref(); // the watchdog alone must not keep the process (the CLI, a test run) alive
    return watch;
  }

  private check(worker: Worker, watch: Watch, period: number): void {
    const now = Date.now();
    // A tick this late means the host's own loop was blocked: what the worker sent meanwhile is still unread.
    if (now - watch.lastTick > 3 * period && watch.heardAt !== undefined) watch.heardAt = now;
    watch.lastTick = now;
    const limit = watch.heardAt === undefined ? Math.max(this.stallMs, STARTUP_STALL_MS) : this.stallMs;
    if (now - (watch.heardAt ?? watch.startedAt) >= limit) this.stalled(worker, limit);
  }

  /** Only a stuck loop is silent this long, and it holds no ONNX Runtime call, so terminating it is safe. */
  private stalled(worker: Worker, limitMs: number): void {
    const doing = this.watch?.unanswered.values().next().value;
    const reason = `the model worker stopped responding for ${limitMs / 1000} s${doing ? ` while ${doing}` : ''} (${STALL_HINT}) and was stopped`;
    this.forget(worker);
    void worker.terminate();
    this.rejectAll(new WorkerError('unresponsive', reason));
    this.hooks.onCrash?.(reason);
  }

  private receive(worker: Worker, message: WorkerToHost): void {
    if (worker === this.worker && this.watch) this.heardFrom(this.watch, message);
    if (message.type === 'alive') return;
    if (message.type === 'log') return this.hooks.onLog?.(message.level, message.message);
    const pending = this.pending.get(message.id);
    if (!pending) return; // a reply to a request that was cancelled meanwhile
    switch (message.type) {
      case 'loaded':
        return pending.resolve(message.info);
      case 'done':
        return pending.resolve(message.result);
      case 'error':
        return pending.reject(new WorkerError(message.code, message.message));
      default:
        return pending.onMessage?.(message);
    }
  }

  private heardFrom(watch: Watch, message: WorkerToHost): void {
    watch.heardAt = Date.now();
    if (message.type === 'loaded' || message.type === 'done' || message.type === 'error') watch.unanswered.delete(message.id);
  }

  private died(worker: Worker, reason: string): void {
    if (this.worker !== worker) return; // an old worker we already replaced
    this.forget(worker);
    this.rejectAll(new WorkerError('crashed', reason));
    this.hooks.onCrash?.(reason);
  }

  private forget(worker: Worker): void {
    if (this.worker !== worker) return;
    clearInterval(this.watch?.timer);
    this.worker = undefined;
    this.watch = undefined;
  }

  private rejectAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }
}

function describeSource(source: ModelSource): string {
  if (source.kind === 'folder') return source.path;
  return source.revision === 'main' ? source.modelId : `${source.modelId}@${source.revision}`;
}
