// Real-editor tests: runs the mocha suite in test/e2e/suite INSIDE the extension host of a real VS Code
// (code-server, driven by headless Debian chromium through playwright-core), with the extension loaded from this
// repository (extensionDevelopmentPath) and the tiny model served by the loopback hub.
//
//   npm run test:e2e [-- --grep <regexp>] [--keep] [--extension <dir>] [--vsix <file>] [--timeout <seconds>]
//
// --vsix: instead of the repository, the extension is a packaged VSIX, installed the way users install it
// (`code-server --install-extension`); the suite then runs from an empty harness extension beside it.
//
// Needs: `npm run build` (dist/), `npm run make-model -- --preset tiny` (models/tiny/) and `bash scripts/e2e-setup.sh`
// (chromium + code-server). Builds nothing itself except the in-host suite (esbuild, into a temp folder).
// Artifacts of every run (results, code-server and browser logs, screenshots) land in test-results/e2e/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { LoopbackHub } from '../support/loopbackHub';
import { bundleSuite, MODEL_ID, readResults, suiteEnvironment, writeFixtures } from './harness';

const REPO = path.resolve(__dirname, '../..');
const E2E_HOME = process.env.LOCAL_GPT2_E2E_HOME ?? path.join(os.homedir(), '.cache', 'local-gpt2-e2e');
const CODE_SERVER = process.env.LOCAL_GPT2_CODE_SERVER ?? path.join(E2E_HOME, 'server/node_modules/.bin/code-server');
const CHROMIUM = process.env.LOCAL_GPT2_CHROMIUM ?? '/usr/bin/chromium';
const MODEL_DIR = path.resolve(process.env.LOCAL_GPT2_E2E_MODEL_DIR ?? path.join(REPO, 'models', 'tiny'));
const ARTIFACTS = path.join(REPO, 'test-results', 'e2e');
const SCREENSHOT = path.join(REPO, 'docs', 'ghost-text.png');

