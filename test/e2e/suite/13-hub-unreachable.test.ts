// (Editor truth 2, 7) The hub out of reach: the error says so in words, typing does not retry, an explicit request
// (Generate continuation) does once the hub answers, and the status never shows an error for settings no longer in
// use. The log stays one clean line per event: no blank lines, the failure in words with the network error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LoopbackHub } from '../../support/loopbackHub';
import { E2E, askForCompletion, closeAllEditors, getApi, openFile, setSettings, sleep, typeText, waitFor, waitForState } from './helpers';

const MODEL = 'local/unreachable-gpt2'; // not in the download cache: loading it needs the hub

/** A loopback port with nothing listening: a connection is refused at once, as from a hub out of reach. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Makes `port` answer by forwarding every connection to `target` (the hub coming back on the same URL). */
async function forward(port: number, target: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.pipe(net.connect(target, '127.0.0.1')).pipe(socket).on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** The text of this run's Local GPT-2 log (a log output channel: <user-data>/logs/.../local-gpt2.local-gpt2/*.log). */
function logText(): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.log') && p.includes('local-gpt2.local-gpt2')) found.push(p);
    }
  };
  walk(path.join(E2E.userData, 'logs'));
  return found.map((f) => fs.readFileSync(f, 'utf8')).join('');
}

suite('hub out of reach', () => {
  let restore: (() => Promise<void>) | undefined;
  const servers: { close(): unknown }[] = [];
  suiteTeardown(async () => {
    await restore?.();
    servers.forEach((s) => s.close());
    await closeAllEditors();
  });

  test('said in words; typing does not retry; an explicit request does; no stale error; one clean log line each', async function () {
    this.timeout(180_000);
    const api = await getApi();
    const editor = await openFile('unreachable.txt', 'The hub is out of reach');
    const kick = () => askForCompletion(editor);
    await waitForState(api, ['ready'], 60_000, kick);

    const hub = await new LoopbackHub({ [MODEL]: E2E.modelDir }).start();
    servers.push({ close: () => hub.stop() });
    const port = await closedPort();
    const hubUrl = `http://127.0.0.1:${port}`;
    restore = await setSettings({ 'localGpt2.model': MODEL, 'localGpt2.hubUrl': hubUrl });

    const error = await waitForState(api, ['error'], 30_000, kick);
    assert.equal(error.message, `Could not reach ${hubUrl} to download ${MODEL} (no network or a proxy?)`);

    // Typing (automatic requests) does not retry the failed load.
    const seen: string[] = [];
    const watch = api.onDidChangeState((s) => seen.push(s.kind));
    await vscode.window.showTextDocument(editor.document);
    for (const letter of 'typing') {
      await typeText(letter);
      await sleep(150);
    }
    await sleep(500);
    watch.dispose();
    assert.ok(!seen.includes('loading') && !seen.includes('downloading'), `typing retried the load: ${seen.join(' > ')}`);
    assert.equal(api.state().kind, 'error');

    // The hub answers again on the same URL: an explicit request retries (the backoff after one failure is 1 s).
    servers.push(await forward(port, Number(new URL(hub.url).port)));
    await sleep(1100);
    await vscode.window.showTextDocument(editor.document);
    const before = editor.document.getText();
    await vscode.commands.executeCommand('localGpt2.generateContinuation');
    await waitForState(api, ['ready'], 60_000);
    assert.ok(hub.requests.length > 0, 'the hub was never asked');
    await waitFor('the continuation in the document', () => editor.document.getText() !== before, 30_000);

    // New settings that fail, then a change: the error of the old settings does not stay on the status.
    const badPort = await closedPort();
    await setSettings({ 'localGpt2.hubUrl': `http://127.0.0.1:${badPort}`, 'localGpt2.model': 'local/other-unreachable' });
    await waitForState(api, ['error'], 30_000, kick);
    await restore();
    restore = undefined;
    await waitFor('the status to leave the old settings\' error without any request', () => api.state().kind !== 'error', 2000);

    // The log: one line per event.
    const text = logText();
    const lines = text.split('\n').slice(0, -1);
    assert.deepEqual(lines.filter((l) => l.trim() === ''), [], 'blank lines in the log');
    const unreachable = lines.filter((l) => l.includes(`Could not reach ${hubUrl}`));
    assert.ok(unreachable.length >= 1, 'the failure is logged');
    for (const line of unreachable) assert.match(line, /\[error\] .*ECONNREFUSED/, 'the log line keeps the network error');
  });
});
