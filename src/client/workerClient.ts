// The host's end of the protocol: starts the worker thread, matches replies to requests, turns an
// AbortSignal into a `cancel` message, and reports a crashed worker instead of hanging on it.
import { Worker } from 'node:worker_threads';
import { AbortError } from '../core/abortable';
import type { GenerateOptions, GenerationResult, HostToWorker, LoadOptions, ModelInfo, WorkerToHost } from '../protocol';

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

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onMessage?(message: WorkerToHost): void;
}

export class WorkerClient {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly workerScript: string,
    private readonly hooks: WorkerClientHooks = {},
  ) {}

  get running(): boolean {
    return this.worker !== undefined;
  }

  load(options: LoadOptions, onProgress?: (message: Extract<WorkerToHost, { type: 'progress' }>) => void, signal?: AbortSignal): Promise<ModelInfo> {
    return this.request<ModelInfo>({ type: 'load', id: 0, options }, signal, (m) => m.type === 'progress' && onProgress?.(m));
  }

  generate(options: GenerateOptions, signal?: AbortSignal, onToken?: (sample: number, text: string) => void): Promise<GenerationResult> {
    return this.request<GenerationResult>({ type: 'generate', id: 0, options }, signal, (m) => m.type === 'token' && onToken?.(m.sample, m.text));
  }

  /** Test hook: makes the worker throw, to prove that crashes are reported and recovered from. */
  crashForTest(): void {
    this.send({ type: 'crash', id: this.nextId++ });
  }

  /** Stops the worker thread; pending requests are rejected. The next request starts a new one. */
  async terminate(reason = 'the worker was stopped'): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.rejectAll(new WorkerError('crashed', reason));
    await worker.terminate();
  }

  private request<T>(message: HostToWorker, signal: AbortSignal | undefined, onMessage: (m: WorkerToHost) => void): Promise<T> {
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
    });
  }

  private send(message: HostToWorker): void {
    this.ensureWorker().postMessage(message);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerScript);
    worker.on('message', (message: WorkerToHost) => this.receive(message));
    worker.on('error', (error) => this.died(worker, `the model worker crashed: ${error.message}`));
    worker.on('exit', (code) => this.died(worker, `the model worker exited (code ${code})`));
    this.worker = worker;
    return worker;
  }

  private receive(message: WorkerToHost): void {
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

  private died(worker: Worker, reason: string): void {
    if (this.worker !== worker) return; // an old worker we already replaced
    this.worker = undefined;
    this.rejectAll(new WorkerError('crashed', reason));
    this.hooks.onCrash?.(reason);
  }

  private rejectAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }
}
