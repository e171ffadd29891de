// A model can block the worker's event loop forever (a catastrophic regex in tokenizer.json): cancel cannot
// reach it, so the host ends a worker that has gone quiet, rejects what was pending with a clear error and
// starts a fresh worker for the next request.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelController } from '../../src/client/modelController';
import { WorkerClient, WorkerError } from '../../src/client/workerClient';
import { isAbortError } from '../../src/core/abortable';
import type { GenerateOptions, LoadOptions } from '../../src/protocol';
import { tinyModelDir } from '../support/tinyModel';
import { workerScript } from '../support/workerScript';

const STALLING_WORKER = path.join(__dirname, '../support/robust-stallingWorker.cjs');
// Loading even the tiny model blocks the worker's loop for about 0.5 s, and ending a worker while ONNX Runtime
// creates a session aborts the whole process, so the limit stays well above that.
const STALL_MS = 2000;

const request = (prompt: string): GenerateOptions => ({
  prompt,
  maxNewTokens: 4,
  sampling: { topK: 50, topP: 1, temperature: 1, seed: 5 },
  stop: { atNewline: false, strings: [] },
  stream: false,
  samples: 1,
});
const folder = (dir: string): LoadOptions => ({ source: { kind: 'folder', path: dir }, dtype: 'fp32', device: 'cpu', threads: 1 });
const unresponsive = (pattern: RegExp) => (e: unknown) => e instanceof WorkerError && e.code === 'unresponsive' && pattern.test(e.message);

async function elapsed<T>(work: Promise<T>): Promise<number> {
  const started = Date.now();
  await work.catch(() => undefined);
  return Date.now() - started;
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('watchdog: a worker whose event loop is stuck is ended and replaced', function () {
  this.timeout(30_000);
  let tiny: LoadOptions;
  before(async () => (tiny = folder(await tinyModelDir())));

  describe('WorkerClient', () => {
    let client: WorkerClient;
    let crashes: string[];
    beforeEach(async () => {
      crashes = [];
      client = new WorkerClient(STALLING_WORKER, { onCrash: (reason) => crashes.push(reason) }, { stallTimeoutMs: STALL_MS });
      await client.load(tiny); // the worker has started: what follows times the stall alone
    });
    afterEach(() => client.terminate());

    it('rejects a load that blocks the worker forever, names the model, and the next request runs on a fresh worker', async () => {
      const hanging = client.load(folder('/models/hang-on-load'));
      const ms = await elapsed(assert.rejects(hanging, unresponsive(/stopped responding for 2 s while loading \/models\/hang-on-load.*tokenizer regex/)));
      assert.ok(ms < 4 * STALL_MS, `rejected after ${ms} ms`);
      assert.equal(crashes.length, 1);
      await client.load(tiny);
      assert.equal((await client.generate(request('Hello'))).newTokens, 4);
    });

    it('rejects a generate that blocks the worker forever, and everything queued behind it', async () => {
      const hanging = client.generate(request('hang'));
      const queued = client.generate(request('Hello'));
      await assert.rejects(hanging, unresponsive(/while generating with .*models\/tiny/));
      await assert.rejects(queued, unresponsive(/while generating/));
      await client.load(tiny);
      assert.equal((await client.generate(request('Hello'))).newTokens, 4);
    });

    it('ends a stuck worker even when its request was cancelled, as cancel cannot reach it', async () => {
      const abort = new AbortController();
      const hanging = client.generate(request('hang'), abort.signal);
      abort.abort();
      await assert.rejects(hanging, isAbortError);
      await until(() => crashes.length === 1, 4 * STALL_MS);
      assert.match(crashes[0], /stopped responding for 2 s while generating/);
      await client.load(tiny);
      assert.equal((await client.generate(request('Hello'))).newTokens, 4);
    });

    it('keeps a slow request whose worker stays responsive (3x the timeout)', async () => {
      const result = await client.generate(request(`slow ${3 * STALL_MS}`));
      assert.equal(result.newTokens, 4);
      assert.deepEqual(crashes, []);
    });

    it('does not blame the worker when the host itself was blocked', async () => {
      const pending = client.generate(request('slow 100'));
      const deadline = Date.now() + 1.5 * STALL_MS;
      while (Date.now() < deadline); // the host's own loop is stuck: the worker's heartbeats wait unread
      assert.equal((await pending).newTokens, 4);
      assert.deepEqual(crashes, []);
    });
  });

  describe('ModelController', () => {
    let controller: ModelController;
    beforeEach(() => (controller = new ModelController(STALLING_WORKER, {}, { stallTimeoutMs: STALL_MS })));
    afterEach(() => controller.dispose());

    it('remembers a load that stalled as failed for those settings, with the reason in the error state', async () => {
      controller.configure(folder('/models/hang-on-load'));
      await assert.rejects(controller.generate(request('Hello')), unresponsive(/while loading \/models\/hang-on-load/));
      assert.equal(controller.state.kind, 'error');
      assert.match((controller.state as { message: string }).message, /stopped responding for 2 s while loading \/models\/hang-on-load.*tokenizer regex/);
      const retried = await elapsed(assert.rejects(controller.generate(request('Hello')), unresponsive(/while loading/)));
      assert.ok(retried < 100, `a keystroke retried the load (${retried} ms)`);
      assert.equal(controller.client.running, false, 'no worker was started for settings known to stall');
      controller.configure(tiny);
      assert.equal((await controller.generate(request('Hello'))).newTokens, 4);
    });

    it('retries a generate that stalled on the next request, on a fresh worker', async () => {
      controller.configure(tiny);
      await assert.rejects(controller.generate(request('hang')), unresponsive(/while generating/));
      assert.match((controller.state as { message: string }).message, /stopped responding .* while generating.*; it restarts on the next request/);
      assert.equal((await controller.generate(request('Hello'))).newTokens, 4);
      assert.equal(controller.state.kind, 'ready');
    });
  });

  describe('the bundled worker with a malformed model', () => {
    it('a tokenizer regex that never finishes stalls generate; the worker is replaced and a good model works', async () => {
      const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-bad-regex-'));
      fs.cpSync(tiny.source.kind === 'folder' ? tiny.source.path : '', bad, { recursive: true });
      const tokenizer = JSON.parse(fs.readFileSync(path.join(bad, 'tokenizer.json'), 'utf8'));
      tokenizer.normalizer = { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: 'x' };
      fs.writeFileSync(path.join(bad, 'tokenizer.json'), JSON.stringify(tokenizer));
      const client = new WorkerClient(workerScript(), {}, { stallTimeoutMs: STALL_MS });
      try {
        await client.load(folder(bad));
        await assert.rejects(client.generate(request(`${'a'.repeat(40)}b`)), unresponsive(/stopped responding for 2 s while generating with .*gpt2-bad-regex/));
        await client.load(tiny);
        assert.equal((await client.generate(request('Hello'))).newTokens, 4);
      } finally {
        await client.terminate();
        fs.rmSync(bad, { recursive: true, force: true });
      }
    });
  });
});
