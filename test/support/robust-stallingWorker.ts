// A model worker for watchdog tests: the real EngineService, plus requests that stall it the way a malformed
// model does. Its event loop is blocked forever (a catastrophic regex, as in a bad tokenizer.json) by
//   - a load whose folder ends in `hang-on-load`,
//   - a generate whose prompt is `hang`;
// and a generate whose prompt is `slow <ms>` answers only after <ms>, with the event loop free meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import type { HostToWorker, WorkerStartData, WorkerToHost } from '../../src/protocol';
import { EngineService, startHeartbeat } from '../../src/worker/engineService';

const port = parentPort!;
const post = (message: WorkerToHost) => port.postMessage(message);
const service = new EngineService(post);
startHeartbeat(post, workerData as Partial<WorkerStartData> | undefined);

const HANG_ON_LOAD = 'hang-on-load';

function blockForever(): never {
  for (;;) /(a+)+$/.test(`${'a'.repeat(40)}b`);
}

port.on('message', (message: HostToWorker) => {
  if (message.type === 'load' && message.options.source.kind === 'folder' && message.options.source.path.endsWith(HANG_ON_LOAD)) blockForever();
  if (message.type !== 'generate') return service.handle(message);
  const { prompt } = message.options;
  if (prompt === 'hang') blockForever();
  const slow = /^slow (\d+)$/.exec(prompt);
  if (!slow) return service.handle(message);
  setTimeout(() => service.handle({ ...message, options: { ...message.options, prompt: 'slow' } }), Number(slow[1]));
});
