// Broken model files: every failure names the file, nothing half-loaded is used, and the next attempt repairs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../../src/worker/engine/generate';
import { loadModel } from '../../src/worker/engine/loadModel';
import { weightsToSafetensors } from '../../scripts/model/safetensorsWriter';
import { randomWeights } from '../../scripts/model/randomWeights';
import { resolveModel, snapshotFolder } from '../../src/worker/store/modelStore';
import { LoopbackHub } from '../support/loopbackHub';
import { TINY, tinyModelDir } from '../support/tinyModel';

const noHooks = { isCancelled: () => false, onText: () => undefined };

const ONNX = 'onnx/decoder_model_merged.onnx';

describe('broken model files', function () {
  this.timeout(60_000);
  let tiny: string;
  let work: string;
  let folder: string;

  before(async () => (tiny = await tinyModelDir()));
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-files-'));
    folder = path.join(work, 'model');
    fs.cpSync(tiny, folder, { recursive: true });
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const load = () => loadModel({ folder, name: 'broken', dtype: 'fp32', device: 'cpu', threads: 1 });
  const expectFileError = async (file: string, why: RegExp) => {
    await assert.rejects(load(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-files');
      assert.ok(e.message.startsWith(path.join(folder, file)), `names ${file}: ${e.message}`);
      assert.match(e.message, why);
      return true;
    });
  };

  it('a truncated ONNX file', async () => {
    const file = path.join(folder, ONNX);
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    await expectFileError(ONNX, /not a usable GPT-2 ONNX model|could not load/);
  });

  it('a corrupted ONNX file', async () => {
    const file = path.join(folder, ONNX);
    const bytes = fs.readFileSync(file);
    for (let i = 0; i < 2000; i += 1) bytes[i * 7] ^= 0x5a;
    fs.writeFileSync(file, bytes);
    await expectFileError(ONNX, /not a usable GPT-2 ONNX model|could not load/);
  });

  it('a file of the wrong format in place of the model', async () => {
    fs.copyFileSync(path.join(folder, 'config.json'), path.join(folder, ONNX));
    await expectFileError(ONNX, /not a usable GPT-2 ONNX model|could not load/);
  });

  it('a zero-byte model file', async () => {
    fs.writeFileSync(path.join(folder, ONNX), '');
    await expectFileError(ONNX, /the file is empty \(0 bytes\)/);
  });

  it('a missing tokenizer', async () => {
    fs.rmSync(path.join(folder, 'tokenizer.json'));
    await expectFileError('tokenizer.json', /missing/);
  });

  it('a broken tokenizer', async () => {
    fs.writeFileSync(path.join(folder, 'tokenizer.json'), '{"model": 12');
    await expectFileError('tokenizer.json', /not a usable tokenizer/);
  });

  it('a zero-byte or invalid config.json', async () => {
    fs.writeFileSync(path.join(folder, 'config.json'), '');
    await expectFileError('config.json', /JSON/);
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_layer: 2 }));
    await expectFileError('config.json', /n_embd|nEmbd/);
  });

  it('a path that is not a readable folder', async () => {
    const notAFolder = path.join(work, 'file');
    fs.writeFileSync(notAFolder, 'x');
    await assert.rejects(resolveModel({ kind: 'folder', path: notAFolder }, 'fp32'), /is not a folder/);
    await assert.rejects(loadModel({ folder: notAFolder, name: 'x', dtype: 'fp32', device: 'cpu', threads: 1 }), /config\.json: .*(missing|not a directory|ENOTDIR)/);
  });

  it('a folder with a GPT-2 checkpoint but no ONNX export is converted, with the same output', async () => {
    const greedy = { prompt: 'def main():', maxNewTokens: 12, sampling: { topK: 1, topP: 1, temperature: 0 }, stop: { atNewline: false, strings: [] }, stream: false, samples: 1 };
    const fromOnnx = await load();
    const expected = await generate(fromOnnx.decoder, fromOnnx.codec, greedy, noHooks);
    await fromOnnx.dispose();
    fs.rmSync(path.join(folder, 'onnx'), { recursive: true });
    await assert.rejects(load(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-files');
      assert.match(e.message, /: no fp32 model \(looked for onnx\/decoder_model_merged\.onnx, onnx\/model\.onnx, model\.safetensors\)/);
      return true;
    });
    fs.writeFileSync(path.join(folder, 'model.safetensors'), weightsToSafetensors(randomWeights(TINY.config, TINY.seed), TINY.config, { prefix: 'transformer.' }));
    const converted = await load();
    assert.equal(converted.info.files[2], path.join(folder, 'model.safetensors'));
    assert.deepEqual((await generate(converted.decoder, converted.codec, greedy, noHooks)).texts, expected.texts);
    await converted.dispose();
  });

  it('a broken checkpoint is named', async () => {
    fs.rmSync(path.join(folder, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'model.safetensors'), Buffer.from([1, 2, 3]));
    await expectFileError('model.safetensors', /cannot convert this checkpoint/);
  });

  it('disk full during a download: a clear error, nothing kept under the real name, repaired next time', async () => {
    const hub = await new LoopbackHub({ 'local/tiny': tiny }).start();
    try {
      const cacheDir = path.join(work, 'cache');
      const snapshot = snapshotFolder(cacheDir, 'local/tiny', 'main');
      fs.mkdirSync(path.join(snapshot, 'onnx'), { recursive: true });
      // Writes to /dev/full fail with ENOSPC, like a full disk.
      fs.symlinkSync('/dev/full', path.join(snapshot, ONNX + '.partial'));
      const source = { kind: 'hub' as const, modelId: 'local/tiny', revision: 'main', hubUrl: hub.url, cacheDir, offline: false };
      await assert.rejects(resolveModel(source, 'fp32'), /decoder_model_merged\.onnx: disk full while downloading/);
      assert.equal(fs.existsSync(path.join(snapshot, ONNX)), false);
      fs.rmSync(path.join(snapshot, ONNX + '.partial')); // the user frees space
      const { folder: repaired } = await resolveModel(source, 'fp32');
      const model = await loadModel({ folder: repaired, name: 'x', dtype: 'fp32', device: 'cpu', threads: 1 });
      await model.dispose();
    } finally {
      await hub.stop();
    }
  });
});
