// What the loader checks before it says a model is ready: config.json against the graph, plain files of sane
// size, external data inside the folder, and that every optimisation (the engine's graph on the file's weights,
// the lean rewrite, a GPU) computes what the file as shipped computes, else the next one runs.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { loadModel } from '../../src/worker/engine/loadModel';
import { missingPrerequisite } from '../../src/worker/engine/session';
import { exportFolder, references } from '../support/hfExport';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { tinyModelDir } from '../support/tinyModel';

const GRAPH = 'onnx/model.onnx'; // onnx-community layout: one graph, no If
const DT = onnx.TensorProto.DataType;
const VULKAN_PRESENT = missingPrerequisite('webgpu', 'linux', {}) === undefined;

describe('load checks', function () {
  this.timeout(60_000);
  let work: string;
  let folder: string;

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-load-'));
    folder = path.join(work, 'model');
    fs.cpSync(exportFolder('onnx-community-layout'), folder, { recursive: true });
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const load = (log?: (m: string) => void, device: 'cpu' | 'gpu' = 'cpu') => loadModel({ folder, name: 'm', dtype: 'fp32', device, threads: 1, log });

  it('a relative folder is refused by name: it would resolve against whatever folder the extension host runs in', async () => {
    const relative = path.relative(process.cwd(), folder);
    await assert.rejects(loadModel({ folder: relative, name: 'm', dtype: 'fp32', device: 'cpu', threads: 1 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'model-files');
      assert.match(error.message, /not an absolute path/);
      assert.ok(error.message.includes(relative), error.message);
      return true;
    });
  });
  const editGraph = (edit: (g: onnx.IGraphProto) => void) => {
    const file = path.join(folder, GRAPH);
    const model = onnx.ModelProto.decode(fs.readFileSync(file));
    edit(model.graph!);
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  };
  const editConfig = (edit: Record<string, unknown>) => {
    const file = path.join(folder, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...edit }));
  };
  const rejectsNaming = async (pattern: RegExp) =>
    assert.rejects(load(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-files');
      assert.match(e.message, pattern);
      return true;
    });

  /** After the lm_head: logits * 2 (which the weights alone do not show), and optionally a view by Shape(input_ids). */
  const postProcessLogits = (viewByInputIds: boolean) =>
    editGraph((g) => {
      const head = g.node!.find((n) => n.output!.includes('logits'))!;
      head.output = ['raw_logits'];
      g.initializer!.push({ name: 'two', dataType: DT.FLOAT, dims: [], floatData: [2] });
      g.node!.push({ opType: 'Mul', input: ['raw_logits', 'two'], output: [viewByInputIds ? 'scaled_logits' : 'logits'], name: 'scale_logits' });
      if (!viewByInputIds) return;
      g.initializer!.push({ name: 'minus_one', dataType: DT.INT64, dims: [1], int64Data: [-1] }, { name: 'vocab', dataType: DT.INT64, dims: [1], int64Data: [50257] });
      g.initializer!.push({ name: 'one', dataType: DT.INT64, dims: [1], int64Data: [1] }, { name: 'two_i', dataType: DT.INT64, dims: [1], int64Data: [2] });
      g.node!.push(
        { opType: 'Shape', input: ['input_ids'], output: ['ids_shape'], name: 'ids_shape' },
        { opType: 'Slice', input: ['ids_shape', 'one', 'two_i'], output: ['seq_len'], name: 'seq_len' },
        { opType: 'Concat', input: ['minus_one', 'seq_len', 'vocab'], output: ['logits_shape'], name: 'logits_shape', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
        { opType: 'Reshape', input: ['scaled_logits', 'logits_shape'], output: ['logits'], name: 'view_logits' },
      );
    });

  async function expectShippedLogits(model: Awaited<ReturnType<typeof load>>, factor: number) {
    const plain = await loadModel({ folder: exportFolder('onnx-community-layout'), name: 'plain', dtype: 'fp32', device: 'cpu', threads: 1 });
    try {
      const ids = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
      const got = (await model.decoder.prefill(ids))!.logits;
      const want = (await plain.decoder.prefill(ids))!.logits.map((v) => v * factor);
      assert.ok(maxAbsDiff(got, want) < 1e-5);
    } finally {
      await plain.dispose();
    }
  }

  it('an export the weights do not fully describe runs the rewrite of the file, and says why once', async () => {
    postProcessLogits(false);
    const logged: string[] = [];
    const model = await load((m) => logged.push(m));
    try {
      assert.equal(model.info.graph, 'the file rewritten to return only new keys/values');
      const why = logged.filter((m) => m.includes("not using the engine's graph"));
      assert.equal(why.length, 1, logged.join('\n'));
      assert.match(why[0], /logits differ by up to/);
      await expectShippedLogits(model, 2);
    } finally {
      await model.dispose();
    }
  });

  it('when the rewrite breaks the file too, the file runs as shipped', async () => {
    postProcessLogits(true);
    const logged: string[] = [];
    const model = await load((m) => logged.push(m));
    try {
      assert.equal(model.info.graph, 'the file as shipped');
      assert.ok(logged.some((m) => /not using the file rewritten .*the probe failed/.test(m)), logged.join('\n'));
      await expectShippedLogits(model, 2);
    } finally {
      await model.dispose();
    }
  });

  it('config.json that disagrees with the graph is a named error before anything is allocated', async () => {
    editConfig({ n_layer: 100000 });
    await rejectsNaming(/config\.json: "n_layer" is 100000, but there are 2 layers/);
    editConfig({ n_layer: 2, n_head: 2 });
    await rejectsNaming(/config\.json: "n_head" is 2, but past_key_values\.0\.key has 4 heads/);
    editConfig({ n_head: 4, vocab_size: 50000 });
    await rejectsNaming(/config\.json: "vocab_size" is 50000, but the logits have 50257 columns/);
    editConfig({ vocab_size: 50257, n_positions: 4096 });
    await rejectsNaming(/config\.json: "n_positions" is 4096, but the position table has 1024 rows/);
  });

  it('a config.json that is a pipe or a device is refused without reading it', async () => {
    const config = path.join(folder, 'config.json');
    fs.rmSync(config);
    execFileSync('mkfifo', [config]);
    await rejectsNaming(/config\.json: is not a regular file/);
    fs.rmSync(config);
    fs.symlinkSync('/dev/zero', config);
    await rejectsNaming(/config\.json: is not a regular file/);
  });

  describe('external data', () => {
    /** Moves the token table into a side file, as large exports do. */
    const externalize = (location: string, dataFile = path.join(folder, 'onnx', location)) =>
      editGraph((g) => {
        const table = g.initializer!.find((t) => t.dims!.length === 2 && Number(t.dims![0]) === 50257)!;
        fs.mkdirSync(path.dirname(dataFile), { recursive: true });
        fs.writeFileSync(dataFile, table.rawData!);
        table.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: String(table.rawData!.length) }];
        table.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        table.rawData = new Uint8Array(0);
      });

    it('a side file inside the model folder is read, whatever the working directory', async () => {
      externalize('model.onnx_data');
      const model = await load();
      try {
        await expectShippedLogits(model, 1);
      } finally {
        await model.dispose();
      }
    });

    it('a reference outside the folder, absolute, or through a link is refused', async () => {
      const original = fs.readFileSync(path.join(folder, GRAPH));
      externalize('../../outside.bin', path.join(work, 'outside.bin'));
      await rejectsNaming(/refers to external data "\.\.\/\.\.\/outside\.bin", which is not a file name inside the model folder; refusing/);
      fs.writeFileSync(path.join(folder, GRAPH), original);
      externalize(path.join(work, 'outside.bin'), path.join(work, 'outside.bin'));
      await rejectsNaming(/which is not a file name inside the model folder/);
      fs.writeFileSync(path.join(folder, GRAPH), original);
      externalize('linked.bin', path.join(work, 'outside.bin'));
      fs.symlinkSync(path.join(work, 'outside.bin'), path.join(folder, 'onnx', 'linked.bin'));
      await rejectsNaming(/"linked\.bin", which is not a plain file/);
    });
  });

  it('device gpu tries WebGPU, then the platform provider, and runs on the CPU with the reasons when neither proves itself', async () => {
    const tiny = await tinyModelDir();
    const logged: string[] = [];
    const model = await loadModel({ folder: tiny, name: 'tiny', dtype: 'fp32', device: 'gpu', threads: 1, log: (m) => logged.push(m) });
    try {
      if (model.info.device === 'gpu') return; // a machine with a working GPU: its probe matched the CPU's logits
      assert.match(model.info.fallbackReason ?? '', /^webgpu: .*; cuda: /);
      const cpu = await loadModel({ folder: tiny, name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
      const ids = [1, 2, 3, 4, 5];
      assert.ok(maxAbsDiff((await model.decoder.prefill(ids))!.logits, (await cpu.decoder.prefill(ids))!.logits) < 1e-5);
      await cpu.dispose();
    } finally {
      await model.dispose();
    }
  });
});

