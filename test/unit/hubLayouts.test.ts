// The engine runs GPT-2 exports as the hub ships them, not only the project's own graph: an Optimum
// merged decoder (If on use_cache_branch, no position_ids) gives the same logits as the graph it was
// made from, with the KV cache reused across edits, whether the engine can give it a position_ids input
// or has to feed it an exact-length past; inputs the engine cannot feed are refused by name.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { InferenceSession } from 'onnxruntime-node';
import { Gpt2Decoder, LEAN_OUTPUTS, type TokenDecoder } from '../../src/worker/engine/decoder';
import { makeLeanGraph } from '../../src/worker/engine/leanGraph';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { modelInputsOf } from '../../src/worker/engine/modelInputs';
import { mulberry32 } from '../../src/worker/rng';
import { toOptimumMergedLayout } from '../support/optimumMergedLayout';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { expectReuseMatchesRecomputation } from '../support/reuseAcrossEdits';
import { tinyModelDir } from '../support/tinyModel';

describe('hub export layouts', function () {
  this.timeout(120_000);
  let work: string;
  let ours: LoadedModel;
  let merged: LoadedModel;
  let mergedBytes: Uint8Array;
  let compact: { decoder: Gpt2Decoder; session: InferenceSession };

  before(async () => {
    const tiny = await tinyModelDir();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-layouts-'));
    const folder = path.join(work, 'merged');
    fs.cpSync(tiny, folder, { recursive: true });
    const file = path.join(folder, onnxFileName('fp32'));
    mergedBytes = toOptimumMergedLayout(fs.readFileSync(file));
    fs.writeFileSync(file, mergedBytes);
    const request = { name: 'tiny', dtype: 'fp32' as const, device: 'cpu' as const, threads: 1 };
    ours = await loadModel({ ...request, folder: tiny });
    merged = await loadModel({ ...request, folder });
    // The same export when its position table cannot be found: positions come from the past's length.
    const lean = makeLeanGraph(mergedBytes);
    const session = await InferenceSession.create(lean.bytes, { intraOpNumThreads: 1 });
    const { nLayer, nHead, nEmbd, contextLength, vocabSize } = ours.info;
    compact = { session, decoder: new Gpt2Decoder(session, { nLayer, nHead, headDim: nEmbd / nHead, maxPositions: contextLength, vocabSize }, LEAN_OUTPUTS(lean.lastLogitsOnly)) };
  });
  after(async () => {
    await ours?.dispose();
    await merged?.dispose();
    await compact?.session.release();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function matchesOursAcrossEdits(decoder: TokenDecoder, seed: number): Promise<void> {
    const { reused } = await expectReuseMatchesRecomputation(decoder, ours.decoder, { seed, steps: 40, tolerance: 1e-4 });
    assert.ok(reused > 200, `the cache was reused (${reused} tokens)`);
  }

  it('an Optimum merged decoder without position_ids gets one from its position table, and matches our graph', async () => {
    const inputs = onnx.ModelProto.decode(makeLeanGraph(mergedBytes, { positionTableRows: ours.info.contextLength }).bytes).graph!.input!;
    assert.ok(inputs.some((i) => i.name === 'position_ids'), 'the lean graph feeds wpe from a position_ids input');
    assert.ok(!onnx.ModelProto.decode(mergedBytes).graph!.input!.some((i) => i.name === 'position_ids'), 'the export itself has none');
    await matchesOursAcrossEdits(merged.decoder, 11);
  });

  it('when its position table cannot be found, the engine feeds an exact-length past and still matches', async () => {
    await matchesOursAcrossEdits(compact.decoder, 12);
  });

  it('decodes token by token on the merged layout like a full recomputation', async () => {
    const rng = mulberry32(5);
    const ids = Array.from({ length: 40 }, () => Math.floor(rng() * 50257));
    ours.decoder.reset();
    const want = Float32Array.from((await ours.decoder.prefill(ids))!.logits);
    for (const decoder of [merged.decoder, compact.decoder]) {
      decoder.reset();
      await decoder.prefill(ids.slice(0, 20));
      let logits!: Float32Array;
      for (const id of ids.slice(20)) logits = await decoder.forward([id]);
      assert.ok(maxAbsDiff(logits, want) < 1e-4);
    }
  });

  it('the lean graph of our layout neither outputs nor concatenates the whole cache', async () => {
    const lean = makeLeanGraph(fs.readFileSync(path.join(await tinyModelDir(), onnxFileName('q8'))));
    const graph = onnx.ModelProto.decode(lean.bytes).graph!;
    assert.deepEqual(graph.output!.filter((o) => o.name!.startsWith('present.')), []);
    const concatOfPast = graph.node!.filter((n) => n.opType === 'Concat' && n.input!.some((i) => i.startsWith('past_key_values.')));
    assert.deepEqual(concatOfPast.map((n) => n.name), []);
    assert.equal(graph.output!.filter((o) => o.name!.startsWith('present_new.')).length, 2 * lean.nLayer);
    assert.equal(lean.lastLogitsOnly, true);
    const read = new Set(graph.node!.flatMap((n) => n.input!));
    assert.deepEqual(graph.initializer!.map((t) => t.name).filter((name) => !read.has(name!)), [], 'no unused initializer (ORT warns)');
  });

  it('a merged export computes logits for the last prompt position only, in both branches', async () => {
    const lean = makeLeanGraph(mergedBytes);
    assert.equal(lean.lastLogitsOnly, true);
    const session = await InferenceSession.create(lean.bytes, { intraOpNumThreads: 1 });
    try {
      const logitsDims: number[][] = [];
      const spy = { inputNames: session.inputNames, run: async (...args: Parameters<InferenceSession['run']>) => {
        const out = await session.run(...args);
        logitsDims.push([...out.logits.dims]);
        return out;
      } } as unknown as InferenceSession;
      const { nLayer, nHead, nEmbd, contextLength, vocabSize } = ours.info;
      const decoder = new Gpt2Decoder(spy, { nLayer, nHead, headDim: nEmbd / nHead, maxPositions: contextLength, vocabSize }, LEAN_OUTPUTS(lean.lastLogitsOnly));
      const ids = Array.from({ length: 30 }, (_, i) => (i * 7919) % 50257);
      const got = await decoder.prefill(ids.slice(0, 20)); // the no-past branch
      ours.decoder.reset();
      assert.ok(maxAbsDiff(got!.logits, (await ours.decoder.prefill(ids.slice(0, 20)))!.logits) < 1e-4);
      const more = await decoder.prefill(ids); // the with-past branch, 10 new tokens
      assert.ok(maxAbsDiff(more!.logits, (await ours.decoder.prefill(ids))!.logits) < 1e-4);
      assert.deepEqual(logitsDims, [[1, 1, vocabSize], [1, 1, vocabSize]]);
    } finally {
      await session.release();
    }
  });

  it('reads the inputs a model declares and refuses the ones it cannot feed, by name', () => {
    const past = ['past_key_values.0.key', 'past_key_values.0.value'];
    assert.deepEqual(modelInputsOf(['input_ids', 'attention_mask', 'position_ids', ...past]), { positionIds: true, useCacheBranch: false, logitsFrom: false, tokenRows: false });
    assert.deepEqual(modelInputsOf(['input_ids', 'attention_mask', 'use_cache_branch', ...past]), { positionIds: false, useCacheBranch: true, logitsFrom: false, tokenRows: false });
    // the engine's own rewrite (tokenRows.ts): the decoder feeds it, from the table it was given
    assert.equal(modelInputsOf(['input_ids', 'attention_mask', 'token_rows', 'logits_from', ...past]).tokenRows, true);
    assert.throws(() => modelInputsOf(['input_ids', 'attention_mask', 'token_type_ids', ...past]), /unsupported model input token_type_ids/);
    assert.throws(() => modelInputsOf(['input_ids', 'position_ids', ...past]), /no attention_mask input/);
  });

  it('a model with an input the engine cannot feed fails to load with the file and the input named', async () => {
    const folder = path.join(work, 'extra-input');
    fs.cpSync(await tinyModelDir(), folder, { recursive: true });
    const file = path.join(folder, onnxFileName('fp32'));
    const model = onnx.ModelProto.decode(fs.readFileSync(file));
    const ids = model.graph!.input!.find((i) => i.name === 'input_ids')!;
    model.graph!.input!.push({ ...ids, name: 'token_type_ids' });
    model.graph!.node!.push({ opType: 'Identity', input: ['token_type_ids'], output: ['token_type_ids_seen'], name: 'seen' });
    model.graph!.output!.push({ ...ids, name: 'token_type_ids_seen' });
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    await assert.rejects(loadModel({ folder, name: 'extra', dtype: 'fp32', device: 'cpu', threads: 1 }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-files');
      assert.ok(e.message.startsWith(file), e.message);
      assert.match(e.message, /unsupported model input token_type_ids/);
      return true;
    });
  });
});