const { values: args } = util.parseArgs({
  options: {
    grep: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // The README's screenshot changes with every run (random model text), so it is refreshed only on request.
    'update-screenshot': { type: 'boolean', default: false },
    extension: { type: 'string' },
    vsix: { type: 'string' },
    timeout: { type: 'string', default: '240' },
  },
});
const VSIX = args.vsix ? path.resolve(args.vsix) : undefined;
const EXTENSION = path.resolve(args.extension ?? REPO); // unused with --vsix
const TESTS_TIMEOUT_MS = Number(args.timeout) * 1000;
const HARD_LIMIT_MS = TESTS_TIMEOUT_MS + 60_000; // everything, setup and teardown included

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (msg: string) => console.log(`[e2e +${elapsed()}] ${msg}`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function preflight(): void {
  const problems: string[] = [];
  if (VSIX && !fs.existsSync(VSIX)) problems.push(`no VSIX at ${VSIX}: run \`npm run package -- --target linux-x64\``);
  if (!VSIX && !fs.existsSync(path.join(EXTENSION, 'package.json'))) problems.push(`no extension at ${EXTENSION}`);
  if (!VSIX && EXTENSION === REPO && !fs.existsSync(path.join(REPO, 'dist', 'extension.js'))) {
    problems.push('dist/extension.js is missing: run `npm run build`');
  }
  if (!fs.existsSync(path.join(MODEL_DIR, 'config.json'))) {
    problems.push(`${MODEL_DIR} is missing: run \`npm run make-model -- --preset tiny\``);
  }
  if (!fs.existsSync(CODE_SERVER)) problems.push(`code-server is missing: run \`bash scripts/e2e-setup.sh\` (it pins the version)`);
  if (!fs.existsSync(CHROMIUM)) problems.push(`${CHROMIUM} is missing: run \`bash scripts/e2e-setup.sh\``);
  if (problems.length) throw new Error(problems.join('\n'));
}

/** The version of the code-server package that owns this bin script, as installed (scripts/e2e-setup.sh pins it). */
function installedVersion(bin: string): string {
  for (let dir = path.dirname(fs.realpathSync(bin)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  }
  return '(version unknown)';
}

/** Installs the VSIX with code-server's own CLI; returns where it went and a harness extension to run the suite from. */
function installVsix(vsix: string, exts: string, ud: string, harness: string): { underTest: string; developmentPath: string } {
  const installed = spawnSync(CODE_SERVER, ['--extensions-dir', exts, '--user-data-dir', ud, '--install-extension', vsix], { encoding: 'utf8', timeout: 120_000 });
  const output = `${installed.stdout ?? ''}${installed.stderr ?? ''}`.trim();
  if (installed.status !== 0 || !/successfully installed/i.test(output)) throw new Error(`code-server --install-extension ${vsix} failed: ${output}`);
  const dir = fs.readdirSync(exts).find((d) => d.startsWith('local-gpt2.local-gpt2-'));
  if (!dir) throw new Error(`${vsix} installed, but no local-gpt2.local-gpt2-* folder in ${exts}`);
  say(`installed ${path.basename(vsix)} into ${dir}`);
  fs.mkdirSync(harness, { recursive: true });
  const manifest = { name: 'local-gpt2-e2e-harness', publisher: 'local-gpt2', version: '0.0.0', engines: { vscode: '*' } };
  fs.writeFileSync(path.join(harness, 'package.json'), JSON.stringify(manifest));
  return { underTest: path.join(exts, dir), developmentPath: harness };
}

/** HTTP endpoints the in-host suite calls to look at (and type into) the real page. */
function startDriver(getPage: () => Page | undefined, shots: string, hub: LoopbackHub): Promise<http.Server> {
  const routes: Record<string, (body: any, page: Page) => Promise<unknown>> = {
    hub: async () => ({ url: hub.url, requests: hub.requests }),
    idle: async (_body, page) => {
      await page.evaluate(
        'new Promise(r => { let n = 0; const go = () => requestIdleCallback(() => (++n < 2 ? go() : r(true)), { timeout: 2000 }); go(); })',
      );
      return { ok: true };
    },
    keys: async (body, page) => {
      await page.locator('.monaco-editor.focused').first().waitFor({ timeout: 5000 });
      await page.keyboard.type(String(body.text), { delay: 15 });
      return { ok: true, typedAt: Date.now() }; // the last key is typed: wall clock, comparable with the page's
    },
    ghost: async (body, page) => {
      const selector = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview';
      const ghost = page.locator(selector);
      // Checked in the page at every animation frame, which also notes the wall-clock time it first saw the text:
      // locator.waitFor polls at growing intervals (up to 500 ms apart), which would round latencies up to them.
      const seenAt = await page
        .waitForFunction(
          (sel: string) => {
            const page = globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ getClientRects(): { length: number } }> } };
            return [...page.document.querySelectorAll(sel)].some((e) => e.getClientRects().length > 0) && Date.now(); // in the page: no DOM types here
          },
          selector,
          { polling: 'raf', timeout: Math.max(1, Number(body.timeoutMs) || 0) },
        )
        .then((handle) => handle.jsonValue() as Promise<number>, () => undefined);
      if (seenAt === undefined) return { visible: false, text: '', count: 0 };
      await sleep(100); // let the line finish rendering
      const inline = await ghost.allInnerTexts();
      const lines = await page.locator('.monaco-editor .ghost-text .view-line').allInnerTexts();
      const text = [inline.join(''), ...lines].join('\n').replace(/\u00a0/g, ' ');
      let screenshot: string | undefined;
      if (body.screenshot) {
        screenshot = path.join(shots, `${body.screenshot}.png`);
        await page.screenshot({ path: screenshot });
      }
      return { visible: true, text, count: inline.length, screenshot, seenAt };
    },
    status: async (_body, page) =>
      // A self-contained expression (no function from this file: tsx may wrap those with helpers the page lacks).
      page.evaluate(`(() => {
        const el = document.getElementById('local-gpt2.local-gpt2.localGpt2.status')
          || Array.from(document.querySelectorAll('.statusbar-item')).find((e) => /GPT-2/.test(e.innerText));
        if (!el) return { found: false, text: '', ariaLabel: '', icons: '' };
        const labelled = el.querySelector('[aria-label]') || el;
        return {
          found: true,
          text: String(el.innerText || el.textContent || '').trim(),
          ariaLabel: String(labelled.getAttribute('aria-label') || ''),
          icons: Array.from(el.querySelectorAll('.codicon'), (c) => c.className).join(' '),
        };
      })()`),
    screenshot: async (body, page) => {
      const file = path.join(shots, `${String(body.name).replace(/[^\w.-]/g, '_')}.png`);
      await page.screenshot({ path: file });
      return { path: file };
    },
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', async () => {
      const name = (req.url ?? '/').slice(1);
      const route = Object.hasOwn(routes, name) ? routes[name] : undefined;
      const page = getPage();
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (!route || !page) return reply(404, { error: route ? 'no page yet' : `no route ${req.url}` });
      try {
        reply(200, await withTimeout(`driver ${req.url}`, route(raw ? JSON.parse(raw) : {}, page), 60_000));
      } catch (e) {
        reply(500, { error: (e as Error).message });
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main(): Promise<number> {
  preflight();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-e2e-'));
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shots = path.join(work, 'shots');
  fs.mkdirSync(shots);
  const results = path.join(work, 'results.jsonl');
  const csLog = path.join(work, 'code-server.log');
  const browserLog = fs.createWriteStream(path.join(work, 'browser.log'));
  say(`work folder ${work}`);

  let hub: LoopbackHub | undefined;
  let cs: ChildProcess | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page | undefined;
  let driverServer: http.Server | undefined;
  let harnessError: string | undefined;
  let exitCode: number | 'timeout' | undefined;

  const cleanup = async () => {
    await withTimeout('closing the browser', ctx?.close() ?? Promise.resolve(), 10_000).catch(() => {});
    if (cs?.pid && cs.exitCode === null) {
      try {
        process.kill(-cs.pid, 'SIGTERM'); // the whole group: code-server, its extension host, the model worker
      } catch {}
      const gone = await withTimeout('code-server exit', new Promise((r) => cs!.once('exit', r)), 3000).then(
        () => true,
        () => false,
      );
      if (!gone) {
        try {
          process.kill(-cs.pid, 'SIGKILL');
        } catch {}
      }
    }
    driverServer?.closeAllConnections();
    driverServer?.close();
    await hub?.stop().catch(() => {});
    await new Promise<void>((resolve) => browserLog.end(resolve));
  };
  const onSignal = async (signal: NodeJS.Signals) => {
    say(`${signal}: cleaning up`);
    await cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const hardLimit = setTimeout(async () => {
    console.error(`[e2e] hard limit of ${HARD_LIMIT_MS / 1000}s reached: killing everything`);
    await cleanup();
    console.log('0 passed, 1 failed');
    process.exit(1);
  }, HARD_LIMIT_MS);
  hardLimit.unref();

  try {
    const testsPath = await bundleSuite(path.join(work, 'suite'));
    say('suite bundled');

    hub = await new LoopbackHub({ [MODEL_ID]: MODEL_DIR }).start();
    say(`loopback hub ${hub.url} serving ${MODEL_ID}`);

    const { ud, exts, ws, config } = writeFixtures(work, hub.url);
    // With --vsix the extension under test is the installed one, and extensionDevelopmentPath an empty harness.
    const { underTest, developmentPath } = VSIX
      ? installVsix(VSIX, exts, ud, path.join(work, 'harness'))
      : { underTest: EXTENSION, developmentPath: EXTENSION };
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    driverServer = await startDriver(() => page, shots, hub);
    const driverUrl = `http://127.0.0.1:${(driverServer.address() as net.AddressInfo).port}`;

    const logFd = fs.openSync(csLog, 'w');
    cs = spawn(
      CODE_SERVER,
      [
        '--config', config,
        '--bind-addr', host,
        '--auth', 'none',
        '--user-data-dir', ud,
        '--extensions-dir', exts,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        ws,
      ],
      {
        detached: true, // own process group: cleanup kills the extension host and worker with it
        stdio: ['ignore', logFd, logFd],
        env: {
          ...process.env,
          // read by the in-host suite (the extension host inherits code-server's environment)
          ...suiteEnvironment({ results, work, ws, ud, modelDir: MODEL_DIR, extension: underTest, grep: args.grep, driverUrl }),
        },
      },
    );
    fs.closeSync(logFd);
    const csExited = new Promise<string>((resolve) => cs!.once('exit', (code, signal) => resolve(`code-server exited (${code ?? signal})`)));

    await withTimeout('code-server /healthz', (async () => {
      for (;;) {
        const ok = await fetch(`http://${host}/healthz`).then((r) => r.ok, () => false);
        if (ok) return;
        if (cs!.exitCode !== null) throw new Error(`code-server exited with ${cs!.exitCode}: see ${csLog}`);
        await sleep(100);
      }
    })(), 30_000);
    say(`code-server ${installedVersion(CODE_SERVER)} up on ${host}`);

    const profile = path.join(work, 'chromium-profile');
    ctx = await withTimeout('launching chromium', chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    }), 30_000);
    let settle!: (code: number) => void;
    const testsExited = new Promise<number>((resolve) => (settle = resolve));
    // VS Code's test automation hooks: the extension host's console and run()'s outcome come through these.
    await ctx.exposeFunction('codeAutomationLog', (type: string, logArgs: unknown[]) =>
      browserLog.write(`[${type}] ${util.format(...(Array.isArray(logArgs) ? logArgs : [logArgs]))}\n`),
    );
    await ctx.exposeFunction('codeAutomationExit', (code: number) => settle(code));
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => browserLog.write(`[console.${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => browserLog.write(`[pageerror] ${e.message}\n`));

    const remote = (p: string) => `vscode-remote://${host}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(developmentPath)],
      ['extensionTestsPath', remote(testsPath)],
    ];
    await page.goto(`http://${host}/?folder=${ws}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    say('browser opened VS Code; running the in-host suite');

    const timeout = sleep(TESTS_TIMEOUT_MS).then(() => 'timeout' as const);
    exitCode = await Promise.race([testsExited, timeout, csExited.then((why) => Promise.reject(new Error(why)))]);
    if (exitCode === 'timeout') {
      harnessError = `the in-host suite did not finish within ${TESTS_TIMEOUT_MS / 1000}s`;
      await page.screenshot({ path: path.join(shots, 'timeout.png') }).catch(() => {});
    }
  } catch (e) {
    harnessError = (e as Error).message;
    await page?.screenshot({ path: path.join(shots, 'harness-error.png') }).catch(() => {});
  } finally {
    await cleanup();
    clearTimeout(hardLimit);
  }

  // ---- report --------------------------------------------------------------------------------------------------
  const events = readResults(results);
  let passed = 0;
  let failed = 0;
  console.log('\n  in-host mocha results');
  for (const e of events) {
    if (e.event === 'pass') {
      passed++;
      console.log(`    ✔ ${e.title} (${e.ms} ms)`);
    } else if (e.event === 'fail') {
      failed++;
      console.log(`    ✘ ${e.title}${e.ms !== undefined ? ` (${e.ms} ms)` : ''}\n        ${String(e.error).split('\n').join('\n        ')}`);
      if (process.env.LOCAL_GPT2_E2E_STACKS) console.log(e.stack);
    } else if (e.event === 'pending') {
      console.log(`    - ${e.title} (pending)`);
    }
  }
  const started = events.filter((e) => e.event === 'begin').map((e) => e.title);
  const finished = new Set(events.filter((e) => e.event === 'pass' || e.event === 'fail' || e.event === 'pending').map((e) => e.title));
  const unfinished = started.filter((t) => !finished.has(t));
  if (unfinished.length) console.log(`    … unfinished: ${unfinished.join('; ')}`);
  if (!events.some((e) => e.event === 'end') && !harnessError && exitCode !== 0) {
    harnessError = `the extension host reported exit code ${exitCode} without mocha results (the suite did not load? see code-server.log)`;
  }
  if (harnessError || (exitCode !== 0 && !events.some((e) => e.event === 'end'))) {
    // Errors the extension host reported to the browser (a suite that failed to load, an activation error, ...).
    const errors = fs.existsSync(path.join(work, 'browser.log'))
      ? fs.readFileSync(path.join(work, 'browser.log'), 'utf8').split('\n').filter((l) => l.startsWith('[error]') && !/open-vsx\.org/.test(l))
      : [];
    if (errors.length) console.log(`    extension host errors:\n      ${errors.slice(-5).join('\n      ')}`);
  }
  if (harnessError) {
    failed++;
    console.log(`    ✘ harness: ${harnessError}`);
  }
  if (exitCode !== 0 && failed === 0) failed++; // never report success for a failed run

  // ---- artifacts ------------------------------------------------------------------------------------------------
  const ghostShot = path.join(shots, 'ghost-text.png');
  if (fs.existsSync(ghostShot) && args['update-screenshot']) {
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    fs.copyFileSync(ghostShot, SCREENSHOT);
    say(`screenshot of ghost text written to ${path.relative(REPO, SCREENSHOT)}`);
  }
  for (const f of [results, csLog, path.join(work, 'browser.log')]) {
    if (fs.existsSync(f)) fs.copyFileSync(f, path.join(ARTIFACTS, path.basename(f)));
  }
  for (const f of fs.readdirSync(shots)) fs.copyFileSync(path.join(shots, f), path.join(ARTIFACTS, f));
  const logs = path.join(work, 'ud', 'logs');
  if (fs.existsSync(logs)) fs.cpSync(logs, path.join(ARTIFACTS, 'vscode-logs'), { recursive: true });
  if (args.keep) say(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
  say(`artifacts in ${path.relative(REPO, ARTIFACTS)}/; total ${elapsed()}`);

  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[e2e] ${(e as Error).message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
