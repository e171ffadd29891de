// (e) localGpt2.languages: { plaintext: false } stops completions in a plaintext document but not in Markdown.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { RequestLog, acceptGhost, closeAllEditors, driver, expectGhost, getApi, openFile, setSettings, sleep, typeText, skipWithoutBrowser } from './helpers';

suite('per-language enablement', () => {
  suiteSetup(function () {
    skipWithoutBrowser(this); // it looks at the rendered page
  });
  let restore: (() => Promise<void>) | undefined;
  suiteSetup(async () => {
    restore = await setSettings({ 'localGpt2.languages': { plaintext: false } });
    await sleep(300); // let the configuration event reach the extension
  });
  suiteTeardown(async () => {
    await restore?.();
  });
  teardown(closeAllEditors);

  test('no completions in a plaintext document', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const editor = await openFile('disabled.txt', 'Plain text is switched off');
      assert.equal(editor.document.languageId, 'plaintext');
      // Typing only: an explicit request (Alt+\, editor.action.inlineSuggest.trigger) deliberately overrides the map.
      await typeText(' here');
      await typeText(' too');
      const ghost = await driver.ghost(1500);
      assert.equal(ghost.visible, false, `ghost text shown in plaintext: ${JSON.stringify(ghost.text)}`);
      assert.deepEqual(log.inline, [], 'an inline request was sent for a disabled language');
      const before = editor.document.getText();
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      assert.equal(editor.document.getText(), before);
    } finally {
      log.dispose();
    }
  });

  test('completions still work in a Markdown document', async () => {
    const api = await getApi();
    const log = new RequestLog(api);
    try {
      const editor = await openFile('enabled.md', '# Notes\n\nMarkdown stays on');
      assert.equal(editor.document.languageId, 'markdown');
      await typeText(' here');
      await expectGhost(20_000);
      assert.ok(log.inline.length > 0, 'no inline request for markdown');
      const inserted = await acceptGhost(editor);
      assert.ok(inserted.length > 0);
    } finally {
      log.dispose();
    }
  });
});
