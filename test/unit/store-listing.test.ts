// The store asks the hub which files a repository has, then downloads the ONNX export that exists for the
// dtype: Xenova/* repos have Optimum's merged decoder, onnx-community/* repos only onnx/model*.onnx.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelSource } from '../../src/protocol';
import { loadModel } from '../../src/worker/engine/loadModel';
import { BASE_FILES } from '../../src/worker/onnxFiles';
import { resolveModel } from '../../src/worker/store/modelStore';
import { exportFolder } from '../support/hfExport';
import { LoopbackHub } from '../support/loopbackHub';
import { tinyModelDir } from '../support/tinyModel';

const BASE: string[] = [...BASE_FILES];

/** A large export's layout: the graph in onnx/model.onnx, its weights in onnx/model.onnx_data. */
async function externalDataRepo(into: string): Promise<string> {
  const folder = path.join(into, 'external-data');
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  for (const file of BASE) fs.copyFileSync(path.join(await tinyModelDir(), file), path.join(folder, file));
  fs.writeFileSync(path.join(folder, 'onnx/model.onnx'), Buffer.alloc(10_000, 1));
  fs.writeFileSync(path.join(folder, 'onnx/model.onnx_data'), Buffer.alloc(300_000, 2));
  return folder;
}

describe('model store: which ONNX files a repository has', function () {
  this.timeout(60_000);
  let hub: LoopbackHub;
  let work: string;
  let repos: Record<string, string>;
  let cacheDir: string;
  const source = (modelId: string, over: Partial<Extract<ModelSource, { kind: 'hub' }>> = {}): ModelSource => ({
    kind: 'hub',
    modelId,
    revision: 'main',
    hubUrl: hub.url,
    cacheDir,
    offline: false,
    ...over,
  });
  const fetched = () => hub.requests.filter((r) => r.step !== 'api').map((r) => r.file);
  const sameBytes = (folder: string, repo: string, file: string) => assert.ok(fs.readFileSync(path.join(folder, file)).equals(fs.readFileSync(path.join(repos[repo], file))), file);

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-listing-'));
    // a genuine onnx-community export: onnx/model.onnx and model_quantized.onnx only
    repos = { 'onnx-community/tiny': exportFolder('onnx-community-layout'), 'big/external': await externalDataRepo(work), 'local/tiny': await tinyModelDir() };
    hub = await new LoopbackHub(repos).start();
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    cacheDir = fs.mkdtempSync(path.join(work, 'cache-'));
    hub.requests.length = 0;
    hub.api = true;
  });

  it('downloads onnx/model.onnx for fp32 and onnx/model_quantized.onnx for q8 when the repo has no merged decoder', async () => {
    const fp32 = await resolveModel(source('onnx-community/tiny'), 'fp32');
    assert.deepEqual(fp32.downloaded, [...BASE, 'onnx/model.onnx']);
    for (const file of fp32.downloaded) sameBytes(fp32.folder, 'onnx-community/tiny', file);
    const q8 = await resolveModel(source('onnx-community/tiny'), 'q8');
    assert.deepEqual(q8.downloaded, ['onnx/model_quantized.onnx']);
    sameBytes(q8.folder, 'onnx-community/tiny', 'onnx/model_quantized.onnx');
    assert.deepEqual(fetched().filter((f) => f.includes('decoder_model_merged')), [], 'never asks for a file the listing does not have');
    const model = await loadModel({ folder: q8.folder, name: 'onnx-community/tiny', dtype: 'q8', device: 'cpu', threads: 1 });
    assert.equal(model.info.nLayer, 2, 'the downloaded folder loads');
    await model.dispose();
  });

  it('a cached export is used without any request, online and offline', async () => {
    await resolveModel(source('onnx-community/tiny'), 'q8');
    hub.requests.length = 0;
    assert.deepEqual((await resolveModel(source('onnx-community/tiny'), 'q8')).downloaded, []);
    assert.deepEqual((await resolveModel(source('onnx-community/tiny', { offline: true }), 'q8')).downloaded, []);
    assert.deepEqual(hub.requests, []);
    await assert.rejects(resolveModel(source('onnx-community/tiny', { offline: true }), 'fp32'), /missing onnx\/decoder_model_merged\.onnx or onnx\/model\.onnx\) and offline mode is on/);
  });

  it('names the ONNX files a repo has when none is for the dtype, and downloads nothing', async () => {
    await assert.rejects(resolveModel(source('onnx-community/tiny'), 'q4'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-files');
      assert.equal(
        e.message,
        'onnx-community/tiny@main has no q4 ONNX export (looked for onnx/decoder_model_merged_q4.onnx, onnx/model_q4.onnx); it has onnx/model.onnx, onnx/model_quantized.onnx',
      );
      return true;
    });
    assert.deepEqual(fetched(), []);
  });

  it('downloads the external-data file next to the graph', async () => {
    const resolved = await resolveModel(source('big/external'), 'fp32');
    assert.deepEqual(resolved.downloaded.sort(), [...BASE, 'onnx/model.onnx', 'onnx/model.onnx_data'].sort());
    for (const file of resolved.downloaded) sameBytes(resolved.folder, 'big/external', file);
    hub.requests.length = 0;
    fs.truncateSync(path.join(resolved.folder, 'onnx/model.onnx_data'), 100);
    assert.deepEqual((await resolveModel(source('big/external'), 'fp32')).downloaded, ['onnx/model.onnx_data'], 'the weights count as part of the export');
  });

  it('the project\'s own models (merged decoders) still resolve to the merged file', async () => {
    const resolved = await resolveModel(source('local/tiny'), 'q8');
    assert.deepEqual(resolved.downloaded, [...BASE, 'onnx/decoder_model_merged_quantized.onnx']);
  });

  it('a mirror without the listing endpoint: tries the candidates in order', async () => {
    hub.api = false;
    const resolved = await resolveModel(source('onnx-community/tiny'), 'fp32');
    assert.deepEqual(resolved.downloaded, [...BASE, 'onnx/model.onnx']);
    sameBytes(resolved.folder, 'onnx-community/tiny', 'onnx/model.onnx');
    assert.deepEqual((await resolveModel(source('local/tiny'), 'fp32')).downloaded, [...BASE, 'onnx/decoder_model_merged.onnx']);
    await assert.rejects(resolveModel(source('onnx-community/tiny'), 'q4'), /onnx-community\/tiny@main has no q4 ONNX export \(looked for onnx\/decoder_model_merged_q4\.onnx, onnx\/model_q4\.onnx\)/);
  });
});
