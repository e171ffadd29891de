// Two VS Code windows may download the same model into one cache folder at the same time (two processes, one
// global storage). Both must end with the same verified files, and neither may fail because of the other.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { ModelSource } from '../../src/protocol';
import * as path from 'node:path';
import { BASE_FILES } from '../../src/worker/onnxFiles';
import { resolveModel, snapshotFolder } from '../../src/worker/store/modelStore';
import { LoopbackHub } from '../support/loopbackHub';
import { tinyModelDir } from '../support/tinyModel';

const MODEL = 'local/tiny';
const FILES = [...BASE_FILES, 'onnx/decoder_model_merged.onnx'];
const SCRIPT = path.resolve(__dirname, '../support/store-resolve.ts');
const ROOT = path.resolve(__dirname, '../..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function resolveInProcess(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...run, code })));
}

describe('model store: two processes, one cache', function () {
  this.timeout(120_000);
  let hub: LoopbackHub;
  let tiny: string;
  let work: string;

  before(async () => {
    tiny = await tinyModelDir();
    hub = await new LoopbackHub({ [MODEL]: tiny }).start();
    hub.chunkDelayMs = 15; // each file takes a few hundred ms, so that the two downloads overlap
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-two-'));
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  for (let trial = 1; trial <= 4; trial++) {
    it(`both succeed and the files verify (trial ${trial})`, async () => {
      const cacheDir = path.join(work, `cache-${trial}`);
      const args = [hub.url, cacheDir, MODEL, 'fp32', String(Date.now() + 2500)];
      const runs = await Promise.all([resolveInProcess(args), resolveInProcess(args)]);
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      assert.ok(runs.some((run) => /another window is downloading/.test(run.stderr)), 'the two really overlapped');
      const [a, b] = runs.map((run) => JSON.parse(run.stdout) as { folder: string; downloaded: string[] });
      assert.equal(a.folder, b.folder);
      assert.deepEqual([...a.downloaded, ...b.downloaded].sort(), [...FILES].sort(), 'each file downloaded once');
      for (const file of FILES) assert.ok(fs.readFileSync(path.join(a.folder, file)).equals(fs.readFileSync(path.join(tiny, file))), file);
      const leftovers = (fs.readdirSync(a.folder, { recursive: true }) as string[]).filter((f) => /partial|lock|tmp/.test(f));
      assert.deepEqual(leftovers, []);
      hub.requests.length = 0;
      const again = await resolveModel({ kind: 'hub', modelId: MODEL, revision: 'main', hubUrl: hub.url, cacheDir, offline: true }, 'fp32');
      assert.deepEqual(again.downloaded, [], 'the manifest vouches for every file');
    });
  }

  describe('a lock left behind', () => {
    let cacheDir: string;
    let lock: string;
    const source = (): ModelSource => ({ kind: 'hub', modelId: MODEL, revision: 'main', hubUrl: hub.url, cacheDir, offline: false });
    const leaveLock = (pid: number, ageMs = 0) => {
      fs.mkdirSync(path.dirname(lock), { recursive: true });
      fs.writeFileSync(lock, JSON.stringify({ host: os.hostname(), pid, token: 'left-behind' }));
      const when = new Date(Date.now() - ageMs);
      fs.utimesSync(lock, when, when);
    };
    beforeEach(() => {
      cacheDir = fs.mkdtempSync(path.join(work, 'left-'));
      hub.requests.length = 0;
      lock = path.join(snapshotFolder(cacheDir, MODEL, 'main'), '.local-gpt2.lock');
    });

    it('by a process that has exited is broken at once', async () => {
      leaveLock(spawnSync(process.execPath, ['-e', '']).pid!);
      const started = Date.now();
      await resolveModel(source(), 'fp32');
      assert.ok(Date.now() - started < 5_000);
      assert.equal(fs.existsSync(lock), false);
    });

    it('that nobody has touched for a minute is broken, even with a live pid', async () => {
      leaveLock(process.ppid, 60_000);
      await resolveModel(source(), 'fp32');
      assert.equal(fs.existsSync(lock), false);
    });

    it('held by a live process is waited for, and the wait can be cancelled', async () => {
      leaveLock(process.ppid);
      const log: string[] = [];
      await assert.rejects(resolveModel(source(), 'fp32', { signal: AbortSignal.timeout(700), log: (m) => log.push(m) }), /TimeoutError|aborted/);
      assert.ok(log.some((m) => /another window is downloading into .*; waiting for it to finish/.test(m)), log.join('\n'));
      assert.equal(JSON.parse(fs.readFileSync(lock, 'utf8')).token, 'left-behind', 'someone else\'s live lock is left alone');
      assert.deepEqual(hub.requests.filter((r) => r.step !== 'api'), []);
    });
  });
});
