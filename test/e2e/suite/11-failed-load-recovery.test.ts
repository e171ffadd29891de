// (issue 5, found by the worker-crash tests) A failed load of another model must not leave the extension believing
// that the previous model is still loaded: the worker unloads its model before it tries the new one, so going back to
// the previous settings has to load it again. Otherwise every request fails with "no model is loaded" while the
// status bar says ready.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { E2E, RequestLog, askForCompletion, closeAllEditors, getApi, openFile, setSettings, waitFor, waitForState } from './helpers';

suite('failed load, then back to the previous model', () => {
  let restore: (() => Promise<void>) | undefined;
  suiteTeardown(async () => {
    await restore?.();
    await closeAllEditors();
  });

  test('the next completion works again', async function () {
    this.timeout(120_000);
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const editor = await openFile('failed-load.txt', 'Switching models back and forth');
      const kick = () => askForCompletion(editor);
      /** Asks until an inline request sent from now on has ended, and returns how. */
      const nextOutcome = async (what: string) => {
        const from = log.sent.length;
        await kick();
        const request = await log.next(what, (r) => r.kind === 'inline', 30_000, from);
        return waitFor(`${what} to end`, () => log.outcomeOf(request), 30_000);
      };

      await waitForState(api, ['ready'], 60_000, kick);
      const before = await nextOutcome('a request with the working model');
      assert.equal(before.outcome, 'done', `before: ${JSON.stringify(before).slice(0, 300)}`);

      restore = await setSettings({ 'localGpt2.localModelPath': path.join(E2E.work, 'no-such-model-folder') });
      await waitForState(api, ['error'], 30_000, kick);

      await restore();
      restore = undefined;
      const after = await nextOutcome('a request after going back to the working model');
      assert.equal(after.outcome, 'done', `after going back: ${JSON.stringify(after).slice(0, 300)}`);
      await waitForState(api, ['ready'], 10_000);
    } finally {
      log.dispose();
    }
  });
});
