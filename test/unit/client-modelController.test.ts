// The model's lifecycle as the editor sees it: a failed load is remembered (typing does not retry it), an explicit
// request retries it with backoff or shows it again, and the error state never outlives the settings it was for.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelController, type ModelState } from '../../src/client/modelController';
import type { GenerateOptions, LoadOptions } from '../../src/protocol';
import { tinyModelDir } from '../support/tinyModel';
import { workerScript } from '../support/workerScript';

const request: GenerateOptions = { prompt: 'Hello', maxNewTokens: 2, sampling: { topK: 0, topP: 1, temperature: 0 }, stop: { atNewline: false, strings: [] }, stream: false, samples: 1 };
const folder = (p: string): LoadOptions => ({ source: { kind: 'folder', path: p }, dtype: 'fp32', device: 'cpu', threads: 1 });

/** A loopback port with nothing listening: connecting to it is refused at once, like a hub out of reach. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('ModelController: failed loads', function () {
  this.timeout(60_000);
  let controller: ModelController;
  let states: ModelState[];
  let now: number;
  let scratch: string;
  let missing: string;

  beforeEach(() => {
    states = [];
    now = 1_000_000;
    controller = new ModelController(workerScript(), { onState: (s) => states.push(s) }, {}, () => now);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-controller-'));
    missing = path.join(scratch, 'model');
  });
  afterEach(async () => {
    await controller.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** Load attempts: a successful one reports 'loading' again when its files are in place. */
  const loads = () => states.filter((s, i) => s.kind === 'loading' && states[i - 1]?.kind !== 'loading').length;
  const errors = () => states.filter((s) => s.kind === 'error').length;

  it('typing does not retry a failed load; an explicit request does once the backoff has passed', async () => {
    controller.configure(folder(missing));
    await assert.rejects(controller.generate(request), /does not exist/);
    fs.cpSync(await tinyModelDir(), missing, { recursive: true }); // the user fixes the folder
    await assert.rejects(controller.generate(request), /does not exist/);
    assert.equal(loads(), 1, 'an automatic request retried the load');

    now += 1000;
    await controller.explicitRequest();
    assert.equal((await controller.generate(request)).newTokens, 2);
    assert.equal(controller.state.kind, 'ready');
  });

  it('a model file replaced on disk after the load: the request fails by name, the state says so (not "ready"), and the next request loads it again', async () => {
    fs.cpSync(await tinyModelDir(), missing, { recursive: true });
    controller.configure(folder(missing));
    assert.equal((await controller.generate(request)).newTokens, 2);
    const file = path.join(missing, 'onnx', 'decoder_model_merged.onnx');
    fs.copyFileSync(file, file + '.new');
    fs.renameSync(file + '.new', file); // a download or an export writes a new file under the old name
    await assert.rejects(controller.generate({ ...request, prompt: 'Hello there' }), /the model file changed on disk after it was loaded/);
    assert.equal(controller.state.kind, 'error');
    assert.match((controller.state as { message: string }).message, /changed on disk.*loads again on the next request/);
    assert.equal(loads(), 1);
    assert.equal((await controller.generate(request)).newTokens, 2, 'the next request loads the new file');
    assert.equal(loads(), 2);
    assert.equal(controller.state.kind, 'ready');
  });

  it('an explicit request inside the backoff shows the error again without loading; the backoff doubles per failure', async () => {
    controller.configure(folder(missing));
    await assert.rejects(controller.ensureLoaded(), /does not exist/);
    assert.deepEqual([loads(), errors()], [1, 1]);

    now += 500;
    await controller.explicitRequest();
    assert.deepEqual([loads(), errors()], [1, 2], 'shown again, not retried');
    assert.equal(states.at(-1), states.find((s) => s.kind === 'error'), 'the same error state, again');

    now += 500; // 1 s after the first failure: retried, and failed again
    await controller.explicitRequest();
    assert.deepEqual([loads(), errors()], [2, 3]);

    now += 1500; // the second failure waits 2 s
    await controller.explicitRequest();
    assert.deepEqual([loads(), errors()], [2, 4]);
    now += 500;
    await controller.explicitRequest();
    assert.deepEqual([loads(), errors()], [3, 5]);
  });

  it('retry() loads again at once, whatever the backoff', async () => {
    controller.configure(folder(missing));
    await assert.rejects(controller.ensureLoaded(), /does not exist/);
    fs.cpSync(await tinyModelDir(), missing, { recursive: true });
    await controller.retry();
    assert.equal(controller.state.kind, 'ready');
    await controller.retry(); // a stale "Retry" once the model is ready changes nothing
    assert.equal(loads(), 2);
    assert.equal(controller.state.kind, 'ready');
  });

  it('new settings clear the error state of the old ones at once; the same settings keep it', async () => {
    controller.configure(folder(missing));
    await assert.rejects(controller.ensureLoaded(), /does not exist/);
    assert.equal(controller.configure(folder(missing)), false, 'the same settings are no change');
    assert.equal(controller.state.kind, 'error');
    assert.equal(controller.configure(folder(path.join(scratch, 'other'))), true);
    assert.equal(controller.state.kind, 'idle', 'still saying error for settings no longer in use');
  });

  it('a hub out of reach: the error state says so in words and keeps the worker\'s words for the log', async () => {
    const hubUrl = `http://127.0.0.1:${await closedPort()}`;
    controller.configure({ source: { kind: 'hub', modelId: 'Xenova/gpt2', revision: 'main', hubUrl, cacheDir: scratch, offline: false }, dtype: 'q8', device: 'cpu', threads: 1 });
    await assert.rejects(controller.ensureLoaded(), /ECONNREFUSED/);
    const state = controller.state;
    assert.equal(state.kind, 'error');
    assert.equal(state.message, `Could not reach ${hubUrl} to download Xenova/gpt2 (no network or a proxy?)`);
    assert.equal(state.failure?.kind, 'unreachable');
    assert.match(state.failure?.detail ?? '', /ECONNREFUSED/);
  });
});
