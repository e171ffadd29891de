// Smoke: the real extension activates in code-server's extension host, exposes its test API, registers its
// commands and status bar item, and loads the tiny model from the loopback hub.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, closeAllEditors, driver, getApi, openFile, skipWithoutBrowser, typeText, waitFor, waitForState } from './helpers';

const COMMANDS = [
  'localGpt2.generateContinuation',
  'localGpt2.stopGenerating',
  'localGpt2.triggerCompletion',
  'localGpt2.toggle',
  'localGpt2.showMenu',
  'localGpt2.selectModel',
  'localGpt2.showLog',
  'localGpt2.restartWorker',
];

suite('activation', () => {
  suiteTeardown(closeAllEditors);

  test('the extension is the copy under test and activate() returns the API', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} not found`);
    assert.equal(ext.extensionPath, process.env.LOCAL_GPT2_E2E_EXTENSION, 'the copy under test is loaded (extensionDevelopmentPath, or the installed VSIX)');
    const api = await getApi();
    for (const fn of ['state', 'onDidSendRequest', 'onDidFinishRequest', 'onDidChangeState', 'restartWorker'] as const) {
      assert.equal(typeof api[fn], 'function', `api.${fn}`);
    }
    // Present only because the runner set LOCAL_GPT2_TEST_SEAM for this VS Code.
    assert.equal(typeof api.testSeam?.crashWorker, 'function', 'api.testSeam.crashWorker');
    assert.ok(ext.isActive);
  });

  test('all commands are registered', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(COMMANDS.filter((c) => !all.has(c)), [], 'missing commands');
  });

  test('the model loads from the loopback hub and the status bar shows GPT-2', async function () {
    skipWithoutBrowser(this); // the status bar as rendered, the runner's hub log
    const api = await getApi();
    await openFile('activation.txt', 'Hello');
    // Lazy loading is allowed: typing (and the explicit trigger) asks for a completion, which loads the model.
    const state = await waitForState(api, ['ready'], 90_000, async () => {
      await typeText('o');
      await vscode.commands.executeCommand('localGpt2.triggerCompletion');
    });
    assert.equal(state.kind, 'ready');
    const status = await waitFor('the status bar item', async () => {
      const s = await driver.status();
      return s.found && s.text.includes('GPT-2') ? s : undefined;
    }, 10_000, 200);
    assert.match(status.text, /GPT-2/);
    // It came from the loopback hub (fresh user data: nothing cached), ONNX graph included.
    const { requests } = await driver.hub();
    const files = requests.filter((r) => r.method === 'GET').map((r) => r.file);
    assert.ok(files.includes('config.json'), `hub served ${JSON.stringify(files)}`);
    assert.ok(files.some((f) => f.endsWith('.onnx')), `no .onnx file was downloaded: ${JSON.stringify(files)}`);
  });
});
