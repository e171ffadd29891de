// The weights once (externalWeights.ts): matmul weights are handed to onnxruntime as references into the model file,
// so the graph's bytes do not carry a second copy of them; what runs is the same.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { Tensor } from 'onnxruntime-node';
import { decodeOnnx } from '../../src/worker/engine/decodeOnnx';
import { referenceWeightsInFile } from '../../src/worker/engine/externalWeights';
import { chooseGraph, type GraphCandidate } from '../../src/worker/engine/graphChoice';
import { LEAN_OUTPUTS } from '../../src/worker/engine/decoder';
import { makeLeanGraph } from '../../src/worker/engine/leanGraph';
import { loadModel } from '../../src/worker/engine/loadModel';
import { createSession } from '../../src/worker/engine/session';
import { GraphBuilder, modelOf, valueInfo } from '../../src/worker/gpt2/onnxBuilder';
import { configFromHfJson } from '../../src/worker/gpt2/config';
import { weightsFromExport } from '../../src/worker/gpt2/fromExport';
import { gpt2Model } from '../../src/worker/gpt2/graph';
import { exportFolder } from '../support/hfExport';
import { tinyModelDir } from '../support/tinyModel';

const DT = onnx.TensorProto.DataType;
const K = 64, N = 32;

/** y = (x @ W) + (x @ T), and Gather(T) as a second output: W is only a matmul's weight, T is not. */
function smallModel(): Uint8Array {
  const g = new GraphBuilder();
  const w = g.f32('W', [K, N], Float32Array.from({ length: K * N }, (_, i) => Math.sin(i)));
  const t = g.f32('T', [K, N], Float32Array.from({ length: K * N }, (_, i) => Math.cos(i)));
  const y = g.op1('Add', [g.op1('MatMul', ['x', w]), g.op1('MatMul', ['x', t])]);
  g.rename(y, 'y');
  g.rename(g.op1('Gather', [t, g.i64('row', [0], [])], { axis: 0 }), 'row0');
  return onnx.ModelProto.encode(modelOf(g, 'small', [valueInfo('x', DT.FLOAT, [1, K])], [valueInfo('y', DT.FLOAT, [1, N]), valueInfo('row0', DT.FLOAT, [N])])).finish();
}

describe('weights read from the model file', function () {
  this.timeout(60_000);
  let work: string;
  beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-extw-'))));
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const run = async (bytes: Uint8Array, folder?: string) => {
    const session = await createSession(bytes, 'cpu', 1, folder);
    try {
      const out = await session.run({ x: new Tensor('float32', Float32Array.from({ length: K }, (_, i) => i / K), [1, K]) });
      return [...(out.y.data as Float32Array), ...(out.row0.data as Float32Array)];
    } finally {
      await session.release();
    }
  };

  it('references only the initializers that matmuls alone read, and onnxruntime computes the same from the file', async () => {
    const file = path.join(work, 'model.onnx');
    fs.writeFileSync(file, smallModel());
    const bytes = fs.readFileSync(file);
    const model = decodeOnnx(bytes);
    const moved = referenceWeightsInFile(model, { path: file, bytes }, 1024);
    assert.equal(moved, K * N * 4, 'W is referenced; T (also gathered) and the small constants are not');
    const byName = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    assert.equal(byName.get('W')!.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
    assert.notEqual(byName.get('T')!.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
    const referenced = onnx.ModelProto.encode(model).finish();
    assert.ok(referenced.byteLength < bytes.byteLength - K * N * 4 + 512, 'the graph no longer carries W');
    assert.deepEqual(await run(referenced, work), await run(bytes));
  });

  it('weights that If branches read are referenced only when asked (the short-lived probe session)', () => {
    const W = Float32Array.from({ length: K * N }, (_, i) => i);
    const branch = (name: string): onnx.IGraphProto => ({ name, node: [{ opType: 'MatMul', input: ['x', 'W'], output: [`${name}_y`] }], output: [{ name: `${name}_y` }] });
    const model = onnx.ModelProto.create({
      graph: {
        initializer: [{ name: 'W', dataType: DT.FLOAT, dims: [K, N], rawData: new Uint8Array(W.buffer) }],
        node: [{ opType: 'If', input: ['cond'], output: ['y'], attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('a') }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('b') }] }],
        output: [{ name: 'y' }],
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    const file = { path: path.join(work, 'model.onnx'), bytes };
    assert.equal(referenceWeightsInFile(decodeOnnx(bytes), file, 1024), 0);
    assert.equal(referenceWeightsInFile(decodeOnnx(bytes), file, 1024, true), K * N * 4);
  });

  it("the engine's graph on an fp32 export's weights refers to the file's own bytes, though the loader reads aligned copies", () => {
    const folder = exportFolder('onnx-community-layout');
    const file = path.join(folder, 'onnx/model.onnx');
    const bytes = fs.readFileSync(file);
    const config = configFromHfJson(JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')));
    const found = weightsFromExport(decodeOnnx(bytes), config);
    assert.equal(found.dtype, 'fp32');
    const graph = gpt2Model(found.weights, config, found.dtype);
    const E = config.nEmbd;
    const blockMatmuls = config.nLayer * (E * 3 * E + E * E + 2 * E * 4 * E) * 4;
    // the block matrices (and an lm_head of the export's own, if any); the token table is also gathered
    assert.ok(referenceWeightsInFile(graph, { path: file, bytes }, 1) >= blockMatmuls);
  });

  it('leaves bytes that are not a view of the file alone', () => {
    const bytes = smallModel();
    const model = decodeOnnx(bytes);
    assert.equal(referenceWeightsInFile(model, { path: path.join(work, 'model.onnx'), bytes: new Uint8Array(bytes) }, 1024), 0);
  });

  it('a graph onnxruntime cannot read from the file is loaded again with its weights inside, and the log says so', async () => {
    const file = 'tiny/onnx/decoder_model_merged.onnx';
    const logs: string[] = [];
    // A candidate that references its weights in a folder that lacks the file: ORT refuses it.
    const dir = await tinyModelDir();
    const tiny = await loadModel({ folder: dir, name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
    await tiny.dispose();
    const shipped = fs.readFileSync(path.join(dir, 'onnx/decoder_model_merged.onnx'));
    const candidate: GraphCandidate = {
      description: 'the test graph',
      outputs: LEAN_OUTPUTS(true),
      build: () => {
        const model = decodeOnnx(shipped);
        const moved = candidate.inlineWeights ? 0 : referenceWeightsInFile(model, { path: path.join(work, 'missing.onnx'), bytes: shipped }, 1024);
        candidate.externalDataFolder = moved > 0 ? work : undefined;
        return makeLeanGraph(model).bytes;
      },
    };
    const { nLayer, nHead, nEmbd, contextLength, vocabSize } = tiny.info;
    const shape = { nLayer, nHead, headDim: nEmbd / nHead, maxPositions: contextLength, vocabSize };
    const chosen = await chooseGraph({ file, shipped, candidates: [candidate], shape, tolerance: { relative: 1e-4, singleTokenStepsOnly: false }, device: 'cpu', threads: 1, log: (m) => logs.push(m) });
    try {
      assert.equal(chosen.description, 'the test graph');
      assert.ok(candidate.inlineWeights, 'built again with the weights inside');
      assert.ok(logs.some((m) => /with its weights read from the file: ONNX Runtime refused it/.test(m)), logs.join('\n'));
    } finally {
      await chosen.session.release();
    }
  });
});
