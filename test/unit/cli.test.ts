import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_MAX_TOKENS, parseCliArgs, UsageError } from '../../src/cliArgs';
import { DEFAULT_SETTINGS } from '../../src/core/settings';
import { workerScript } from '../support/workerScript';

const ROOT = path.resolve(__dirname, '../..');

describe('CLI flags are raw settings', () => {
  it('maps each flag to its setting and parses it like the editor', () => {
    const { settings, warnings } = parseCliArgs(['--top-k', '40', '--top-p', '0.9', '--dtype', 'fp32', '--max-tokens', '10', 'Hello', 'world']);
    assert.equal(settings.topK, 40);
    assert.equal(settings.topP, 0.9);
    assert.equal(settings.dtype, 'fp32');
    assert.equal(settings.generateMaxTokens, 10);
    assert.equal(settings.model, DEFAULT_SETTINGS.model);
    assert.deepEqual(warnings, []);
    assert.equal(parseCliArgs(['Hello', 'world']).prompt, 'Hello world');
    assert.equal(parseCliArgs([]).settings.generateMaxTokens, CLI_MAX_TOKENS);
  });

  it("clamps out-of-range numbers like the settings, in the settings parser's words under the flag's name", () => {
    const { settings, warnings } = parseCliArgs(['--threads', '1000', '--temperature', '-3', '--top-k', '-1.5', 'x']);
    assert.equal(settings.threads, 64);
    assert.equal(settings.temperature, 0);
    assert.equal(settings.topK, 0);
    assert.deepEqual(warnings, [
      '--top-k: -1.5 is below the minimum 0; using 0 (no limit)',
      '--temperature: -3 is below the minimum 0; using 0 (greedy)',
      '--threads: 1000 is above the maximum 64; using 64',
    ]);
  });

  it('accepts negative numbers as values (parseArgs alone takes them for flags)', () => {
    assert.equal(parseCliArgs(['--seed', '-7', '--temperature', '-.5', 'x']).seed, -7);
  });

  it('refuses what is not a number, and names that would load something else than asked for', () => {
    assert.throws(() => parseCliArgs(['--top-k', 'many']), (e: Error) => e instanceof UsageError && /--top-k expects a number/.test(e.message));
    assert.throws(() => parseCliArgs(['--dtype', 'fp16']), (e: Error) => e instanceof UsageError && /--dtype: "fp16" is not one of fp32, q8, q4$/.test(e.message));
    assert.throws(() => parseCliArgs(['--model', 'not an id']), UsageError);
    assert.throws(() => parseCliArgs(['--no-such-flag']), UsageError);
  });

  it('resolves --model-dir against the working directory', () => {
    assert.equal(parseCliArgs(['--model-dir', 'models/tiny']).settings.localModelPath, path.resolve('models/tiny'));
  });
});

describe('CLI process: exit codes and messages', function () {
  this.timeout(120_000);
  let cli = '';
  let cacheDir = '';

  before(() => {
    cli = path.join(path.dirname(workerScript()), 'cli.js'); // builds dist/ once per run
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lg2-cli-'));
  });
  after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: ROOT, input: '', timeout: 60_000 });

  it('--version prints package.json version', () => {
    const { status, stdout } = run('--version');
    assert.equal(status, 0);
    assert.equal(stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('a usage error exits 2 with the usage, which lists the exit codes', () => {
    const { status, stderr } = run('--dtype', 'fp16', 'x');
    assert.equal(status, 2, stderr);
    assert.match(stderr, /usage: local-gpt2/);
    assert.match(stderr, /Exit codes: 0 done, 2 usage error, 3 model files missing or broken,/);
  });

  it('a missing model folder exits 3; a clamped flag is warned about first', () => {
    const { status, stderr } = run('--model-dir', path.join(cacheDir, 'none'), '--temperature', '-3', 'x');
    assert.equal(status, 3, stderr);
    assert.match(stderr, /warning: --temperature: -3 is below the minimum 0; using 0 \(greedy\)/);
  });

  it('an unreachable hub exits 4 and suggests a local model folder', async () => {
    const port = await closedPort();
    const { status, stderr } = run('--hub-url', `http://127.0.0.1:${port}`, '--cache-dir', cacheDir, 'x');
    assert.equal(status, 4, stderr);
    assert.match(stderr, /127\.0\.0\.1:\d+ could not be reached; without a network, use a local model folder, e\.g\. --model-dir models\/tiny/);
  });

  it('--offline without the model in the cache exits 4 and says why', () => {
    const { status, stderr } = run('--offline', '--cache-dir', cacheDir, 'x');
    assert.equal(status, 4, stderr);
    assert.match(stderr, /hint: the model is not in the download cache; .*--model-dir models\/tiny/);
  });
});

/** A port nothing listens on: bound once, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
