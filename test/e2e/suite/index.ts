// extensionTestsPath entry point: VS Code's extension host calls run() and reports its outcome to the browser
// (codeAutomationExit). Mocha is resolved from the repository's node_modules, not from this bundle's temp folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

export function run(): Promise<void> {
  const repo = process.env.LOCAL_GPT2_E2E_REPO;
  const results = process.env.LOCAL_GPT2_E2E_RESULTS;
  if (!repo || !results) return Promise.reject(new Error('run the in-host suite through test/e2e/run.ts or test/e2e/desktop.ts'));
  // mocha 12 is an ES module: require() gives its namespace, whose default export is the class.
  const loaded = createRequire(path.join(repo, 'package.json'))('mocha') as { default?: typeof Mocha } & typeof Mocha;
  const MochaClass = loaded.default ?? loaded;
  const mocha = new MochaClass({
    ui: 'tdd',
    color: false,
    reporter: 'spec', // goes to the extension host's stdout (code-server's log); the runner reads `results`
    timeout: 60_000,
    slow: 5_000,
    grep: process.env.LOCAL_GPT2_E2E_GREP || undefined,
  });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));

  // One JSON object per line, appended as tests finish: a run that hangs still leaves what it did behind.
  const emit = (event: Record<string, unknown>) => fs.appendFileSync(results, JSON.stringify(event) + '\n');
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      emit({ event: 'end', passes: runner.stats?.passes ?? 0, failures, pending: runner.stats?.pending ?? 0 });
      if (failures) reject(new Error(`${failures} tests failed`));
      else resolve();
    });
    runner.on('start', () => emit({ event: 'start', total: runner.total, files }));
    runner.on('test', (t) => emit({ event: 'begin', title: t.fullTitle() }));
    runner.on('pass', (t) => emit({ event: 'pass', title: t.fullTitle(), ms: t.duration }));
    runner.on('pending', (t) => emit({ event: 'pending', title: t.fullTitle() }));
    runner.on('fail', (t, err: Error) =>
      emit({ event: 'fail', title: t.fullTitle(), ms: t.duration, error: err?.message, stack: err?.stack }),
    );
  });
}
