// (b) Typing on while a completion is being computed cancels it: the old result is never inserted, and the next
// request carries the longer prefix.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { RequestLog, acceptGhost, closeAllEditors, expectGhost, getApi, openFile, setSettings, sleep, typeText, waitFor, skipWithoutBrowser } from './helpers';

suite('typing cancels the running request', () => {
  suiteSetup(function () {
    skipWithoutBrowser(this); // it looks at the rendered page
  });
  teardown(closeAllEditors);

  test('the first request is superseded by one with the longer prefix', async () => {
    const api = await getApi();
    const FIRST = 'The weather today is sunny';
    const MORE = ' qzx'; // unlikely to be what the model proposed, so the editor must ask again
    let typedMore: Thenable<unknown> | undefined;
    // Type more the moment the first request goes to the worker, before its result can come back.
    const log = new RequestLog(api, (r) => {
      if (!typedMore && r.kind === 'inline' && r.options.prompt.endsWith(FIRST)) {
        typedMore = vscode.commands.executeCommand('type', { text: MORE });
      }
    });
    // Long enough that the first generation is still running when the longer prefix is asked for: with the latency
    // budget a generation goes on in the background after VS Code's cancel, until a request it cannot serve stops it.
    const restore = await setSettings({ 'localGpt2.maxNewTokens': 256 });
    try {
      const editor = await openFile('cancel.txt', 'The weather today');
      await typeText(' is sunny');
      const first = await log.next('the first inline request', (r) => r.kind === 'inline' && r.options.prompt.endsWith(FIRST));
      await typedMore;
      const firstIndex = log.sent.indexOf(first);
      await log.next('a request with the longer prefix', (r) => r.kind === 'inline' && r.options.prompt.endsWith(FIRST + MORE), 20_000, firstIndex + 1);

      await expectGhost(20_000);
      // ...and the worker was told: the superseded request ended as cancelled, not with a result.
      const firstOutcome = await waitFor('the first request to finish', () => log.outcomeOf(first), 10_000);
      assert.equal(firstOutcome.outcome, 'cancelled', `first request ended ${firstOutcome.outcome}`);
      // Nothing asked for the shorter prefix again after the longer one was typed.
      const later = log.inline.slice(log.inline.indexOf(first) + 1);
      assert.ok(later.every((r) => !r.options.prompt.endsWith(FIRST)), `stale prefix requested again: ${log.describe()}`);

      const typed = editor.document.getText();
      assert.ok(typed.startsWith(FIRST + MORE), `typed text was interleaved with a completion: ${JSON.stringify(typed)}`);
      // The ghost text on screen comes from a request for the full text.
      const last = log.inline[log.inline.length - 1];
      assert.ok(last.options.prompt.endsWith(typed.slice(-20)), `last request ${JSON.stringify(last.options.prompt.slice(-40))}`);
      const inserted = await acceptGhost(editor);
      assert.equal(editor.document.getText(), typed + inserted);
      // The cancelled result does not show up late either.
      await sleep(500);
      assert.equal(editor.document.getText(), typed + inserted);
    } finally {
      log.dispose();
      await restore();
    }
  });
});
