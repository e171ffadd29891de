// Cancels that arrive for requests the worker is not working on (already finished, never sent) must not
// pile up: a cancel storm would otherwise grow the worker's memory without bound.
import * as assert from 'node:assert/strict';
import type { GenerateOptions, WorkerToHost } from '../../src/protocol';
import { EngineService } from '../../src/worker/engineService';
import { tinyModelDir } from '../support/tinyModel';

const request = (maxNewTokens: number): GenerateOptions => ({
  prompt: 'The quick brown fox',
  maxNewTokens,
  sampling: { topK: 50, topP: 1, temperature: 1, seed: 3 },
  stop: { atNewline: false, strings: [] },
  stream: true,
  samples: 1,
});

type Done = Extract<WorkerToHost, { type: 'done' }>;

/** An EngineService whose replies can be awaited by request id. */
function serviceUnderTest() {
  const messages: WorkerToHost[] = [];
  const waiters: Array<() => void> = [];
  let onMessage: (m: WorkerToHost) => void = () => undefined;
  const service = new EngineService((m) => {
    messages.push(m);
    onMessage(m);
    for (const wake of waiters.splice(0)) wake();
  });
  const reply = async (id: number, type: 'done' | 'loaded' = 'done'): Promise<WorkerToHost> => {
    for (;;) {
      const found = messages.find((m) => 'id' in m && m.id === id && (m.type === type || m.type === 'error'));
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { service, reply, setOnMessage: (fn: (m: WorkerToHost) => void) => (onMessage = fn) };
}

const storm = (service: EngineService, ids: Iterable<number>) => {
  for (const id of ids) service.handle({ type: 'cancel', id });
};

function* range(from: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield from + i;
}

describe('engine service: cancel storms', function () {
  this.timeout(60_000);

  it('remembers no cancel for a finished or unknown request, and still cancels a running and a queued one', async () => {
    const { service, reply, setOnMessage } = serviceUnderTest();
    service.handle({ type: 'load', id: 1, options: { source: { kind: 'folder', path: await tinyModelDir() }, dtype: 'fp32', device: 'cpu', threads: 1 } });
    assert.equal((await reply(1, 'loaded')).type, 'loaded');
    service.handle({ type: 'generate', id: 2, options: request(4) });
    assert.equal((await reply(2)).type, 'done');

    storm(service, [1, 2]); // finished
    storm(service, range(1000, 100_000)); // never sent
    assert.equal(service.pendingCancels, 0);

    let cancelledRunning = false;
    setOnMessage((m) => {
      if (m.type !== 'token' || m.id !== 3 || cancelledRunning) return;
      cancelledRunning = true;
      service.handle({ type: 'cancel', id: 3 }); // running
      service.handle({ type: 'cancel', id: 4 }); // queued behind it
      storm(service, range(200_000, 1000));
      assert.equal(service.pendingCancels, 2);
    });
    service.handle({ type: 'generate', id: 3, options: request(500) });
    service.handle({ type: 'generate', id: 4, options: request(500) });
    const running = (await reply(3)) as Done;
    const queued = (await reply(4)) as Done;
    assert.deepEqual(running.result.stopReasons, ['cancelled']);
    assert.ok(running.result.newTokens <= 2, `${running.result.newTokens} tokens after the cancel`);
    assert.deepEqual(queued.result.stopReasons, ['cancelled']);
    assert.equal(queued.result.newTokens, 0);
    assert.equal(service.pendingCancels, 0, 'cancels are forgotten once their request has finished');
  });
});
