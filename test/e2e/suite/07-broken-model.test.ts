// (f) A broken local model folder (zero-byte ONNX files) puts the extension in the error state with a logged reason,
// the editor keeps working, and restoring the setting recovers.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { E2E, askForCompletion, closeAllEditors, driver, getApi, openFile, setSettings, typeInto, waitFor, waitForState, skipWithoutBrowser } from './helpers';

/** Copies the tiny model and truncates every ONNX file to zero bytes. */
function makeBrokenModel(): string {
  const dir = path.join(E2E.work, 'broken-model');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(E2E.modelDir, dir, { recursive: true });
  let broken = 0;
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.onnx(_data)?$/.test(entry.name)) {
        fs.writeFileSync(p, '');
        broken++;
      }
    }
  };
  walk(dir);
  assert.ok(broken > 0, `no .onnx file under ${E2E.modelDir}`);
  return dir;
}

/**
 * The extension's log files in this code-server run: output channels are written under <user-data-dir>/logs, a log
 * channel as exthost1/local-gpt2.local-gpt2/<name>.log, a plain one as exthost1/output_logging_<time>/<n>-<name>.log.
 */
function logFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.log')) out.push(p);
    }
  };
  const root = path.join(E2E.userData, 'logs');
  walk(root);
  return out.filter((f) => /gpt/i.test(path.relative(root, f)));
}

function findInLogs(needles: string[]): { file: string; needle: string } | undefined {
  for (const file of logFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    const needle = needles.find((n) => n && text.includes(n));
    if (needle) return { file, needle };
  }
  return undefined;
}

suite('broken model folder', () => {
  suiteSetup(function () {
    skipWithoutBrowser(this); // it looks at the rendered page
  });
  let restore: (() => Promise<void>) | undefined;
  suiteTeardown(async () => {
    await restore?.();
    await closeAllEditors();
  });

  test('error state with a logged reason; the editor keeps working; restoring recovers', async function () {
    this.timeout(180_000);
    const api = await getApi();
    const broken = makeBrokenModel();
    const editor = await openFile('broken.txt', 'Still editing');
    const kick = () => askForCompletion(editor);

    await waitForState(api, ['ready'], 60_000, kick);
    const readyStatus = await driver.status();

    restore = await setSettings({ 'localGpt2.localModelPath': broken });
    const error = await waitForState(api, ['error'], 30_000, kick);
    assert.ok(error.message && error.message.trim().length > 0, 'the error state carries a message');

    // The status bar shows it.
    const status = await waitFor('the status bar item to change from its ready look', async () => {
      const s = await driver.status();
      return s.found && (s.text !== readyStatus.text || s.icons !== readyStatus.icons || s.ariaLabel !== readyStatus.ariaLabel) ? s : undefined;
    }, 5000, 100);
    assert.match(status.text, /GPT-2/);

    // The log says why: it names the folder or carries the error message.
    await vscode.commands.executeCommand('localGpt2.showLog');
    const firstLine = error.message!.split('\n')[0].slice(0, 60);
    const hit = await waitFor(
      `a log file under ${E2E.userData}/logs mentioning ${JSON.stringify(firstLine)} or ${broken}`,
      () => findInLogs([firstLine, broken]),
      10_000,
      250,
    );
    assert.ok(hit.file);

    // The editor is unaffected (the log view just took the focus: typeInto gives it back).
    const before = editor.document.getText();
    await typeInto(editor, ' and typing');
    assert.equal(editor.document.getText(), before + ' and typing');

    // Restore the setting: back to the hub model.
    await restore();
    restore = undefined;
    const ready = await waitForState(api, ['ready'], 60_000, kick);
    assert.equal(ready.kind, 'ready');
  });
});
