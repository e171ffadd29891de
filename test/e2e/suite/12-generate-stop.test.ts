// "Generate continuation" stops for the user: typing, moving the cursor, Escape or closing the editor ends it at once;
// what was written stays, untouched by the keystrokes, and one undo removes it. The log says how each run ended.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { E2E, RequestLog, closeAllEditors, driver, getApi, openFile, setSettings, sleep, waitFor, waitForQuiet, type SentRequest } from './helpers';

const ORIGINAL = 'Once upon a time';

/** The extension's own log (an output channel with log: true writes a file under the user data's logs/). */
function logText(): string {
  const root = path.join(E2E.userData, 'logs');
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.log') && /gpt/i.test(path.relative(root, p))) texts.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return texts.join('\n');
}

async function waitForLogLine(pattern: RegExp, before: string): Promise<string> {
  return waitFor(`a log line matching ${pattern}`, () => {
    const fresh = logText().split('\n').filter((line) => !before.includes(line));
    return fresh.find((line) => pattern.test(line));
  }, 10_000, 100);
}

suite('generate continuation stops for the user', () => {
  let restore: (() => Promise<void>) | undefined;
  let log: RequestLog;
  suiteSetup(async () => {
    // Long enough that there is always a stream to interrupt (the tiny model writes ~1000 tokens in a few seconds).
    restore = await setSettings({ 'localGpt2.generateMaxTokens': 1024 });
  });
  suiteTeardown(async () => {
    await restore?.();
  });
  setup(async () => {
    log = new RequestLog(await getApi());
  });
  teardown(async () => {
    log.dispose();
    await closeAllEditors();
  });

  /** Starts Generate in `editor` and returns once its first text is in the document. */
  async function startGenerating(editor: vscode.TextEditor): Promise<{ request: SentRequest; done: Thenable<unknown> }> {
    const from = log.sent.length;
    const start = editor.document.getText();
    const done = vscode.commands.executeCommand('localGpt2.generateContinuation');
    const request = await log.next('a generate request', (r) => r.kind === 'generate', 30_000, from);
    await waitFor('the first generated text', () => editor.document.getText() !== start, 30_000, 5);
    return { request, done };
  }

  /** The request ended as cancelled, the command returned, and the document stays as it is now. */
  async function expectStopped(editor: vscode.TextEditor, request: SentRequest, done: Thenable<unknown>): Promise<string> {
    const outcome = await waitFor('the generate request to end', () => log.outcomeOf(request), 10_000);
    assert.equal(outcome.outcome, 'cancelled', `the generate request ended ${outcome.outcome}, not cancelled`);
    await done;
    await waitForQuiet(await getApi(), editor.document);
    const text = editor.document.getText();
    await sleep(500);
    assert.equal(editor.document.getText(), text, 'the document changed after the generation was stopped');
    return text;
  }

  /** Undoes until `isBefore` holds, then: one more undo gives ORIGINAL. Returns the text one undo before ORIGINAL. */
  async function undoToOriginal(editor: vscode.TextEditor, generatedOnly: (text: string) => boolean): Promise<string> {
    for (let i = 0; i < 10 && !generatedOnly(editor.document.getText()); i++) await vscode.commands.executeCommand('undo');
    const generated = editor.document.getText();
    assert.ok(generatedOnly(generated), `undo never reached the generated text alone: ${JSON.stringify(generated.slice(0, 200))}`);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), ORIGINAL, 'one undo removes all the generated text');
    return generated;
  }

  test('typing while it streams stops it; the keystrokes land after the generated text, not inside it', async () => {
    const editor = await openFile('generate-typing.txt', ORIGINAL);
    const { request, done } = await startGenerating(editor);
    await driver.keys('TYPED'); // real keystrokes in the page
    const text = await expectStopped(editor, request, done);
    assert.ok(text.startsWith(ORIGINAL), `the original text changed: ${JSON.stringify(text.slice(0, 100))}`);
    assert.ok(text.endsWith('TYPED'), `the keystrokes were mixed into the generated text: ...${JSON.stringify(text.slice(-120))}`);
    const generated = text.slice(ORIGINAL.length, -'TYPED'.length);
    assert.ok(generated.length > 0, 'nothing generated was kept');
    const undone = await undoToOriginal(editor, (t) => !t.endsWith('D'));
    assert.equal(undone, ORIGINAL + generated, 'undoing the typing leaves exactly the generated text');
  });

  test('moving the cursor away stops it', async () => {
    const editor = await openFile('generate-cursor.txt', ORIGINAL);
    const before = logText();
    const { request, done } = await startGenerating(editor);
    await vscode.commands.executeCommand('cursorTop');
    const text = await expectStopped(editor, request, done);
    assert.ok(text.startsWith(ORIGINAL) && text.length > ORIGINAL.length, JSON.stringify(text.slice(0, 100)));
    assert.equal(await undoToOriginal(editor, () => true), text);
    await waitForLogLine(/Generate continuation ended: cancelled by cursor moved; \d+ tokens/, before);
  });

  test('Escape stops it: the keybinding and its command', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(vscode.extensions.getExtension('local-gpt2.local-gpt2')!.extensionPath, 'package.json'), 'utf8'));
    const binding = manifest.contributes.keybindings.find((k: { key: string }) => k.key === 'escape');
    assert.ok(binding, 'no keybinding on Escape');
    assert.match(binding.when, /localGpt2\.generating/);
    const editor = await openFile('generate-escape.txt', ORIGINAL);
    const before = logText();
    const { request, done } = await startGenerating(editor);
    await vscode.commands.executeCommand(binding.command);
    const text = await expectStopped(editor, request, done);
    assert.equal(await undoToOriginal(editor, () => true), text);
    const line = await waitForLogLine(/Generate continuation ended: cancelled by Escape; \d+ tokens/, before);
    const tokens = Number(/(\d+) tokens?/.exec(line)?.[1]);
    assert.ok(tokens > 0 && tokens < 1024, `the log line gives the tokens written: ${line}`);
  });

  test('closing the editor stops it; the document keeps what was written', async () => {
    const editor = await openFile('generate-close.txt', ORIGINAL);
    // A second editor on the same document keeps it open (closing the last one would ask to save).
    const other = await vscode.window.showTextDocument(editor.document, { viewColumn: vscode.ViewColumn.Two, preview: false });
    const end = other.document.positionAt(ORIGINAL.length);
    other.selection = new vscode.Selection(end, end);
    const before = logText();
    const { request, done } = await startGenerating(other);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    const text = await expectStopped(editor, request, done);
    assert.ok(text.startsWith(ORIGINAL) && text.length > ORIGINAL.length, JSON.stringify(text.slice(0, 100)));
    await vscode.window.showTextDocument(editor.document, vscode.ViewColumn.One);
    assert.equal(await undoToOriginal(vscode.window.activeTextEditor!, () => true), text);
    await waitForLogLine(/Generate continuation ended: cancelled by editor closed; \d+ tokens/, before);
  });

  test('run to its end, the log gives the length and the stop reason', async () => {
    const restoreShort = await setSettings({ 'localGpt2.generateMaxTokens': 40 });
    try {
      const editor = await openFile('generate-end.txt', ORIGINAL);
      const before = logText();
      const { request, done } = await startGenerating(editor);
      await done;
      const outcome = await waitFor('the generate request to end', () => log.outcomeOf(request), 10_000);
      assert.equal(outcome.outcome, 'done');
      const line = await waitForLogLine(/Generate continuation ended: (length|eos); \d+ tokens/, before);
      assert.ok(Number(/(\d+) tokens/.exec(line)![1]) <= 40, line);
    } finally {
      await restoreShort();
    }
  });

  test('the view follows the insertion while it was in view', async () => {
    const restoreLong = await setSettings({ 'localGpt2.generateMaxTokens': 600 });
    try {
      const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n') + '\n' + ORIGINAL;
      const editor = await openFile('generate-follow.txt', lines);
      editor.revealRange(editor.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      await waitFor('the cursor in view', () => editor.visibleRanges.some((r) => r.contains(editor.selection.active)), 5000);
      const { request, done } = await startGenerating(editor);
      await done;
      assert.ok(log.outcomeOf(request), 'the generation ended');
      await waitForQuiet(await getApi(), editor.document);
      const end = editor.document.positionAt(editor.document.getText().length);
      await waitFor(
        () => `the end of the insertion ${JSON.stringify(end)} in view; visible: ${JSON.stringify(editor.visibleRanges)}`,
        () => editor.visibleRanges.some((r) => r.contains(end)),
        3000,
      );
    } finally {
      await restoreLong();
    }
  });
});
