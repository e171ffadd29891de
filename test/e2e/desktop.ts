// The in-host suite (test/e2e/suite) under desktop VS Code, through @vscode/test-electron:
//
//   npm run test:desktop [-- --grep <regexp>]
//
// VS Code comes from LOCAL_GPT2_VSCODE_EXECUTABLE, else from a copy downloaded once into ~/.cache/local-gpt2-e2e/vscode.
// Where neither can be had it fails at once with one line saying why (exit 2), instead of waiting on a download.
// On Linux it needs a display (run it under `xvfb-run -a` on a server).
//
// There is no browser here, so the suite types through the editor's `type` command and skips, as pending, the tests
// that look at the rendered page (ghost text, the status bar): those run under `npm run test:e2e` (code-server).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { LoopbackHub } from '../support/loopbackHub';
import { bundleSuite, MODEL_ID, readResults, suiteEnvironment, writeFixtures } from './harness';

const REPO = path.resolve(__dirname, '../..');
const E2E_HOME = process.env.LOCAL_GPT2_E2E_HOME ?? path.join(os.homedir(), '.cache', 'local-gpt2-e2e');
const VSCODE_CACHE = path.join(E2E_HOME, 'vscode');
const MODEL_DIR = path.resolve(process.env.LOCAL_GPT2_E2E_MODEL_DIR ?? path.join(REPO, 'models', 'tiny'));
const DOWNLOAD_SERVER = 'https://update.code.visualstudio.com';
const PROBE_MS = 5000;

const { values: args } = util.parseArgs({ options: { grep: { type: 'string' }, timeout: { type: 'string', default: '600' } } });

/** Why the suite cannot run here at all (as opposed to tests that failed). */
class CannotRun extends Error {}

function preflight(): void {
  if (!fs.existsSync(path.join(REPO, 'dist', 'extension.js'))) throw new CannotRun('dist/extension.js is missing: run `npm run build`');
  if (!fs.existsSync(path.join(MODEL_DIR, 'config.json'))) throw new CannotRun(`${MODEL_DIR} is missing: run \`npm run make-model -- --preset tiny\``);
}

/** The VS Code to run: the one given, a downloaded copy, or a new download when the server answers. */
async function vscodeExecutable(): Promise<string> {
  const given = process.env.LOCAL_GPT2_VSCODE_EXECUTABLE;
  if (given) {
    if (!fs.existsSync(given)) throw new CannotRun(`LOCAL_GPT2_VSCODE_EXECUTABLE=${given} does not exist`);
    return given;
  }
  // A copy already downloaded is used offline too (test-electron falls back to it); only a first download needs the server.
  const cached = fs.existsSync(VSCODE_CACHE) && fs.readdirSync(VSCODE_CACHE).some((d) => d.startsWith('vscode-'));
  const unreachable = cached ? undefined : await probe(DOWNLOAD_SERVER);
  if (unreachable) {
    throw new CannotRun(`no desktop VS Code: LOCAL_GPT2_VSCODE_EXECUTABLE is not set and the VS Code download (${DOWNLOAD_SERVER}) is unreachable (${unreachable})`);
  }
  return downloadAndUnzipVSCode({ version: 'stable', cachePath: VSCODE_CACHE, timeout: 30_000 });
}

/** Undefined when `url` answers within PROBE_MS, else why not: test-electron itself would wait much longer. */
async function probe(url: string): Promise<string | undefined> {
  try {
    await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(PROBE_MS) });
    return undefined;
  } catch (e) {
    const error = e as Error & { cause?: { code?: string; message?: string } };
    return error.cause?.code ?? error.cause?.message ?? error.message;
  }
}

function needsDisplay(): void {
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    throw new CannotRun('no display for desktop VS Code: run it under `xvfb-run -a npm run test:desktop`');
  }
}

/** Prints the suite's results (the file the in-host index.ts writes); returns how many failed. */
function report(results: string): number {
  const events = readResults(results);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const e of events) {
    if (e.event === 'pass') passed++;
    if (e.event === 'fail') failed++;
    if (e.event === 'pending') skipped++;
    if (e.event === 'pass') console.log(`    ✔ ${e.title} (${e.ms} ms)`);
    if (e.event === 'fail') console.log(`    ✘ ${e.title}\n        ${String(e.error).split('\n').join('\n        ')}`);
    if (e.event === 'pending') console.log(`    - ${e.title} (skipped: needs the browser; runs under npm run test:e2e)`);
  }
  if (!events.some((e) => e.event === 'end')) {
    failed++;
    console.log('    ✘ the suite did not report its end: VS Code exited or hung before (its output is above)');
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed;
}

async function main(): Promise<number> {
  preflight();
  const executable = await vscodeExecutable();
  needsDisplay();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-desktop-'));
  const hub = await new LoopbackHub({ [MODEL_ID]: MODEL_DIR }).start();
  try {
    const testsPath = await bundleSuite(path.join(work, 'suite'));
    const { ud, exts, ws } = writeFixtures(work, hub.url);
    const results = path.join(work, 'results.jsonl');
    const run = runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: testsPath,
      launchArgs: [ws, '--user-data-dir', ud, '--extensions-dir', exts, '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', '--disable-gpu'],
      // What run.ts passes code-server, less the browser driver: helpers.ts then knows it has no page.
      extensionTestsEnv: suiteEnvironment({ results, work, ws, ud, modelDir: MODEL_DIR, extension: REPO, grep: args.grep }),
    });
    const limitMs = Number(args.timeout) * 1000;
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limitMs).unref());
    const outcome = await Promise.race([run.catch(() => 'failed' as const), timedOut]);
    if (outcome === 'timeout') console.log(`    ✘ the suite did not finish within ${limitMs / 1000} s`);
    return report(results) > 0 || outcome !== 0 ? 1 : 0;
  } finally {
    await hub.stop().catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`test:desktop ${e instanceof CannotRun ? 'cannot run' : 'failed'}: ${(e as Error).message}`);
    process.exit(e instanceof CannotRun ? 2 : 1);
  },
);
