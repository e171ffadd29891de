// (d) Changing localGpt2.topK / localGpt2.maxNewTokens in the user settings changes what the worker receives.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { RequestLog, type SentRequest, closeAllEditors, getApi, openFile, setSettings, typeText } from './helpers';

suite('settings reach the worker', () => {
  teardown(closeAllEditors);

  /** Types a letter and triggers, until an inline request matching `match` is sent (config events are async). */
  async function askUntil(log: RequestLog, what: string, match: (r: SentRequest) => boolean): Promise<SentRequest> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const from = log.sent.length;
      await typeText(attempt % 2 ? 'b' : 'a'); // a new letter: the editor asks the provider again
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      const found = await log.next(what, (r) => r.kind === 'inline' && match(r), 2000, from).catch(() => undefined);
      if (found) return found;
    }
    throw new Error(`no inline request with ${what}; sent: ${JSON.stringify(log.inline.map((r) => [r.options.sampling.topK, r.options.maxNewTokens]))}`);
  }

  test('topK and maxNewTokens follow the user settings', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    let restore: (() => Promise<void>) | undefined;
    try {
      await openFile('settings.txt', 'Settings travel to the worker ');
      const before = await askUntil(log, 'any options', () => true);
      assert.equal(before.options.sampling.topK, 50, 'default topK');
      assert.equal(before.options.maxNewTokens, 32, 'default maxNewTokens');

      restore = await setSettings({ 'localGpt2.topK': 7, 'localGpt2.maxNewTokens': 5 });
      const changed = await askUntil(log, 'topK 7 and maxNewTokens 5', (r) => r.options.sampling.topK === 7 && r.options.maxNewTokens === 5);
      assert.equal(changed.options.sampling.topK, 7);
      assert.equal(changed.options.maxNewTokens, 5);

      await restore();
      restore = undefined;
      const back = await askUntil(log, 'the defaults again', (r) => r.options.sampling.topK === 50 && r.options.maxNewTokens === 32);
      assert.equal(back.options.sampling.topK, 50);
    } finally {
      await restore?.();
      log.dispose();
    }
  });
});
