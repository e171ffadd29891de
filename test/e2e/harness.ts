// What both in-host runners share (run.ts: code-server + chromium; desktop.ts: desktop VS Code): the bundled suite,
// the fixtures its VS Code starts with, and the results file the suite writes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

export const MODEL_ID = 'local/tiny-gpt2';

/** Bundles the in-host suite (TypeScript) for the extension host: one file per test file, `vscode` and mocha external. */
export async function bundleSuite(outdir: string): Promise<string> {
  const dir = path.join(__dirname, 'suite');
  const entryPoints = fs
    .readdirSync(dir)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
  await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
  return path.join(outdir, 'index.js');
}

export function writeFixtures(work: string, hubUrl: string): { ud: string; exts: string; ws: string; config: string } {
  const ud = path.join(work, 'ud');
  const exts = path.join(work, 'exts');
  const ws = path.join(work, 'ws');
  const config = path.join(work, 'cs-config.yaml');
  fs.mkdirSync(path.join(ud, 'User'), { recursive: true });
  fs.mkdirSync(exts, { recursive: true });
  fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
  fs.writeFileSync(config, 'auth: none\ncert: false\n'); // or code-server writes one into the home folder
  const settings = {
    'localGpt2.hubUrl': hubUrl,
    'localGpt2.model': MODEL_ID,
    'localGpt2.dtype': 'fp32',
    'localGpt2.debounceMs': 50,
    'files.hotExit': 'off',
    'editor.inlineSuggest.enabled': true,
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'workbench.enableExperiments': false,
    'workbench.tips.enabled': false,
    'git.enabled': false,
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.wordBasedSuggestions': 'off',
    'workbench.colorTheme': 'Default Dark Modern',
    'editor.wordWrap': 'on', // the whole ghost text is visible (and in docs/ghost-text.png)
    'editor.minimap.enabled': false,
  };
  fs.writeFileSync(path.join(ud, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(path.join(ws, 'notes.txt'), 'Things to remember:\n');
  fs.writeFileSync(path.join(ws, 'README.md'), '# A workspace for the Local GPT-2 tests\n\nSome prose.\n');
  fs.writeFileSync(path.join(ws, 'src', 'hello.py'), 'def hello():\n    print("hello")\n');
  return { ud, exts, ws, config };
}

/** Where the in-host suite finds its run (read by test/e2e/suite/helpers.ts); both runners pass exactly these. */
export interface SuiteRun {
  results: string;
  work: string;
  ws: string;
  ud: string;
  modelDir: string;
  extension: string;
  grep?: string;
  /** The browser driver's URL; without one the suite knows it has no page (desktop VS Code). */
  driverUrl?: string;
}

export function suiteEnvironment(run: SuiteRun): Record<string, string> {
  return {
    LOCAL_GPT2_E2E_REPO: path.resolve(__dirname, '../..'),
    LOCAL_GPT2_E2E_RESULTS: run.results,
    LOCAL_GPT2_E2E_WORK: run.work,
    LOCAL_GPT2_E2E_WS: run.ws,
    LOCAL_GPT2_E2E_USER_DATA: run.ud,
    LOCAL_GPT2_E2E_MODEL_DIR: run.modelDir,
    LOCAL_GPT2_E2E_EXTENSION: run.extension,
    ...(run.driverUrl ? { LOCAL_GPT2_E2E_DRIVER: run.driverUrl } : {}),
    LOCAL_GPT2_E2E_GREP: run.grep ?? '',
    LOCAL_GPT2_TEST_SEAM: '1', // the extension's test seam (src/testSeam.ts): 08-worker-crash crashes the worker through it
  };
}

export interface ResultEvent {
  event: 'start' | 'begin' | 'pass' | 'fail' | 'pending' | 'end';
  title?: string;
  ms?: number;
  error?: string;
  stack?: string;
  total?: number;
}

export function readResults(file: string): ResultEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ResultEvent);
}
