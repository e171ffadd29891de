// The one way tests reach into a running extension, outside the production protocol. It exists only when the
// environment variable below is set (the e2e runners set it for the VS Code they start): the extension's API then
// carries `testSeam`, and its model workers, started with `testSeam` in their workerData, obey a crash request.
// A worker started without it ignores the request like any message it does not know.
import type { MessagePort, Worker } from 'node:worker_threads';

export const TEST_SEAM_ENV = 'LOCAL_GPT2_TEST_SEAM';

const CRASH_REQUEST = { type: 'test-seam:crash' } as const;

/** What tests may do to the extension. */
export interface TestSeam {
  /** Makes the running model worker throw from its event loop, as a bug in it would, to prove crashes are recovered from. */
  crashWorker(): void;
}

/** The host's end: WorkerClient passes it each worker it starts. */
export class WorkerTestSeam implements TestSeam {
  private worker?: Worker;

  /** A seam when the environment asks for one, else undefined (production). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): WorkerTestSeam | undefined {
    return env[TEST_SEAM_ENV] === '1' ? new WorkerTestSeam() : undefined;
  }

  attach(worker: Worker): void {
    this.worker = worker;
  }

  crashWorker(): void {
    this.worker?.postMessage(CRASH_REQUEST);
  }
}

/** The worker's end: called only for a worker started with the seam. */
export function obeyCrashRequests(port: MessagePort): void {
  port.on('message', (message: { type?: unknown }) => {
    if (message?.type !== CRASH_REQUEST.type) return;
    // Thrown outside any handler's try, like an unexpected bug: the thread dies and the host sees its 'error' event.
    setImmediate(() => {
      throw new Error('crash requested by the host (test seam)');
    });
  });
}
