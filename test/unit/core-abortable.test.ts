import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { AbortError, isAbortError, sleep, throwIfAborted } from '../../src/core/abortable';

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

/** Mocha arms its own test-timeout timer once the test function returns; count after that. */
async function afterMochaTimer(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('core/abortable', () => {
  describe('sleep', () => {
    it('resolves after the delay', async () => {
      const started = performance.now();
      await sleep(30, new AbortController().signal);
      assert.ok(performance.now() - started >= 25);
    });

    it('rejects with an AbortError as soon as the signal aborts, long before the delay', async () => {
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 10);
      await assert.rejects(sleep(10_000, controller.signal), (error) => isAbortError(error));
      assert.ok(performance.now() - started < 1000);
    });

    it('clears its timer when aborted, so nothing keeps running', async () => {
      await afterMochaTimer();
      const before = activeTimers();
      const controller = new AbortController();
      const pending = sleep(60_000, controller.signal);
      assert.equal(activeTimers(), before + 1);
      controller.abort();
      await pending.catch(() => undefined);
      assert.equal(activeTimers(), before);
    });

    it('rejects at once and starts no timer when the signal is already aborted', async () => {
      await afterMochaTimer();
      const before = activeTimers();
      const pending = sleep(60_000, AbortSignal.abort());
      assert.equal(activeTimers(), before);
      await assert.rejects(pending, AbortError);
    });

    it('removes its abort listener once it has resolved', async () => {
      const controller = new AbortController();
      await sleep(1, controller.signal);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    });

    it('treats negative, NaN and infinite delays as no delay', async () => {
      for (const ms of [-5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const started = performance.now();
        await sleep(ms);
        assert.ok(performance.now() - started < 500, `sleep(${ms}) took too long`);
      }
    });
  });

  describe('isAbortError', () => {
    it('recognises our AbortError and the platform abort errors', () => {
      assert.equal(isAbortError(new AbortError()), true);
      assert.equal(isAbortError(AbortSignal.abort().reason), true);
      assert.equal(isAbortError({ name: 'AbortError' }), true);
    });

    it('rejects everything else', () => {
      for (const value of [new Error('boom'), new TypeError('x'), null, undefined, 'AbortError', 42, {}]) {
        assert.equal(isAbortError(value), false, String(value));
      }
    });
  });

  it('throwIfAborted throws only for an aborted signal', () => {
    assert.doesNotThrow(() => throwIfAborted(new AbortController().signal));
    assert.doesNotThrow(() => throwIfAborted(undefined));
    assert.throws(() => throwIfAborted(AbortSignal.abort()), (error) => isAbortError(error));
  });
});
