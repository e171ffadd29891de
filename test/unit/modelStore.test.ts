// The real download code against a hub-shaped server on 127.0.0.1 serving the generated tiny model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelSource } from '../../src/protocol';
import { loadModel } from '../../src/worker/engine/loadModel';
import { downloadFile } from '../../src/worker/store/download';
import { resolveModel, snapshotFolder } from '../../src/worker/store/modelStore';
import { BASE_FILES } from '../../src/worker/onnxFiles';
import { LoopbackHub } from '../support/loopbackHub';
import { tinyModelDir } from '../support/tinyModel';

const MODEL = 'local/tiny-gpt2';
const ONNX = 'onnx/decoder_model_merged.onnx';
const FP32_FILES = [...BASE_FILES, ONNX];

describe('model store (loopback hub)', function () {
  this.timeout(60_000);
  let hub: LoopbackHub;
  let cacheDir: string;
  let tiny: string;
  const source = (over: Partial<Extract<ModelSource, { kind: 'hub' }>> = {}): ModelSource => ({
    kind: 'hub',
    modelId: MODEL,
    revision: 'main',
    hubUrl: hub.url,
    cacheDir,
    offline: false,
    ...over,
  });
  const onnxRequests = () => hub.requests.filter((r) => r.file === ONNX && r.step === 'cdn'); // the ones that carry its bytes

  before(async () => {
    tiny = await tinyModelDir();
    hub = await new LoopbackHub({ [MODEL]: tiny }).start();
  });
  after(() => hub.stop());
  beforeEach(() => {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-cache-'));
    hub.requests.length = 0;
    hub.faults.clear();
  });
  afterEach(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  it('downloads with progress, caches, and a second resolve makes no request', async () => {
    const progress: { file: string; loaded: number; total: number }[] = [];
    const first = await resolveModel(source(), 'fp32', { onProgress: (file, loaded, total) => progress.push({ file, loaded, total }) });
    assert.deepEqual(first.downloaded, FP32_FILES);
    const onnxSize = fs.statSync(path.join(tiny, ONNX)).size;
    const last = progress.filter((p) => p.file === ONNX).at(-1)!;
    assert.deepEqual([last.loaded, last.total], [onnxSize, onnxSize]);
    assert.ok(progress.filter((p) => p.file === ONNX).length > 1, 'progress came in several steps');
    for (const file of FP32_FILES) assert.deepEqual(fs.readFileSync(path.join(first.folder, file)), fs.readFileSync(path.join(tiny, file)));
    assert.ok(first.folder.startsWith(cacheDir));

    hub.requests.length = 0;
    const second = await resolveModel(source(), 'fp32');
    assert.deepEqual(second.downloaded, []);
    assert.equal(hub.requests.length, 0);
    const model = await loadModel({ folder: second.folder, name: MODEL, dtype: 'fp32', device: 'cpu', threads: 1 });
    assert.equal(model.info.nLayer, 2);
    await model.dispose();
  });

  it('resumes a truncated download with a Range request', async () => {
    hub.injectFault(ONNX, 'truncate');
    const log: string[] = [];
    await resolveModel(source(), 'fp32', { log: (m) => log.push(m) });
    const [first, second] = onnxRequests();
    assert.equal(first.range, undefined);
    assert.match(second.range ?? '', /^bytes=\d+-$/, 'the retry resumed instead of starting over');
    assert.ok(log.some((m) => /retrying once/.test(m)), log.join('\n'));
    assert.deepEqual(fs.readFileSync(path.join(snapshotFolder(cacheDir, MODEL, 'main'), ONNX)), fs.readFileSync(path.join(tiny, ONNX)));
  });

  it('detects a corrupted download by checksum, deletes it, and fetches it again', async () => {
    hub.injectFault(ONNX, 'corrupt');
    const resolved = await resolveModel(source(), 'fp32');
    assert.equal(onnxRequests().length, 2);
    assert.equal(onnxRequests()[1].range, undefined, 'a corrupted file is refetched whole');
    assert.deepEqual(fs.readFileSync(path.join(resolved.folder, ONNX)), fs.readFileSync(path.join(tiny, ONNX)));
  });

  it('reports a file that stays corrupted with a clear error and keeps nothing of it', async () => {
    hub.injectFault(ONNX, 'corrupt');
    hub.injectFault(ONNX, 'corrupt');
    await assert.rejects(resolveModel(source(), 'fp32'), /decoder_model_merged\.onnx: checksum mismatch/);
    const folder = snapshotFolder(cacheDir, MODEL, 'main');
    assert.equal(fs.existsSync(path.join(folder, ONNX)), false);
    assert.equal(fs.existsSync(path.join(folder, ONNX + '.partial')), false);
    // ...and the next attempt repairs the cache
    await resolveModel(source(), 'fp32');
    assert.deepEqual(fs.readFileSync(path.join(folder, ONNX)), fs.readFileSync(path.join(tiny, ONNX)));
  });

  it('never treats a partial file as downloaded: a cached file that shrank is fetched again', async () => {
    const { folder } = await resolveModel(source(), 'fp32');
    fs.truncateSync(path.join(folder, ONNX), 1000);
    hub.requests.length = 0;
    const again = await resolveModel(source(), 'fp32');
    assert.deepEqual(again.downloaded, [ONNX]);
    assert.equal(fs.statSync(path.join(folder, ONNX)).size, fs.statSync(path.join(tiny, ONNX)).size);
  });

  it('offline with an empty cache gives a clear error and makes no request', async () => {
    await assert.rejects(resolveModel(source({ offline: true }), 'fp32'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'offline');
      assert.match(e.message, /local\/tiny-gpt2@main is not fully downloaded \(missing config\.json, .*\) and offline mode is on/);
      return true;
    });
    assert.equal(hub.requests.length, 0);
  });

  it('offline with a complete cache works', async () => {
    await resolveModel(source(), 'fp32');
    hub.requests.length = 0;
    const resolved = await resolveModel(source({ offline: true }), 'fp32');
    assert.deepEqual(resolved.downloaded, []);
    assert.equal(hub.requests.length, 0);
  });

  it('names the missing file for an unknown model, revision or dtype', async () => {
    await assert.rejects(resolveModel(source({ modelId: 'nobody/nothing' }), 'fp32'), /config\.json: not found at .*nobody\/nothing\/resolve\/main\/config\.json \(404\)/);
    await assert.rejects(resolveModel(source({ revision: 'v9' }), 'fp32'), /config\.json: not found at .*\/resolve\/v9\/config\.json \(404\)/);
  });

  it('refuses model ids that could walk out of the cache folder', async () => {
    for (const modelId of ['../etc', 'a/../../b', '/abs/path', 'a/b/c']) {
      await assert.rejects(resolveModel(source({ modelId }), 'fp32'), /is not a Hugging Face model id/);
    }
    assert.equal(hub.requests.length, 0);
  });

  it('a server error is reported, and the next attempt succeeds', async () => {
    hub.injectFault('config.json', 'status500');
    hub.injectFault('config.json', 'status500');
    await assert.rejects(resolveModel(source(), 'fp32'), /config\.json: the server answered 500/);
    await resolveModel(source(), 'fp32');
  });

  it('a stalled connection times out with a resumable partial file', async () => {
    hub.injectFault(ONNX, 'stall');
    const dest = path.join(cacheDir, 'stalled.onnx');
    const url = `${hub.url}/${MODEL}/resolve/main/${ONNX}`;
    await assert.rejects(downloadFile(url, dest, { idleTimeoutMs: 300 }), /no data from .* for 0\.3 s; the next attempt resumes/);
    assert.ok(fs.statSync(dest + '.partial').size > 0);
    assert.equal(fs.existsSync(dest), false);
    await downloadFile(url, dest);
    assert.equal(onnxRequests().at(-1)!.range, `bytes=${fs.statSync(path.join(tiny, ONNX)).size >> 1}-`);
    assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(path.join(tiny, ONNX)));
  });

  it('a local folder is used as it is, and a missing one is named', async () => {
    assert.equal((await resolveModel({ kind: 'folder', path: tiny }, 'fp32')).folder, tiny);
    await assert.rejects(resolveModel({ kind: 'folder', path: path.join(cacheDir, 'nope') }, 'fp32'), /model folder .*nope does not exist/);
    // Relative to the extension host's working folder, which nobody chose: said as such, whether or not it exists there.
    for (const relative of ['models/nope', path.relative(process.cwd(), tiny)]) {
      await assert.rejects(resolveModel({ kind: 'folder', path: relative }, 'fp32'), new RegExp(`^EngineError: ${relative}: not an absolute path`));
    }
  });
});
