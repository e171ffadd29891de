// (c) "Generate continuation" inserts text at the cursor, or after the selection, and ONE undo removes all of it.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { RequestLog, closeAllEditors, driver, getApi, openFile, setSettings, waitFor, waitForQuiet } from './helpers';

suite('generate continuation', () => {
  let restore: (() => Promise<void>) | undefined;
  suiteSetup(async () => {
    restore = await setSettings({ 'localGpt2.generateMaxTokens': 24 });
  });
  suiteTeardown(async () => {
    await restore?.();
  });
  teardown(closeAllEditors);

  async function generate(editor: vscode.TextEditor, log: RequestLog) {
    const api = await getApi();
    const from = log.sent.length;
    await vscode.commands.executeCommand('localGpt2.generateContinuation');
    const request = await log.next('a generate request', (r) => r.kind === 'generate', 20_000, from);
    // How it ended says why, when nothing was inserted (a stop for a cursor move, an error): "done" is the claim.
    const outcome = await waitFor('the generate request to end', () => log.outcomeOf(request), 20_000);
    assert.equal(outcome.outcome, 'done', `the generation ended ${JSON.stringify(outcome)}`);
    await waitForQuiet(api, editor.document);
    return request;
  }

  test('inserts at the cursor; one undo removes it', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const original = 'Once upon a time';
      const editor = await openFile('generate.txt', original);
      const request = await generate(editor, log);
      assert.ok(request.options.prompt.endsWith(original), `prompt ${JSON.stringify(request.options.prompt)}`);
      assert.equal(request.options.maxNewTokens, 24, 'localGpt2.generateMaxTokens');
      const text = editor.document.getText();
      assert.ok(text.startsWith(original) && text.length > original.length, `after generate: ${JSON.stringify(text)}`);
      await vscode.commands.executeCommand('undo');
      assert.equal(editor.document.getText(), original, 'one undo restores the text');
    } finally {
      log.dispose();
    }
  });

  test('inserts after the selection, keeping it; one undo removes it', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const original = 'Alpha beta gamma';
      const editor = await openFile('generate-selection.txt', original);
      editor.selection = new vscode.Selection(0, 6, 0, 10); // "beta"
      // A user selects before invoking the command: let the editor echo this selection (and openFile's) back first,
      // or a late echo of the earlier one reads as the cursor moving away and stops the run.
      await driver.idle();
      const request = await generate(editor, log);
      assert.ok(request.options.prompt.endsWith('Alpha beta'), `prompt ${JSON.stringify(request.options.prompt)}`);
      const text = editor.document.getText();
      assert.ok(text.startsWith('Alpha beta') && text.endsWith(' gamma'), `after generate: ${JSON.stringify(text)}`);
      assert.ok(text.length > original.length, 'nothing was inserted');
      await vscode.commands.executeCommand('undo');
      assert.equal(editor.document.getText(), original, 'one undo restores the text');
    } finally {
      log.dispose();
    }
  });
});
