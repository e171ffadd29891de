// Cancellation helpers shared by the pipeline. Every wait in the completion path must end the
// moment the editor gives up on a request, so waits are tied to an AbortSignal instead of a flag
// that someone polls.

/** The error every cancelled wait rejects with; `isAbortError` recognises it and its look-alikes. */
export class AbortError extends Error {
  constructor(message = 'The operation was aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

/**
 * True for our AbortError and for the abort errors of Node and the web platform (DOMException
 * named 'AbortError'), so callers need not know which layer noticed the cancellation first.
 */
export function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/**
 * Resolves after `ms` milliseconds, or rejects with an AbortError as soon as `signal` aborts.
 * The timer is cleared on abort and the listener removed on completion, so a cancelled debounce
 * leaves nothing behind to keep the process alive or leak listeners onto a long-lived signal.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delay);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
