// (issue 5) The model worker dies in the middle of a generation: during "Generate continuation" and during an inline
// request. The request ends with an error (it does not hang), nothing is left as an unhandled rejection, the state
// and the status bar say that the worker crashed and restarts, and the next completion restarts the worker and works.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import {
  RequestLog,
  type LocalGpt2Api,
  type SentRequest,
  closeAllEditors,
  driver,
  expectGhost,
  getApi,
  openFile,
  setSettings,
  sleep,
  testSeam,
  typeText,
  waitFor,
  waitForState,
  watchUnhandledRejections,
  within,
  skipWithoutBrowser,
} from './helpers';

const CRASHED = /crash/i;
const RESTARTS = /restart/i;

suite('worker killed mid-generation', () => {
  suiteSetup(function () {
    skipWithoutBrowser(this); // it looks at the rendered page
  });
  let restore: (() => Promise<void>) | undefined;
  suiteSetup(async () => {
    // Long generations, so that the kill lands while the worker is still decoding.
    restore = await setSettings({ 'localGpt2.generateMaxTokens': 1024, 'localGpt2.maxNewTokens': 64, 'localGpt2.multiline': true });
  });
  suiteTeardown(async () => {
    await restore?.();
  });
  teardown(closeAllEditors);

  /** Loads the model (lazily, through a completion) so that the next request goes straight to generation. */
  async function ready(api: LocalGpt2Api, editor: vscode.TextEditor) {
    await waitForState(api, ['ready'], 60_000, async () => {
      await vscode.window.showTextDocument(editor.document);
      await vscode.commands.executeCommand('localGpt2.triggerCompletion');
    });
  }

  /** The state after the crash: error, with a message that says the worker crashed and restarts; the status bar shows it. */
  async function expectCrashState(api: LocalGpt2Api, seen: string[]) {
    const state = api.state();
    assert.ok(seen.includes('error') || state.kind === 'error', `the state never became error: ${seen.join(' > ')}`);
    const error = state.kind === 'error' ? state : await waitForState(api, ['error'], 5000);
    assert.match(error.message ?? '', CRASHED, `error message: ${error.message}`);
    assert.match(error.message ?? '', RESTARTS, `error message: ${error.message}`);
    const status = await waitFor('the status bar item to show the error icon', async () => {
      const s = await driver.status();
      return s.found && /codicon-error\b/.test(s.icons) ? s : undefined;
    }, 5000, 100);
    assert.match(status.text, /GPT-2/);
  }

  /** The next completion restarts the worker: ghost text appears, a new inline request ends `done`, the state is ready. */
  async function expectRecovery(api: LocalGpt2Api, log: RequestLog) {
    const from = log.sent.length;
    await typeText(' and then');
    await vscode.commands.executeCommand('localGpt2.triggerCompletion');
    await expectGhost(30_000);
    const done = await waitFor(
      () => `an inline request after the crash to end done; ended: ${JSON.stringify(log.finished.map((r) => r.outcome))}`,
      () => log.sent.slice(from).find((r) => r.kind === 'inline' && log.outcomeOf(r)?.outcome === 'done'),
      20_000,
    );
    assert.ok(done);
    // Back to ready (not stuck in `error`, nor in `generating` once nothing runs any more).
    const seen: string[] = [];
    const watch = api.onDidChangeState((s) => seen.push(s.kind));
    try {
      await waitFor(
        () => `the state to settle on ready; went through ${seen.join(' > ')}; now ${JSON.stringify(api.state()).slice(0, 200)}`,
        () => api.state().kind === 'ready',
        10_000,
      );
    } finally {
      watch.dispose();
    }
    const status = await waitFor('the status bar item to leave the error look', async () => {
      const s = await driver.status();
      return s.found && !/codicon-error\b/.test(s.icons) ? s : undefined;
    }, 5000, 100);
    assert.match(status.text, /GPT-2/);
  }

  test('during Generate continuation', async function () {
    this.timeout(120_000);
    const api = await getApi();
    const rejections = watchUnhandledRejections();
    const seen: string[] = [];
    const watchState = api.onDidChangeState((s) => seen.push(s.kind));
    const log = new RequestLog(api);
    let restoreEnable: (() => Promise<void>) | undefined;
    try {
      const original = 'Once upon a time there was a worker';
      const editor = await openFile('crash-generate.txt', original);
      await ready(api, editor);
      await vscode.window.showTextDocument(editor.document);
      const end = editor.document.positionAt(editor.document.getText().length);
      editor.selection = new vscode.Selection(end, end);

      // The streamed text makes the editor ask for ghost text, and that request would restart the worker (as it
      // should) before the error state could be looked at: ghost text while typing is off until the recovery step.
      restoreEnable = await setSettings({ 'localGpt2.enable': false });
      await waitForState(api, ['disabled'], 5000); // the extension has seen the setting

      // Kill the worker as soon as the first streamed text reaches the document: the generation is under way.
      let killedAfter: number | undefined;
      const killer = vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === editor.document && killedAfter === undefined && e.contentChanges.length > 0) {
          killedAfter = e.document.getText().length - original.length;
          testSeam(api).crashWorker();
        }
      });
      const from = log.sent.length;
      let command: Thenable<unknown>;
      try {
        command = vscode.commands.executeCommand('localGpt2.generateContinuation');
        const request = await log.next('the generate request', (r) => r.kind === 'generate', 20_000, from);
        await waitFor('the first streamed text', () => killedAfter !== undefined, 20_000, 10);
        const outcome = await waitFor(
          'the generate request to end after the kill (a hang means the crash did not reject it)',
          () => log.outcomeOf(request),
          15_000,
        );
        assert.equal(outcome.outcome, 'error', `the killed generation ended ${JSON.stringify(outcome).slice(0, 300)}`);
        if (outcome.outcome === 'error') assert.match(outcome.message, CRASHED);
        // The command itself finishes (its notification closes) rather than waiting forever.
        await within(command, 10_000, 'the Generate continuation command did not finish');
      } finally {
        killer.dispose();
      }
      const text = editor.document.getText();
      assert.ok(text.startsWith(original), `the text before the cursor changed: ${JSON.stringify(text.slice(0, 80))}`);
      await expectCrashState(api, seen);

      await sleep(300);
      assert.equal(api.state().kind, 'error', 'the error state lasts until the next request');
      await restoreEnable?.();
      restoreEnable = undefined;
      await expectRecovery(api, log);
      await rejections.assertNone();
    } finally {
      await restoreEnable?.();
      rejections.dispose();
      watchState.dispose();
      log.dispose();
    }
  });

  test('during an inline request', async function () {
    this.timeout(120_000);
    const api = await getApi();
    const rejections = watchUnhandledRejections();
    const seen: string[] = [];
    const watchState = api.onDidChangeState((s) => seen.push(s.kind));
    let victim: SentRequest | undefined;
    let armed = false;
    const log = new RequestLog(api, (r) => {
      if (!victim && armed && r.kind === 'inline') {
        victim = r;
        // After this tick: the generate message is then already on its way to the worker, ahead of the crash.
        setImmediate(() => testSeam(api).crashWorker());
      }
    });
    try {
      const editor = await openFile('crash-inline.md', '# Notes\n\nThe worker was busy writing');
      await ready(api, editor);
      await vscode.window.showTextDocument(editor.document);
      armed = true;
      // One explicit request and nothing else (typing as well would start a second request that supersedes it).
      await vscode.commands.executeCommand('localGpt2.triggerCompletion');
      const killed = await waitFor('an inline request to kill the worker under', () => victim, 20_000, 10);
      const outcome = await waitFor(
        'the inline request to end after the kill (a hang means the crash did not reject it)',
        () => log.outcomeOf(killed),
        15_000,
      );
      // It was in the worker when the worker died: an error, not a result and not a cancellation.
      assert.equal(outcome.outcome, 'error', `the killed inline request ended ${JSON.stringify(outcome).slice(0, 300)}`);
      if (outcome.outcome === 'error') assert.match(outcome.message, CRASHED);
      await sleep(200); // the editor may ask again meanwhile; none of that may hide the error
      await expectCrashState(api, seen);

      await expectRecovery(api, log);
      await rejections.assertNone();
    } finally {
      rejections.dispose();
      watchState.dispose();
      log.dispose();
    }
  });
});
