// Files nobody here wrote: the genuine Hugging Face exports in test/fixtures/hf-export, in every layout users
// download, fp32 and q8, must give PyTorch's (fp32) or onnxruntime-python's (q8) outputs, through the loader,
// the worker thread and the CLI; and the engine must run its own lean graph on their weights, with its own
// KV cache reused across edits.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { WorkerClient } from '../../src/client/workerClient';
import { AS_SHIPPED, Gpt2Decoder } from '../../src/worker/engine/decoder';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { createSession } from '../../src/worker/engine/session';
import { EXPORT_LAYOUTS, exportFolder, references, type ExportLayout } from '../support/hfExport';
import { expectReuseMatchesRecomputation } from '../support/reuseAcrossEdits';
import { workerScript } from '../support/workerScript';

const DTYPES = ['fp32', 'q8'] as const;
/** fp32: rounding only. q8: onnxruntime-python quantizes the lm_head's input over every prompt position, the engine over the last. */
const LOGIT_TOLERANCE = { fp32: 1e-4, q8: 1e-2 };
const ROOT = path.resolve(__dirname, '../..');

function argmaxAndMargin(logits: Float32Array): { id: number; margin: number } {
  let id = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[id]) id = i;
  let second = -Infinity;
  for (let i = 0; i < logits.length; i++) if (i !== id && logits[i] > second) second = logits[i];
  return { id, margin: logits[id] - second };
}

async function greedy(model: LoadedModel, prompt: number[], steps: number) {
  model.decoder.reset();
  const first = (await model.decoder.prefill(prompt))!.logits;
  const promptLogits = Float32Array.from(first);
  const ids: number[] = [], margins: number[] = [];
  let logits = first;
  for (let s = 0; s < steps; s++) {
    const { id, margin } = argmaxAndMargin(logits);
    ids.push(id);
    margins.push(margin);
    if (s + 1 < steps) logits = await model.decoder.forward([id]);
  }
  return { promptLogits, ids, margins };
}

describe('genuine Hugging Face exports', function () {
  this.timeout(120_000);

  for (const layout of EXPORT_LAYOUTS) {
    for (const dtype of DTYPES) {
      it(`${layout} ${dtype}: the reference's prompt logits and greedy ids, on the engine's own graph`, async () => {
        const logged: string[] = [];
        const model = await loadModel({ folder: exportFolder(layout), name: layout, dtype, device: 'cpu', threads: 1, log: (m) => logged.push(m) });
        try {
          assert.match(model.info.graph, /^the engine's graph (on the file's|written from)/, `runs the lean graph; log: ${logged.join(' | ')}`);
          for (const ref of references(layout, dtype)) {
            assert.deepEqual(model.codec.encode(ref.prompt), ref.promptIds, 'the tokenizer');
            const got = await greedy(model, ref.promptIds, ref.greedyIds.length);
            ref.top5.ids.forEach((id, i) => {
              const diff = Math.abs(got.promptLogits[id] - ref.top5.values[i]);
              assert.ok(diff <= LOGIT_TOLERANCE[dtype], `${ref.prompt}: logit of ${id} off by ${diff}`);
            });
            // q8 rounding may flip a step whose top two logits are closer than the tolerance; up to there the ids agree.
            const exactUpTo = dtype === 'fp32' ? ref.greedyIds.length : got.margins.findIndex((m) => m < LOGIT_TOLERANCE.q8) + 1 || ref.greedyIds.length;
            assert.deepEqual(got.ids.slice(0, exactUpTo), ref.greedyIds.slice(0, exactUpTo), `${ref.prompt}: greedy ids`);
          }
        } finally {
          await model.dispose();
        }
      });
    }
  }

  for (const layout of ['xenova-layout', 'xenova-layout-nopos', 'onnx-community-layout'] as ExportLayout[]) {
    it(`${layout}: the engine's cache reuse across edits gives the export's own logits`, async () => {
      const folder = exportFolder(layout);
      const model = await loadModel({ folder, name: layout, dtype: 'fp32', device: 'cpu', threads: 1 });
      const file = model.info.files[2];
      const session = await createSession(fs.readFileSync(file), 'cpu', 1);
      try {
        const shipped = new Gpt2Decoder(session, model.decoder.shape, AS_SHIPPED);
        const { reused } = await expectReuseMatchesRecomputation(model.decoder, shipped, { seed: 3, steps: 30, tolerance: 1e-4 });
        assert.ok(reused > 200, `the cache was reused (${reused} tokens)`);
      } finally {
        await session.release();
        await model.dispose();
      }
    });
  }

  describe('through the worker thread and the CLI', () => {
    let client: WorkerClient;
    before(() => (client = new WorkerClient(workerScript())));
    after(() => client.terminate());

    for (const layout of EXPORT_LAYOUTS) {
      for (const dtype of DTYPES) {
        it(`${layout} ${dtype}`, async () => {
          const folder = exportFolder(layout);
          const codec = (await loadModel({ folder, name: layout, dtype: 'fp32', device: 'cpu', threads: 1 })).codec;
          await client.load({ source: { kind: 'folder', path: folder }, dtype, device: 'cpu', threads: 1 });
          const ref = references(layout, dtype)[0];
          const want = codec.decode(ref.greedyIds);
          const sampling = { topK: 50, topP: 1, temperature: 0 };
          const result = await client.generate({ prompt: ref.prompt, maxNewTokens: 20, sampling, stop: { atNewline: false, strings: [] }, stream: false, samples: 1 });
          const cli = promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/cli.js'), '--model-dir', folder, '--dtype', dtype, '--temperature', '0', '--max-tokens', '20', '--offline', ref.prompt]);
          if (dtype === 'fp32' || layout !== 'checkpoint') {
            assert.equal(result.texts[0], want, 'worker');
            assert.equal((await cli).stdout, want + '\n', 'CLI');
          } else {
            // The checkpoint's q8 is the engine's own quantization; PyTorch's fp32 ids hold up to the first close call.
            assert.equal(result.texts[0], (await cli).stdout.slice(0, -1), 'worker and CLI agree');
          }
        });
      }
    }
  });
});
