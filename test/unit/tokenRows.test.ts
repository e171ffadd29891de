// The token table once (tokenRows.ts): the engine's graph takes the embedding's rows as an input, which the decoder
// reads from the model file, so onnxruntime holds the table only as the lm_head's packed weight. What runs must be
// what the file as shipped computes, and a model file changed on disk after the load must fail a request by name,
// never feed another file's rows.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AS_SHIPPED, Gpt2Decoder } from '../../src/worker/engine/decoder';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { createSession } from '../../src/worker/engine/session';
import { readTokenRows } from '../../src/worker/engine/tokenRows';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { exportFolder } from '../support/hfExport';
import { maxAbsDiff } from '../support/maxAbsDiff';
import { tinyModelDir } from '../support/tinyModel';

const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931];

async function logitsOf(decoder: Gpt2Decoder): Promise<Float32Array[]> {
  decoder.reset();
  const out = [Float32Array.from((await decoder.prefill(PROMPT))!.logits)];
  for (const id of [13, 198, 464]) out.push(Float32Array.from(await decoder.forward([id])));
  return out;
}

/** The model's logits against those of its file as shipped, run as is. */
async function expectSameAsShipped(model: LoadedModel, tolerance: number): Promise<void> {
  const session = await createSession(fs.readFileSync(model.info.files[2]), 'cpu', 1);
  try {
    const want = await logitsOf(new Gpt2Decoder(session, model.decoder.shape, AS_SHIPPED));
    const got = await logitsOf(model.decoder);
    got.forEach((logits, i) => assert.ok(maxAbsDiff(logits, want[i]) <= tolerance, `step ${i}: off by ${maxAbsDiff(logits, want[i])}`));
  } finally {
    await session.release();
  }
}

describe('the embedding reads its rows from the model file', function () {
  this.timeout(120_000);
  let work: string;
  beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-rows-'))));
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const dtype of ['fp32', 'q8'] as const) {
    it(`the engine's own ${dtype} graph takes token_rows and computes what the file as shipped computes`, async () => {
      const model = await loadModel({ folder: await tinyModelDir(), name: 'tiny', dtype, device: 'cpu', threads: 1 });
      try {
        assert.ok(model.decoder.tokenTable, 'the decoder reads the token table from the file');
        assert.equal(model.decoder.tokenTable.file, model.info.files[2]);
        // q8: the file as shipped quantizes the lm_head's input over every position, the lean graph over the last
        await expectSameAsShipped(model, dtype === 'fp32' ? 1e-4 : 2e-2);
      } finally {
        await model.dispose();
      }
    });
  }

  it('a genuine q8 export (its own lm_head matrix): the rows come from its 8-bit table in the file', async () => {
    const model = await loadModel({ folder: exportFolder('xenova-layout'), name: 'xenova', dtype: 'q8', device: 'cpu', threads: 1 });
    try {
      assert.match(model.decoder.tokenTable?.type ?? 'none', /^u?int8$/, "the export's own 8-bit table, as stored");
      await expectSameAsShipped(model, 2e-2);
    } finally {
      await model.dispose();
    }
  });

  /** A copy of the tiny model, loaded with its weights read from the copy. */
  async function loadCopy(): Promise<{ model: LoadedModel; file: string }> {
    const tiny = await tinyModelDir();
    fs.cpSync(tiny, work, { recursive: true });
    const model = await loadModel({ folder: work, name: 'copy', dtype: 'fp32', device: 'cpu', threads: 1 });
    return { model, file: path.join(work, onnxFileName('fp32')) };
  }

  const request = (model: LoadedModel) => {
    model.decoder.reset();
    return model.decoder.prefill(PROMPT);
  };

  it('a model file replaced on disk after the load fails the next request by name, even with the same bytes put back under the name', async () => {
    const { model, file } = await loadCopy();
    try {
      await request(model);
      const original = fs.readFileSync(file);
      const replaced = Buffer.from(original);
      replaced.fill(7, replaced.length / 2);
      fs.writeFileSync(file + '.new', replaced);
      fs.renameSync(file + '.new', file); // what a download or an export writes: a new file under the old name
      await assert.rejects(request(model), (error: Error) => {
        assert.equal(error.name, 'EngineError');
        assert.match(error.message, /the model file changed on disk after it was loaded \(not the file that was loaded\)/);
        assert.ok(error.message.includes(file), error.message);
        return true;
      });
      fs.writeFileSync(file + '.new', original);
      fs.renameSync(file + '.new', file);
      await assert.rejects(request(model), /changed on disk/, 'another inode is another file, even with the same bytes');
    } finally {
      await model.dispose();
    }
  });

  it('a model file truncated in place fails the request by name (no SIGBUS, no short rows)', async () => {
    const { model, file } = await loadCopy();
    try {
      await request(model);
      const table = model.decoder.tokenTable!;
      fs.truncateSync(file, table.offset + 10);
      await assert.rejects(request(model), /the model file changed on disk after it was loaded/);
      fs.rmSync(file);
      await assert.rejects(request(model), /the model file changed on disk after it was loaded \(ENOENT\)/);
    } finally {
      await model.dispose();
    }
  });

  it('reads each id\'s row, in order, and refuses an id outside the table', async () => {
    const { model } = await loadCopy();
    try {
      const table = model.decoder.tokenTable!;
      const rows = readTokenRows(table, [5, 0, 5], [1, 3]);
      assert.deepEqual(rows.dims, [1, 3, table.width]);
      const data = rows.data as Float32Array;
      assert.deepEqual(data.subarray(0, table.width), data.subarray(2 * table.width), 'the same id gives the same row');
      assert.notDeepEqual(data.subarray(0, table.width), data.subarray(table.width, 2 * table.width));
      assert.throws(() => readTokenRows(table, [table.rows], [1, 1]), /token id \d+ is outside the table/);
      assert.throws(() => readTokenRows(table, [-1], [1, 1]), /token id -1 is outside the table/);
    } finally {
      await model.dispose();
    }
  });
});