describe('exports written below opset 17', function () {
  this.timeout(60_000);
  /** LayerNormalization spelled out as the TorchScript exporter does below opset 17: (x - mean) / sqrt(var + eps) * gain + bias. */
  function decomposeLayerNorms(g: onnx.IGraphProto): number {
    const nodes: onnx.INodeProto[] = [];
    let count = 0;
    g.initializer!.push({ name: 'ln_axes', dataType: DT.INT64, dims: [1], int64Data: [-1] }, { name: 'ln_two', dataType: DT.FLOAT, dims: [], floatData: [2] });
    for (const n of g.node!) {
      if (n.opType !== 'LayerNormalization') {
        nodes.push(n);
        continue;
      }
      const [x, gain, bias] = n.input!, p = `ln${count++}`;
      const eps = n.attribute!.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
      g.initializer!.push({ name: `${p}_eps`, dataType: DT.FLOAT, dims: [], floatData: [eps] });
      const op = (opType: string, input: string[], output: string) => nodes.push({ opType, input, output: [output], name: `${p}_${output}` });
      op('ReduceMean', [x, 'ln_axes'], `${p}_mean`);
      op('Sub', [x, `${p}_mean`], `${p}_centered`);
      op('Pow', [`${p}_centered`, 'ln_two'], `${p}_squared`);
      op('ReduceMean', [`${p}_squared`, 'ln_axes'], `${p}_var`);
      op('Add', [`${p}_var`, `${p}_eps`], `${p}_var_eps`);
      op('Sqrt', [`${p}_var_eps`], `${p}_std`);
      op('Div', [`${p}_centered`, `${p}_std`], `${p}_normed`);
      op('Mul', [`${p}_normed`, gain], `${p}_scaled`);
      op('Add', [`${p}_scaled`, bias], n.output![0]);
    }
    g.node = nodes;
    return count;
  }

  it('LayerNorms spelled out as ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add still map onto the engine graph, with PyTorch greedy ids', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-opset14-'));
    try {
      const folder = path.join(work, 'model');
      fs.cpSync(exportFolder('onnx-community-layout'), folder, { recursive: true });
      const file = path.join(folder, GRAPH);
      const model = onnx.ModelProto.decode(fs.readFileSync(file));
      assert.equal(decomposeLayerNorms(model.graph!), 5);
      fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
      const loaded = await loadModel({ folder, name: 'opset14', dtype: 'fp32', device: 'cpu', threads: 1 });
      try {
        assert.equal(loaded.info.graph, "the engine's graph on the file's fp32 weights");
        const ref = references('onnx-community-layout', 'fp32')[0];
        let logits = (await loaded.decoder.prefill(ref.promptIds))!.logits;
        const ids: number[] = [];
        for (let i = 0; i < ref.greedyIds.length; i++) {
          let best = 0;
          for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
          ids.push(best);
          logits = await loaded.decoder.forward([best]);
        }
        assert.deepEqual(ids, ref.greedyIds);
      } finally {
        await loaded.dispose();
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('GPU prerequisites', () => {
  it('WebGPU on Linux needs a Vulkan loader, found in the system folders or LD_LIBRARY_PATH', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-vulkan-'));
    try {
      const withoutSystemLoader = VULKAN_PRESENT ? undefined : /no Vulkan loader/;
      if (withoutSystemLoader) assert.match(missingPrerequisite('webgpu', 'linux', { LD_LIBRARY_PATH: dir }) ?? '', withoutSystemLoader);
      fs.writeFileSync(path.join(dir, 'libvulkan.so.1'), '');
      assert.equal(missingPrerequisite('webgpu', 'linux', { LD_LIBRARY_PATH: `/nowhere:${dir}` }), undefined);
      assert.equal(missingPrerequisite('webgpu', 'win32', {}), undefined, 'D3D12 on Windows, Metal on macOS: nothing to check');
      assert.equal(missingPrerequisite('cuda', 'linux', {}), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the load probe remembered between loads', function () {
  this.timeout(60_000);
  it('a second load checks against the remembered probe instead of loading the file as shipped again; a damaged record is probed anew', async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-state-'));
    try {
      const load = async () => {
        const logged: string[] = [];
        const model = await loadModel({ folder: exportFolder('xenova-layout'), name: 'x', dtype: 'q8', device: 'cpu', threads: 1, log: (m) => logged.push(m), probeCacheDir: state });
        await model.dispose();
        return { graph: model.info.graph, log: logged.join('\n') };
      };
      const first = await load();
      assert.doesNotMatch(first.log, /remembered/);
      const records = fs.readdirSync(path.join(state, 'load-probes'));
      assert.equal(records.length, 1);
      const second = await load();
      assert.equal(second.graph, first.graph);
      assert.match(second.log, /checked against the probe of the file remembered from an earlier load/);

      const record = path.join(state, 'load-probes', records[0]);
      const damaged = new Float32Array(fs.statSync(record).size / 4).fill(7);
      fs.writeFileSync(record, new Uint8Array(damaged.buffer));
      const third = await load();
      assert.equal(third.graph, "the engine's graph on the file's q8 weights", third.log);
      assert.match(third.log, /no graph matched the remembered probe; probing the file as shipped again/);
      assert.match((await load()).log, /checked against the probe of the file remembered/, 'the record was written again');
    } finally {
      fs.rmSync(state, { recursive: true, force: true });
    }
  });
});

describe('exports optimized by onnxruntime', function () {
  this.timeout(60_000);
  /** The quantizer's DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul pattern fused into one com.microsoft DynamicQuantizeMatMul, as onnxruntime's optimizer writes it. */
  function fuseQuantizedMatMuls(g: onnx.IGraphProto): number {
    const producer = new Map(g.node!.flatMap((n) => n.output!.map((o) => [o, n] as const)));
    const readers = (name: string) => g.node!.filter((n) => n.input!.includes(name));
    const drop = new Set<onnx.INodeProto>();
    let fused = 0;
    for (const mm of g.node!.filter((n) => n.opType === 'MatMulInteger')) {
      const dql = producer.get(mm.input![0])!;
      const cast = readers(mm.output![0])[0];
      const rescale = readers(cast.output![0])[0];
      const scales = producer.get(rescale.input!.find((i) => i !== cast.output![0])!)!;
      const wScale = scales.input!.find((i) => i !== dql.output![1])!;
      if (readers(dql.output![0]).length !== 1) continue; // the activation feeds another matmul too
      Object.assign(mm, { opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: [dql.input![0], mm.input![1], wScale, mm.input![3]], output: rescale.output });
      for (const n of [dql, cast, rescale, scales]) drop.add(n);
      fused++;
    }
    g.node = g.node!.filter((n) => !drop.has(n));
    return fused;
  }

  it('fused DynamicQuantizeMatMul linears still map onto the engine graph, with onnxruntime-python greedy ids', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-fused-'));
    try {
      const folder = path.join(work, 'model');
      fs.cpSync(exportFolder('onnx-community-layout'), folder, { recursive: true });
      const file = path.join(folder, 'onnx/model_quantized.onnx');
      const model = onnx.ModelProto.decode(fs.readFileSync(file));
      assert.equal(fuseQuantizedMatMuls(model.graph!), 9, 'every block linear and the lm_head');
      model.opsetImport!.push({ domain: 'com.microsoft', version: 1 });
      fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
      const logged: string[] = [];
      const loaded = await loadModel({ folder, name: 'fused', dtype: 'q8', device: 'cpu', threads: 1, log: (m) => logged.push(m) });
      try {
        assert.equal(loaded.info.graph, "the engine's graph on the file's q8 weights", logged.join('\n'));
        const ref = references('onnx-community-layout', 'q8')[0];
        let logits = (await loaded.decoder.prefill(ref.promptIds))!.logits;
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) {
          let best = 0;
          for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
          ids.push(best);
          logits = await loaded.decoder.forward([best]);
        }
        assert.deepEqual(ids, ref.greedyIds.slice(0, 5));
      } finally {
        await loaded.dispose();
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
