// The graph as shipped is not held while onnxruntime loads the graph that runs (shippedGraph.ts): its bytes are let
// go of once the candidate is built, and read again only from the same file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LEAN_OUTPUTS } from '../../src/worker/engine/decoder';
import { chooseGraph } from '../../src/worker/engine/graphChoice';
import { makeLeanGraph } from '../../src/worker/engine/leanGraph';
import { loadModel } from '../../src/worker/engine/loadModel';
import { ShippedGraph } from '../../src/worker/engine/shippedGraph';
import { tinyModelDir } from '../support/tinyModel';

describe('the graph as shipped, held only while needed', function () {
  this.timeout(60_000);
  let work: string;
  beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-shipped-'))));
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  it('reads released bytes again from the file, and refuses a file that changed since', async () => {
    const file = path.join(work, 'model.onnx');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    let reads = 0;
    const shipped = await ShippedGraph.ofFile(file, new Uint8Array([1, 2, 3]), async () => (reads++, new Uint8Array(fs.readFileSync(file))), true);
    assert.equal(shipped.release(), true);
    assert.equal(shipped.release(), false, 'nothing left to let go of');
    assert.deepEqual([...(await shipped.bytes())], [1, 2, 3]);
    assert.equal(reads, 1);
    shipped.release();
    fs.writeFileSync(file, Buffer.from([1, 2, 3, 4]));
    await assert.rejects(shipped.bytes(), /changed while the model was loading/);
  });

  it('never lets go of bytes that exist only in memory', async () => {
    const shipped = ShippedGraph.inMemory('converted', new Uint8Array([7]));
    assert.equal(shipped.release(), false);
    assert.deepEqual([...(await shipped.bytes())], [7]);
  });

  it('a load lets go of the file once the graph that runs is built, before onnxruntime loads it', async () => {
    const dir = await tinyModelDir();
    const file = path.join(dir, 'onnx/decoder_model_merged.onnx');
    const bytes = new Uint8Array(fs.readFileSync(file));
    const model = await loadModel({ folder: dir, name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
    await model.dispose();
    const { nLayer, nHead, nEmbd, contextLength, vocabSize } = model.info;
    const shape = { nLayer, nHead, headDim: nEmbd / nHead, maxPositions: contextLength, vocabSize };
    const shipped = await ShippedGraph.ofFile(file, bytes, async () => new Uint8Array(fs.readFileSync(file)), true);
    let heldAtBuild: boolean | undefined;
    const candidate = {
      description: 'the lean graph',
      outputs: LEAN_OUTPUTS(true),
      build: async () => makeLeanGraph(await shipped.bytes()).bytes,
    };
    const tolerance = { relative: 1e-4, singleTokenStepsOnly: false };
    const chosen = await chooseGraph({ file, shipped, candidates: [candidate], shape, tolerance, device: 'cpu', threads: 1, log: () => undefined });
    try {
      heldAtBuild = shipped.release();
      assert.equal(heldAtBuild, false, 'the bytes were let go of during the load');
      assert.equal(chosen.description, 'the lean graph');
    } finally {
      await chosen.session.release();
    }
  });
});
