// make-model and writeModelFolder: hub layout, the up-to-date stamp, stale rebuilds, atomic writes, the CLI.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GENERATOR_DEPENDENCIES, GENERATOR_FOLDERS, makeModel, parseCli, REPO_ROOT, type MakeModelOptions } from '../../scripts/make-model';
import { configFromHfJson, type Gpt2Config } from '../../src/worker/gpt2/config';
import { writeFileAtomic } from '../../scripts/model/modelFolder';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { weightsToSafetensors } from '../../scripts/model/safetensorsWriter';
import { randomWeights } from '../../scripts/model/randomWeights';

const C: Gpt2Config = { nLayer: 1, nHead: 2, nEmbd: 8, nPositions: 32, vocabSize: 50257, layerNormEpsilon: 1e-5 };

describe('model folders (make-model)', function () {
  let tmp: string;
  const opts = (over: Partial<MakeModelOptions> = {}): MakeModelOptions => ({
    out: path.join(tmp, 'm'), dtypes: ['fp32', 'q4'], random: { config: C, seed: 5 }, ...over,
  });

  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-folder-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes the hub layout transformers.js expects', async function () {
    const r = await makeModel(opts({ dtypes: ['fp32', 'q8', 'q4'] }));
    assert.equal(r.skipped, false);
    const files = r.files.map((f) => f.file).sort();
    assert.deepEqual(files, [
      'config.json', 'generation_config.json',
      'onnx/decoder_model_merged.onnx', 'onnx/decoder_model_merged_q4.onnx', 'onnx/decoder_model_merged_quantized.onnx',
      'tokenizer.json', 'tokenizer_config.json',
    ]);
    for (const f of r.files) assert.equal(fs.statSync(path.join(r.dir, f.file)).size, f.bytes, f.file);
    assert.deepEqual(configFromHfJson(JSON.parse(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8'))), C);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(r.dir, 'generation_config.json'), 'utf8')), { bos_token_id: 50256, eos_token_id: 50256 });
    assert.equal(JSON.parse(fs.readFileSync(path.join(r.dir, 'tokenizer_config.json'), 'utf8')).clean_up_tokenization_spaces, false);
    assert.deepEqual(fs.readdirSync(path.join(r.dir, 'onnx')).filter((f) => f.includes('.tmp-')), []);
  });

  it('the up-to-date stamp covers every module the generator imports from outside its folders', () => {
    const imported = new Set<string>();
    for (const folder of GENERATOR_FOLDERS) {
      const dir = path.join(REPO_ROOT, folder);
      for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
        for (const [, spec] of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/from '(\.\.\/[^']+)'/g)) {
          const target = path.relative(REPO_ROOT, path.resolve(dir, spec)) + '.ts';
          if (!GENERATOR_FOLDERS.includes(path.dirname(target))) imported.add(target);
        }
      }
    }
    assert.deepEqual([...imported].sort(), [...GENERATOR_DEPENDENCIES].sort());
  });

  it('skips an up-to-date folder and rebuilds a changed or damaged one', async function () {
    await makeModel(opts());
    assert.equal((await makeModel(opts())).skipped, true);
    assert.equal((await makeModel(opts({ force: true }))).skipped, false);
    assert.equal((await makeModel(opts({ random: { config: C, seed: 6 } }))).skipped, false, 'other seed');
    assert.equal((await makeModel(opts({ random: { config: C, seed: 6 } }))).skipped, true);

    const fp32 = path.join(tmp, 'm', onnxFileName('fp32'));
    fs.truncateSync(fp32, 100); // e.g. a copy that was cut short
    assert.equal((await makeModel(opts({ random: { config: C, seed: 6 } }))).skipped, false, 'truncated file');
    fs.rmSync(fp32);
    assert.equal((await makeModel(opts({ random: { config: C, seed: 6 } }))).skipped, false, 'missing file');
  });

  it('removes files of an earlier build that the new one does not write', async function () {
    await makeModel(opts({ dtypes: ['fp32', 'q4'] }));
    await makeModel(opts({ dtypes: ['fp32'] }));
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'm', 'onnx')), ['decoder_model_merged.onnx']);
  });

  it('converts a safetensors checkpoint to the same ONNX bytes as the weights it holds', async function () {
    const w = randomWeights(C, 5);
    const ckpt = path.join(tmp, 'ckpt');
    fs.mkdirSync(ckpt);
    fs.writeFileSync(path.join(ckpt, 'model.safetensors'), weightsToSafetensors(w, C, { prefix: 'transformer.' }));
    const random = await makeModel(opts({ dtypes: ['fp32'] }));
    fs.copyFileSync(path.join(random.dir, 'config.json'), path.join(ckpt, 'config.json'));
    const conv = await makeModel({
      out: path.join(tmp, 'conv'), dtypes: ['fp32'],
      fromSafetensors: { file: path.join(ckpt, 'model.safetensors'), configFile: path.join(ckpt, 'config.json') },
    });
    const bytes = (dir: string) => fs.readFileSync(path.join(dir, onnxFileName('fp32')));
    assert.ok(bytes(conv.dir).equals(bytes(random.dir)));
  });

  it('writeFileAtomic leaves no temp file behind when the rename fails', function () {
    const target = path.join(tmp, 'dir-in-the-way');
    fs.mkdirSync(path.join(target, 'child'), { recursive: true });
    assert.throws(() => writeFileAtomic(target, 'x'));
    assert.deepEqual(fs.readdirSync(tmp), ['dir-in-the-way']);
  });

  it('CLI: builds and prints sizes; its options make the same build as the API', async function () {
    this.timeout(30000);
    const args = ['--out', path.join(tmp, 'cli'), '--layers', '1', '--embd', '8', '--heads', '2', '--positions', '32', '--dtypes', 'fp32'];
    const cli = path.join(REPO_ROOT, 'scripts/make-model.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: REPO_ROOT });
    assert.match(stdout, /decoder_model_merged\.onnx\s+[\d.]+ MB/);
    assert.equal((await makeModel(parseCli(args))).skipped, true);
  });

  it('CLI options: presets, overrides and clear errors', function () {
    assert.deepEqual(parseCli(['--preset', '124m']).random, { config: { ...C, nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024 }, seed: 1234 });
    assert.equal(parseCli(['--preset', '124m']).out, path.join(REPO_ROOT, 'models/gpt2-124m-random'));
    assert.deepEqual(parseCli(['--layers', '3', '--seed', '9']).random, { config: { ...C, nLayer: 3, nHead: 4, nEmbd: 32, nPositions: 1024 }, seed: 9 });
    assert.throws(() => parseCli(['--dtypes', 'fp32,q3']), /unknown dtype "q3"/);
    assert.throws(() => parseCli(['--heads', '3']), /nEmbd \(32\) must be divisible by nHead \(3\)/);
    assert.throws(() => parseCli(['--preset', 'huge']), /unknown preset "huge"/);
    assert.throws(() => parseCli(['--layers', 'two']), /--layers: expected a non-negative integer, got "two"/);
  });
});
