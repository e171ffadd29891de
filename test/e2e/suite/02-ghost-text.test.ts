// (a) Ghost text appears in the real editor after typing, and accepting it (what Tab does) inserts exactly it.
import * as assert from 'node:assert/strict';
import {
  RequestLog,
  acceptGhost,
  closeAllEditors,
  comparable,
  driver,
  expectGhost,
  getApi,
  openFile,
} from './helpers';

suite('ghost text', () => {
  teardown(closeAllEditors);

  test('typing shows ghost text and accepting it inserts it', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const editor = await openFile('ghost.txt', 'The quick brown fox');
      // Real keystrokes through the browser, as a user types them.
      await driver.keys(' jumps over');
      const ghost = await expectGhost(45_000, 'ghost-text');
      assert.ok(ghost.text.trim().length > 0, 'ghost text is not blank');

      const request = await log.next('an inline request for the typed prefix', (r) =>
        r.kind === 'inline' && r.options.prompt.includes('The quick brown fox jumps over'),
      );
      assert.equal(request.options.stop.atNewline, true, 'single-line ghost text when multiline is off');
      assert.equal(request.options.maxNewTokens, 32, 'default localGpt2.maxNewTokens');

      const typed = editor.document.getText();
      assert.ok(typed.startsWith('The quick brown fox jumps over'), JSON.stringify(typed));
      const inserted = await acceptGhost(editor);
      assert.ok(inserted.length > 0, 'accepting inserted nothing');
      assert.ok(!inserted.includes('\n'), `single-line completion inserted a newline: ${JSON.stringify(inserted)}`);
      assert.equal(comparable(inserted), comparable(ghost.text), `inserted ${JSON.stringify(inserted)} but the editor showed ${JSON.stringify(ghost.text)}`);
      assert.equal(editor.document.getText(), typed + inserted);
    } finally {
      log.dispose();
    }
  });
});
