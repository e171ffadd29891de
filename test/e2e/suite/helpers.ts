// Shared helpers for the in-host suite. Everything here runs INSIDE the real extension host: code-server's, where the
// runner (test/e2e/run.ts) passes its paths and the URL of its browser driver through the environment, or desktop
// VS Code's (test/e2e/desktop.ts), where there is no browser: keystrokes then go through the editor's `type` command
// and the suites and tests that look at the rendered page (ghost text, status bar) skip themselves (skipWithoutBrowser).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LocalGpt2Api, RequestOutcome } from '../../../src/host/extension';

export const EXTENSION_ID = 'local-gpt2.local-gpt2';

export type { LocalGpt2Api, RequestOutcome } from '../../../src/host/extension';
export type ExtensionState = ReturnType<LocalGpt2Api['state']>;
export type StateKind = ExtensionState['kind'];
export type SentRequest = Parameters<Parameters<LocalGpt2Api['onDidSendRequest']>[0]>[0];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this suite through test/e2e/run.ts`);
  return value;
}
export const E2E = {
  /** Temp folder of this run (user data, workspace, scratch files). */
  get work(): string {
    return env('LOCAL_GPT2_E2E_WORK');
  },
  /** The workspace folder code-server opened. */
  get workspace(): string {
    return env('LOCAL_GPT2_E2E_WS');
  },
  /** code-server's --user-data-dir (its logs/ folder holds the output channel logs). */
  get userData(): string {
    return env('LOCAL_GPT2_E2E_USER_DATA');
  },
  /** The tiny model folder the loopback hub serves. */
  get modelDir(): string {
    return env('LOCAL_GPT2_E2E_MODEL_DIR');
  },
  get driver(): string {
    return env('LOCAL_GPT2_E2E_DRIVER');
  },
  /** False under desktop VS Code: no page to look at. */
  get hasBrowser(): boolean {
    return Boolean(process.env.LOCAL_GPT2_E2E_DRIVER);
  },
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something truthy; fails with `what` and the last value seen otherwise. */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    if (Date.now() > end) {
      const shot = await driver.screenshot(`timeout-${Date.now()}`).catch(() => undefined); // for the artifacts
      if (shot) console.error(`screenshot at timeout: ${shot.path}`);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(intervalMs);
  }
}

export async function getApi(): Promise<LocalGpt2Api> {
  const ext = vscode.extensions.getExtension<LocalGpt2Api>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in the extension host`);
  const api = ext.isActive ? ext.exports : await ext.activate();
  assert.ok(api && typeof api.state === 'function', `activate() of ${EXTENSION_ID} did not return the test API`);
  return api;
}

/** The extension's test seam, which exists because the runner set LOCAL_GPT2_TEST_SEAM (src/testSeam.ts). */
export function testSeam(api: LocalGpt2Api): NonNullable<LocalGpt2Api['testSeam']> {
  assert.ok(api.testSeam, 'the extension has no testSeam: LOCAL_GPT2_TEST_SEAM=1 was not in its environment');
  return api.testSeam;
}

/**
 * Waits until the extension reaches one of `kinds`. The model (re)loads lazily, on the next request after start or
 * a settings change, so while nothing is in progress `kick` (which should ask for a completion) is called every 2 s.
 */
export async function waitForState(
  api: LocalGpt2Api,
  kinds: StateKind[],
  timeoutMs = 60_000,
  kick?: () => Promise<unknown>,
): Promise<ExtensionState> {
  let lastKick = 0;
  const seen: string[] = [api.state().kind];
  const watch = api.onDidChangeState((s) => seen.push(s.kind));
  const what = () => `extension state ${kinds.join('|')}; went through ${seen.join(' > ')}; now ${JSON.stringify(api.state()).slice(0, 300)}`;
  return waitFor(
    what,
    async () => {
      const state = api.state();
      if (kinds.includes(state.kind)) return state;
      const busy = state.kind === 'downloading' || state.kind === 'loading' || state.kind === 'generating';
      if (kick && !busy && Date.now() - lastKick > 2000) {
        lastKick = Date.now();
        await kick();
      }
      return undefined;
    },
    timeoutMs,
    100,
  ).finally(() => watch.dispose());
}

/** Records what the extension sends to the worker from now on, and how each request ended. */
export class RequestLog implements vscode.Disposable {
  readonly sent: SentRequest[] = [];
  readonly finished: RequestOutcome[] = [];
  private readonly subscriptions: vscode.Disposable[];
  constructor(api: LocalGpt2Api, onSent?: (r: SentRequest) => void) {
    this.subscriptions = [
      api.onDidSendRequest((r) => {
        this.sent.push(r);
        onSent?.(r);
      }),
      api.onDidFinishRequest((r) => this.finished.push(r)),
    ];
  }
  /** How the request that sent exactly these options ended (it may still be running: then undefined). */
  outcomeOf(request: SentRequest): RequestOutcome | undefined {
    return this.finished.find((r) => r.options === request.options);
  }
  get inline(): SentRequest[] {
    return this.sent.filter((r) => r.kind === 'inline');
  }
  async next(what: string, match: (r: SentRequest) => boolean, timeoutMs = 20_000, from = 0): Promise<SentRequest> {
    return waitFor(
      `${what}; sent so far: ${this.describe()}`,
      () => this.sent.slice(from).find(match),
      timeoutMs,
    );
  }
  describe(): string {
    return JSON.stringify(this.sent.map((r) => ({ kind: r.kind, prompt: r.options.prompt.slice(-40) })));
  }
  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
  }
}

