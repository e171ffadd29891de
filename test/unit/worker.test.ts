// The model worker: through the real worker thread (WorkerClient + dist/worker.js), and through
// EngineService in-process where a test needs to count decode steps exactly.
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { WorkerClient, WorkerError } from '../../src/client/workerClient';
import { isAbortError } from '../../src/core/abortable';
import type { GenerateOptions, LoadOptions, WorkerStartData, WorkerToHost } from '../../src/protocol';
import { WorkerTestSeam } from '../../src/testSeam';
import { EngineService } from '../../src/worker/engineService';
import { tinyModelDir } from '../support/tinyModel';
import { workerScript } from '../support/workerScript';

const request = (over: Partial<GenerateOptions> = {}): GenerateOptions => ({
  prompt: 'The quick brown fox',
  maxNewTokens: 8,
  sampling: { topK: 50, topP: 1, temperature: 1, seed: 11 },
  stop: { atNewline: false, strings: [] },
  stream: false,
  samples: 1,
  ...over,
});

describe('model worker', function () {
  this.timeout(60_000);
  let load: LoadOptions;
  let client: WorkerClient;
  const logs: string[] = [];
  const crashes: string[] = [];
  const seam = new WorkerTestSeam();

  before(async () => {
    load = { source: { kind: 'folder', path: await tinyModelDir() }, dtype: 'fp32', device: 'cpu', threads: 1 };
    client = new WorkerClient(workerScript(), { onLog: (_l, m) => logs.push(m), onCrash: (r) => crashes.push(r) }, { testSeam: seam });
    await client.load(load);
  });
  after(() => client.terminate());

  it('a model file changed on disk: every request says so (not "no model is loaded") until a load with the same options reads it again', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-worker-'));
    const own = new WorkerClient(workerScript());
    try {
      fs.cpSync(await tinyModelDir(), copy, { recursive: true });
      const options: LoadOptions = { ...load, source: { kind: 'folder', path: copy } };
      await own.load(options);
      const file = path.join(copy, 'onnx', 'decoder_model_merged.onnx');
      fs.copyFileSync(file, file + '.new');
      fs.renameSync(file + '.new', file);
      for (const prompt of ['Hello', 'Hello there']) {
        await assert.rejects(own.generate(request({ prompt })), (error: WorkerError) => {
          assert.equal(error.code, 'model-files');
          assert.match(error.message, /the model file changed on disk after it was loaded/);
          return true;
        });
      }
      await own.load(options);
      assert.equal((await own.generate(request())).newTokens, 8, 'loaded again from the file now there');
    } finally {
      await own.terminate();
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('a fixed seed reproduces a sample, another seed gives another', async () => {
    const a = await client.generate(request({ maxNewTokens: 16 }));
    const b = await client.generate(request({ maxNewTokens: 16 }));
    const c = await client.generate(request({ maxNewTokens: 16, sampling: { topK: 50, topP: 1, temperature: 1, seed: 12 } }));
    assert.equal(a.texts[0], b.texts[0]);
    assert.notEqual(a.texts[0], c.texts[0]);
    assert.equal(a.newTokens, 16);
  });

  it('streams tokens that add up to the final text', async () => {
    let streamed = '';
    const result = await client.generate(request({ stream: true, maxNewTokens: 12 }), undefined, (_s, t) => (streamed += t));
    assert.equal(streamed, result.texts[0]);
  });

  it('asks for a GPU and falls back to CPU with the reason', async () => {
    const info = await client.load({ ...load, device: 'gpu' });
    assert.equal(info.device, 'cpu');
    assert.match(info.fallbackReason ?? '', /^webgpu: .*; cuda: /, 'WebGPU first, then CUDA, each with its reason');
    assert.ok(logs.some((m) => /GPU not used, running on CPU/.test(m)));
    await client.load(load);
  });

  describe('bad input: a clear error or a documented clamp, never a hang', () => {
    it('an empty prompt samples from <|endoftext|>', async () => {
      const result = await client.generate(request({ prompt: '' }));
      assert.equal(result.promptTokens, 1);
      assert.equal(result.newTokens, 8);
    });

    it('a 1 MB prompt is cropped to the window quickly', async () => {
      const started = Date.now();
      const result = await client.generate(request({ prompt: 'lorem ipsum dolor sit amet, '.repeat(40_000) }));
      assert.ok(result.promptTokens <= 1024 - 8, `${result.promptTokens} prompt tokens`);
      assert.ok(result.promptTokens > 500);
      assert.ok(Date.now() - started < 10_000);
    });

    it('a prompt of only special tokens works', async () => {
      const result = await client.generate(request({ prompt: '<|endoftext|><|endoftext|>' }));
      assert.equal(result.promptTokens, 2);
    });

    it('topK 0, -1 and 1e9 mean "no limit" (clamped and logged)', async () => {
      for (const topK of [0, -1, 1e9]) {
        const result = await client.generate(request({ sampling: { topK, topP: 1, temperature: 1, seed: 1 } }));
        assert.equal(result.newTokens, 8);
      }
      assert.ok(logs.some((m) => /topK 1000000000 clamped to 50257/.test(m)), logs.join('\n'));
    });

    it('maxNewTokens 0 answers an empty text at once; huge values are clamped', async () => {
      assert.deepEqual((await client.generate(request({ maxNewTokens: 0 }))).texts, ['']);
      await client.generate(request({ maxNewTokens: 1e6, stop: { atNewline: false, strings: [' '] } }));
      assert.ok(logs.some((m) => /maxNewTokens 1000000 clamped to 1023/.test(m)));
    });

    it('non-numbers and wrong types are refused with a clear error', async () => {
      await assert.rejects(client.generate(request({ sampling: { topK: 50, topP: 1, temperature: NaN } })), /temperature must be a number, got null/);
      await assert.rejects(client.generate({ ...request(), prompt: 42 as unknown as string }), /prompt must be a string/);
      await assert.rejects(client.generate(request({ maxNewTokens: '5' as unknown as number })), (e: WorkerError) => e.code === 'bad-request');
      assert.equal((await client.generate(request())).newTokens, 8, 'the worker still answers');
    });

    it('a broken model folder is reported by name; generate then says no model is loaded; a good load recovers', async () => {
      await assert.rejects(client.load({ ...load, source: { kind: 'folder', path: '/nonexistent/model' } }), /model folder \/nonexistent\/model does not exist/);
      await assert.rejects(client.generate(request()), /no model is loaded/);
      await client.load(load);
      assert.equal((await client.generate(request())).newTokens, 8);
    });
  });

  it('an aborted request rejects at once, and the worker is free again within a step', async () => {
    const abort = new AbortController();
    let tokens = 0;
    const pending = client.generate(request({ maxNewTokens: 1000, stream: true }), abort.signal, () => {
      if (++tokens === 5) abort.abort();
    });
    await assert.rejects(pending, isAbortError);
    const started = Date.now();
    await client.generate(request({ maxNewTokens: 1 }));
    assert.ok(Date.now() - started < 1000, `next request waited ${Date.now() - started} ms`);
  });

  it('a crash in the worker is reported, not hung, and the next request starts a new worker', async () => {
    const pending = client.generate(request({ maxNewTokens: 1000 }));
    seam.crashWorker();
    await assert.rejects(pending, (e: WorkerError) => e.code === 'crashed' && /crash requested by the host/.test(e.message));
    assert.equal(crashes.length, 1);
    await client.load(load);
    assert.equal((await client.generate(request())).newTokens, 8);
  });

  it('a worker started without the test seam ignores its crash request', async () => {
    const start: WorkerStartData = { heartbeatMs: 1000 };
    const worker = new Worker(workerScript(), { workerData: start });
    const errors: Error[] = [];
    worker.on('error', (e) => errors.push(e));
    const plain = new WorkerTestSeam();
    plain.attach(worker);
    try {
      plain.crashWorker();
      worker.postMessage({ type: 'generate', id: 1, options: request() });
      // It still answers, as without the request: there is no model to generate with.
      for (;;) {
        const [message] = (await once(worker, 'message')) as [WorkerToHost];
        if (message.type !== 'error') continue;
        assert.match(message.message, /no model is loaded/);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200)); // the seam's throw would come on a later turn
      assert.deepEqual(errors, []);
    } finally {
      await worker.terminate();
    }
  });
});

describe('engine service: cancellation between decode steps', function () {
  this.timeout(60_000);

  it('stops within one decode step of the cancel', async () => {
    const messages: WorkerToHost[] = [];
    let service!: EngineService;
    let tokensAtCancel = -1;
    service = new EngineService((m) => {
      messages.push(m);
      if (m.type === 'token' && tokensAtCancel < 0 && messages.filter((x) => x.type === 'token').length === 10) {
        tokensAtCancel = 10;
        service.handle({ type: 'cancel', id: 2 });
      }
    });
    service.handle({ type: 'load', id: 1, options: { source: { kind: 'folder', path: await tinyModelDir() }, dtype: 'fp32', device: 'cpu', threads: 1 } });
    service.handle({ type: 'generate', id: 2, options: request({ maxNewTokens: 500, stream: true }) });
    const done = await new Promise<Extract<WorkerToHost, { type: 'done' }>>((resolve) => {
      const timer = setInterval(() => {
        const found = messages.find((m) => m.type === 'done');
        if (found) clearInterval(timer), resolve(found as Extract<WorkerToHost, { type: 'done' }>);
      }, 5);
    });
    assert.deepEqual(done.result.stopReasons, ['cancelled']);
    assert.ok(done.result.newTokens <= tokensAtCancel + 1, `${done.result.newTokens} tokens after cancel at ${tokensAtCancel}`);
  });
});