/** Writes `name` into the workspace, opens it in an editor (cursor at the end) and waits until the editor is live. */
export async function openFile(name: string, content: string): Promise<vscode.TextEditor> {
  const file = path.join(E2E.workspace, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const end = doc.positionAt(doc.getText().length);
  editor.selection = new vscode.Selection(end, end);
  // The inline-completions controller is created lazily on idle: wait for two idle rounds in the browser.
  await driver.idle();
  return editor;
}

/** Types through the editor's `type` command: the same path as a keystroke (auto-triggers inline completions). */
export async function typeText(text: string): Promise<void> {
  await vscode.commands.executeCommand('type', { text });
}

/** Asks for a completion in `editor` by typing a character and triggering ghost text, which (re)loads the model lazily. */
export async function askForCompletion(editor: vscode.TextEditor): Promise<void> {
  await vscode.window.showTextDocument(editor.document); // the log view may have taken the focus
  await typeText('.');
  await vscode.commands.executeCommand('localGpt2.triggerCompletion');
}

/**
 * Types into `editor` even when another view (the log, an output editor that drops typing) has just taken the
 * focus: re-shows the editor and retries until the text lands. A dropped attempt inserts nothing, so no doubles.
 */
export async function typeInto(editor: vscode.TextEditor, text: string): Promise<void> {
  const before = editor.document.getText();
  await waitFor(`typing ${JSON.stringify(text)} to land in ${path.basename(editor.document.fileName)}`, async () => {
    await vscode.window.showTextDocument(editor.document);
    await vscode.commands.executeCommand('workbench.action.focusActiveEditorGroup');
    await typeText(text);
    for (let waited = 0; waited < 1000; waited += 50) {
      if (editor.document.getText() !== before) return true; // landed (the change may trail the command a little)
      await sleep(50);
    }
    return undefined;
  }, 10_000, 0);
}

/** Saves and closes every editor (hot exit is off: a dirty editor would ask on close). */
export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
  for (const doc of vscode.workspace.textDocuments) {
    if (doc.isDirty && doc.uri.scheme === 'file') await doc.save();
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Sets user settings (ConfigurationTarget.Global); returns a function that puts the old user values back. */
export async function setSettings(values: Record<string, unknown>): Promise<() => Promise<void>> {
  const config = vscode.workspace.getConfiguration();
  const old = Object.keys(values).map((key) => [key, config.inspect(key)?.globalValue] as const);
  for (const [key, value] of Object.entries(values)) {
    await config.update(key, value, vscode.ConfigurationTarget.Global);
  }
  return async () => {
    const current = vscode.workspace.getConfiguration();
    for (const [key, value] of old) await current.update(key, value, vscode.ConfigurationTarget.Global);
  };
}

/** Normalizes ghost/inserted text for comparison: the editor renders spaces, tabs and control characters differently. */
export function comparable(text: string): string {
  return text.replace(/[^A-Za-z0-9]/g, '');
}

// ---- the runner's browser driver (playwright on the real page) -----------------------------------------------------
export interface GhostView {
  visible: boolean;
  text: string;
  count: number;
  screenshot?: string;
  /** Wall-clock ms (Date.now) at which the page first showed the ghost text, when it did. */
  seenAt?: number;
}
export interface StatusView {
  found: boolean;
  text: string;
  ariaLabel: string;
  icons: string;
}

async function call<T>(route: string, body: unknown = {}): Promise<T> {
  const res = await fetch(`${E2E.driver}/${route}`, { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`driver /${route} failed: ${json.error ?? res.status}`);
  return json;
}

/** Skips (as pending) the suite or test whose `this` is given when there is no page to look at (desktop VS Code). */
export function skipWithoutBrowser(context: Mocha.Context): void {
  if (!E2E.hasBrowser) context.skip();
}

function browserOnly(what: string): Promise<never> {
  return Promise.reject(new Error(`${what} needs the browser (test/e2e/run.ts): guard this test with skipWithoutBrowser`));
}

/** Under desktop VS Code: idle is a pause, keystrokes go through the `type` command, the page cannot be looked at. */
const noBrowser = {
  idle: () => sleep(500).then(() => ({ ok: true as const })),
  keys: (text: string) => typeText(text).then(() => ({ ok: true as const, typedAt: Date.now() })),
  ghost: (_timeoutMs: number, _screenshot?: string): Promise<GhostView> => browserOnly('ghost text as rendered'),
  status: (): Promise<StatusView> => browserOnly('the status bar as rendered'),
  screenshot: (_name: string): Promise<{ path: string }> => Promise.reject(new Error('no screenshots without a browser')),
  hub: (): Promise<{ url: string; requests: { method: string; file: string; range?: string }[] }> => browserOnly("the runner's hub log"),
};

const browser: typeof noBrowser = {
  /** Two requestIdleCallback rounds in the page. */
  idle: () => call<{ ok: true }>('idle'),
  /** Waits up to `timeoutMs` for ghost text in the focused editor; `screenshot` names a PNG the runner writes. */
  ghost: (timeoutMs, screenshot) => call<GhostView>('ghost', { timeoutMs, screenshot }),
  /** Real keystrokes through the browser (the editor must have focus); typedAt: wall-clock ms after the last one. */
  keys: (text) => call<{ ok: true; typedAt: number }>('keys', { text }),
  /** The extension's status bar item as rendered. */
  status: () => call<StatusView>('status'),
  screenshot: (name) => call<{ path: string }>('screenshot', { name }),
  /** What the loopback hub has served so far. */
  hub: () => call('hub'),
};

export const driver = E2E.hasBrowser ? browser : noBrowser;

/**
 * Shows ghost text at the end of the active editor: waits for the DOM, and when none comes (a random model may
 * propose an empty line or end-of-text), types one more letter and tries again.
 */
export async function expectGhost(firstTimeoutMs = 30_000, screenshot?: string): Promise<GhostView> {
  let view = await driver.ghost(firstTimeoutMs, screenshot);
  for (let attempt = 0; !view.visible && attempt < 3; attempt++) {
    await typeText('e');
    view = await driver.ghost(10_000, screenshot);
  }
  assert.ok(view.visible, 'no ghost text appeared in the editor (.ghost-text-decoration)');
  return view;
}

/** Accepts the ghost text like Tab does and returns the inserted text. */
export async function acceptGhost(editor: vscode.TextEditor): Promise<string> {
  const before = editor.document.getText();
  await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
  const after = await waitFor('the accepted ghost text in the document', () => {
    const text = editor.document.getText();
    return text !== before ? text : undefined;
  }, 5000);
  assert.ok(after.startsWith(before), `accepting changed the text before the cursor: ${JSON.stringify(after)}`);
  return after.slice(before.length);
}

/** Waits until the document has stopped changing for `quietMs` and the extension is no longer generating. */
export async function waitForQuiet(api: LocalGpt2Api, doc: vscode.TextDocument, quietMs = 400, timeoutMs = 30_000) {
  let version = doc.version;
  let since = Date.now();
  await waitFor(
    'the document to stop changing',
    () => {
      if (doc.version !== version) {
        version = doc.version;
        since = Date.now();
      }
      return api.state().kind !== 'generating' && Date.now() - since >= quietMs;
    },
    timeoutMs,
  );
}

// ---- reliability helpers (issue 5) ----------------------------------------------------------------------------------
/** `promise`, or a failure with `what` after `ms` (the timer is cleared either way: nothing is left to reject later). */
export async function within<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The extension under test's own folder (its dist/worker.js is the worker script the tests start themselves). */
export function extensionPath(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in the extension host`);
  return ext.extensionPath;
}

/** True for a rejection that comes from this project: its error types, its messages or its code on the stack. */
function isOurs(reason: unknown): boolean {
  const error = reason as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
  const text = `${String(error?.name ?? '')} ${String(error?.message ?? reason)} ${String(error?.stack ?? '')}`;
  const root = vscode.extensions.getExtension(EXTENSION_ID)?.extensionPath;
  return /WorkerError|AbortError|model worker|GPT-2|localGpt2|local-gpt2/i.test(text) || (!!root && text.includes(root));
}

/**
 * Records unhandled promise rejections in the extension host from now on. `assertNone` waits a moment (Node reports
 * them after the microtask queue drains) and fails on any that comes from this project; others are only logged.
 */
export function watchUnhandledRejections(): vscode.Disposable & { readonly seen: unknown[]; assertNone(): Promise<void> } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => {
    seen.push(reason);
    if (!isOurs(reason)) console.warn('[e2e] unhandled rejection from elsewhere in the extension host:', reason);
  };
  process.on('unhandledRejection', listener);
  return {
    seen,
    async assertNone() {
      await sleep(300);
      const ours = seen.filter(isOurs);
      assert.deepEqual(
        ours.map((r) => (r instanceof Error ? `${r.name}: ${r.message}\n${r.stack}` : String(r))),
        [],
        'unhandled promise rejections from the extension',
      );
    },
    dispose: () => void process.off('unhandledRejection', listener),
  };
}
