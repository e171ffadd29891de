// (issue 5) Huge inputs: a ~50 MB document and a 100,000-character single line.
//  - The provider builds its prompt in < 5 ms: timed on a GhostTextProvider of this suite's own whose `generate` is a
//    fake that notes when it receives the prompt, so the time is exactly the provider's and the pipeline's own work
//    (offsetAt/positionAt, getText of the window, the line suffix, buildPromptWindow, the cache lookup), at the end,
//    the middle and the start of each document, after each of a series of real keystrokes (WorkspaceEdits).
//  - The extension host is never kept busy > 20 ms by this extension while its own provider generates ghost text in
//    those documents: from a real keystroke in a shown editor until the inline request has ended, the event-loop
//    delay is recorded (perf_hooks.monitorEventLoopDelay, 1 ms resolution: everything that held the loop, VS Code's
//    own work and other processes included; logged, not asserted) together with a CPU profile of the extension host
//    (node:inspector on this very thread). The profile is cut into tasks (what ran between two idle samples, split
//    where the stack's entry frame changes, i.e. where one macrotask ends and the next begins); the assertion is on
//    the busiest task that ran this extension's code (dist/extension.js on the stack).
//
// Size: VS Code syncs a document to the extension host only up to 50 MiB (TextModel._MODEL_SYNC_LIMIT =
// 50 * 1024 * 1024 characters; a larger one is "too large for syncing" and extensions never see it), and code-server
// asks before opening a file over `workbench.editorLargeFileConfirmation` (50 MB in the browser). So the big document
// is 52,000,000 characters (49.6 MiB), the largest round size under both limits.
//
// What is not ours, and how it is kept out of the numbers (measured in code-server 4.100.3 on a 2-core machine):
//  - The first offsetAt/positionAt on a freshly opened document builds VS Code's line index of it in the extension
//    host (ExtHostDocumentData, O(lines): 15-250 ms for the 650,000 lines here). It is paid once per document by
//    whoever asks first, so each document gets one provider call first that is logged as "cold", not asserted.
//  - After an edit, positionAt recomputes VS Code's line-start sums from the edited line to the end of the document
//    (~1 ms per 650,000 lines when warm, up to ~14 ms seen): that IS counted, since the provider asks for it.
//  - The machine's cores are shared with code-server, chromium and the model worker, so a single call can be
//    preempted: each spot's prompt time is asserted on its median, and 90% of all calls must be under budget. In the
//    profile a sample counts for at most 1 ms of busy time (a longer gap means the thread was not running) and GC is
//    counted apart (its pauses depend on the heap, which holds the 50 MB document).
//  - VS Code's built-in merge-conflict extension reads the WHOLE document (TextDocument.getText()) after every change
//    to look for conflict markers: 300-450 ms stalls per keystroke in the 50 MB document. Its decorators and code
//    lenses are switched off for this suite. Other stalls seen in the raw delay are VS Code's too: the port finder of
//    ExtHostTunnelService spawning `ls`/`ps` (up to ~200 ms), zlib and socket writes of the remote connection.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { CompletionCache } from '../../../src/core/completionCache';
import { CompletionPipeline } from '../../../src/core/pipeline';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/core/settings';
import { GhostTextProvider } from '../../../src/host/inlineProvider';
import type { GenerationResult } from '../../../src/protocol';
import { E2E, RequestLog, closeAllEditors, driver, extensionPath, getApi, setSettings, sleep, typeText, waitFor, waitForState } from './helpers';

const BIG_CHARS = 52_000_000;
const LONG_LINE_CHARS = 100_000;
const PROMPT_BUDGET_MS = 5;
const STALL_BUDGET_MS = 20;
const KEYSTROKES = 15;
const ROUNDS = 3;

const WORDS = 'the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches'.split(' ');

/**
 * Lines of prose, ~80 characters each, `chars` characters in all (the last line is cut to fit). Written in 1 MB
 * chunks with an await between them, so the extension host (where this runs) is never blocked for long.
 */
async function writeProse(file: string, chars: number): Promise<void> {
  const out = await fs.promises.open(file, 'w');
  try {
    let written = 0;
    for (let i = 0; written < chars; ) {
      const lines: string[] = [];
      let size = 0;
      for (; size < 1 << 20; i++) {
        let line = `${i}:`;
        for (let w = i; line.length < 76; w += 7) line += ` ${WORDS[w % WORDS.length]}`;
        lines.push(line + '\n');
        size += line.length + 1;
      }
      const chunk = lines.join('').slice(0, chars - written);
      await out.write(chunk);
      written += chunk.length;
    }
  } finally {
    await out.close();
  }
}

function writeLongLine(file: string, chars: number): void {
  let line = '';
  for (let w = 0; line.length < chars; w += 3) line += `${WORDS[w % WORDS.length]} `;
  fs.writeFileSync(file, line.slice(0, chars));
}

/** A provider like the extension's, but its generate only records the moment the finished prompt reaches it. */
function timedProvider() {
  const settings: Settings = { ...DEFAULT_SETTINGS, debounceMs: 0 };
  let reached: { at: number; prompt: string } | undefined;
  const result: GenerationResult = { texts: [' and more'], stopReasons: ['length'], promptTokens: 1, reusedTokens: 0, newTokens: 1, timings: { prefillMs: 0, decodeMs: 0, totalMs: 0 } };
  const pipeline = new CompletionPipeline({
    settings: () => settings,
    generate: async (options) => {
      reached = { at: performance.now(), prompt: options.prompt };
      return result;
    },
    cache: new CompletionCache(),
  });
  const errors: unknown[] = [];
  const provider = new GhostTextProvider(pipeline, (e) => errors.push(e));
  const context: vscode.InlineCompletionContext = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };
  /** Milliseconds from the provider call to the prompt reaching generate. */
  const time = async (doc: vscode.TextDocument, position: vscode.Position): Promise<{ promptMs: number; prompt: string }> => {
    pipeline.clearCache(); // a cache hit would skip generate
    reached = undefined;
    const source = new vscode.CancellationTokenSource();
    const t0 = performance.now();
    const items = await provider.provideInlineCompletionItems(doc, position, context, source.token);
    source.dispose();
    const got = reached as { at: number; prompt: string } | undefined;
    assert.ok(got, 'the fake generate was not called');
    assert.ok(items, 'the provider answered (it was neither cancelled nor outdated)');
    assert.deepEqual(errors, []);
    return { promptMs: got.at - t0, prompt: got.prompt };
  };
  return { provider, time };
}

/** Edits like a keystroke (a real edit, so VS Code's line index of the document is invalidated from there on). */
async function keystroke(doc: vscode.TextDocument, at: vscode.Position, text = 'x'): Promise<vscode.Position> {
  const edit = new vscode.WorkspaceEdit();
  edit.insert(doc.uri, at, text);
  assert.ok(await vscode.workspace.applyEdit(edit), 'the edit was applied');
  return at.translate(0, text.length);
}

interface Spot {
  name: string;
  position: (doc: vscode.TextDocument) => vscode.Position;
}

suite('huge inputs', () => {
  const files = { big: '', line: '' };
  const measured: string[] = [];
  let restore: (() => Promise<void>) | undefined;
  let sampledOurs = 0; // tasks with extension code seen in all profiles together

  suiteSetup(async function () {
    this.timeout(60_000);
    const dir = path.join(E2E.work, 'huge');
    fs.mkdirSync(dir, { recursive: true });
    files.big = path.join(dir, 'big.txt');
    files.line = path.join(dir, 'long-line.txt');
    await writeProse(files.big, BIG_CHARS);
    writeLongLine(files.line, LONG_LINE_CHARS);
    restore = await setSettings({
      'workbench.editorLargeFileConfirmation': 1024,
      'merge-conflict.decorators.enabled': false,
      'merge-conflict.codeLens.enabled': false,
    });
  });
  suiteTeardown(async () => {
    await restore?.();
    console.log(`[e2e-metrics] huge inputs:\n  ${measured.join('\n  ')}`);
  });
  teardown(async () => {
    // Put the huge files back as they were (saving 50 MB through the browser would only cost time), then close them.
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.isDirty && Object.values(files).includes(doc.uri.fsPath)) {
        await vscode.window.showTextDocument(doc);
        await vscode.commands.executeCommand('workbench.action.files.revert');
      }
    }
    await closeAllEditors();
  });

  /** Opens a document and says how many characters reached the extension host (one getText of 52 MB, not two). */
  async function open(file: string): Promise<{ doc: vscode.TextDocument; chars: number }> {
    const t0 = performance.now();
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const chars = doc.getText().length;
    measured.push(`${path.basename(file)}: opened (${chars} chars, ${doc.lineCount} lines) in ${Math.round(performance.now() - t0)} ms`);
    return { doc, chars };
  }

  async function promptTimes(file: string, expectedChars: number, spots: Spot[]) {
    const { doc, chars } = await open(file);
    assert.equal(chars, expectedChars, 'the whole document reached the extension host');
    const { provider, time } = timedProvider();
    try {
      const cold = await time(doc, end.position(doc)); // builds VS Code's line index of the document (see above)
      const results: string[] = [`cold ${cold.promptMs.toFixed(1)} ms`];
      const all: number[] = [];
      for (const spot of spots) {
        let position = spot.position(doc);
        const first = await time(doc, position);
        assert.ok(first.prompt.length > 0 && first.prompt.length <= 2048, `prompt of ${first.prompt.length} chars`);
        const offset = doc.offsetAt(position);
        assert.equal(first.prompt, doc.getText(new vscode.Range(doc.positionAt(offset - first.prompt.length), position)), 'the prompt ends at the cursor');
        const times = [first.promptMs];
        // Typing there: each keystroke is a real edit, then the provider is asked at the new cursor.
        for (let i = 0; i < KEYSTROKES; i++) {
          position = await keystroke(doc, position);
          times.push((await time(doc, position)).promptMs);
        }
        all.push(...times);
        const sorted = [...times].sort((a, b) => a - b);
        const median = sorted[Math.floor(sorted.length / 2)];
        results.push(`${spot.name}: median ${median.toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms`);
        assert.ok(median < PROMPT_BUDGET_MS, `${spot.name}: building the prompt took ${median.toFixed(2)} ms (median; budget ${PROMPT_BUDGET_MS} ms): ${times.map((t) => t.toFixed(2)).join(', ')}`);
      }
      const over = all.filter((t) => t >= PROMPT_BUDGET_MS);
      measured.push(`${path.basename(file)} prompt build (${all.length} calls after keystrokes): ${results.join('; ')}; ${over.length} over ${PROMPT_BUDGET_MS} ms`);
      assert.ok(over.length <= all.length / 10, `${over.length} of ${all.length} prompt builds took ${PROMPT_BUDGET_MS} ms or more: ${over.map((t) => t.toFixed(1)).join(', ')}`);
    } finally {
      provider.dispose();
    }
  }

  const end: Spot = { name: 'end', position: (doc) => doc.lineAt(doc.lineCount - 1).range.end };
  const middle: Spot = {
    name: 'middle',
    position: (doc) => {
      const line = doc.lineAt(Math.floor(doc.lineCount / 2));
      return line.range.start.translate(0, Math.floor(line.text.length / 2));
    },
  };
  const start: Spot = { name: 'near the start', position: (doc) => doc.positionAt(1000) };

  test('~50 MB document: the prompt is built in < 5 ms', async function () {
    this.timeout(90_000);
    await promptTimes(files.big, BIG_CHARS, [end, middle, start]);
  });

  test('100,000-character single line: the prompt is built in < 5 ms', async function () {
    this.timeout(30_000);
    await promptTimes(files.line, LONG_LINE_CHARS, [end, middle, start]);
  });

  /**
   * Types one character at `spot` in a shown editor, ROUNDS times, and measures the extension host from the keystroke
   * until the extension's inline request for it has ended: the event-loop delay (monitorEventLoopDelay, everything
   * that blocked the loop, VS Code's own work included) and, from a CPU profile of the same window, the longest
   * uninterrupted task that ran this extension's code.
   */
  async function eventLoopDuringGhostText(file: string, spot: Spot): Promise<{ rawMax: number; ourMax: number }> {
    const api = await getApi();
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    const at = spot.position(doc);
    editor.selection = new vscode.Selection(at, at);
    editor.revealRange(new vscode.Range(at, at));
    await driver.idle();
    await waitForState(api, ['ready'], 60_000, async () => {
      await vscode.commands.executeCommand('localGpt2.triggerCompletion');
    });
    let rawMax = 0;
    let ourMax = 0; // the longest busy time of a task that ran extension code
    const rounds: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(300); // whatever the reveal, the kick or the last round started is over
      const log = new RequestLog(api);
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      const profiler = await HostProfiler.start();
      try {
        histogram.enable();
        await typeText('Q');
        const request = await log.next('an inline request for the keystroke', (r) => r.kind === 'inline' && r.options.prompt.endsWith('Q'), 20_000);
        const outcome = await waitFor('the inline request to end', () => log.outcomeOf(request), 30_000, 5);
        histogram.disable();
        const tasks = await profiler.stop();
        assert.equal(outcome.outcome, 'done', `the request ended ${JSON.stringify(outcome).slice(0, 200)}`);
        const ours = tasks.filter((t) => t.ours);
        sampledOurs += ours.length;
        const longestOurs = ours.reduce<Task | undefined>((a, b) => (!a || b.busyMs > a.busyMs ? b : a), undefined);
        const longest = tasks.reduce<Task | undefined>((a, b) => (!a || b.wallMs > a.wallMs ? b : a), undefined);
        rawMax = Math.max(rawMax, histogram.max / 1e6);
        ourMax = Math.max(ourMax, longestOurs?.busyMs ?? 0);
        rounds.push(
          `loop delay max ${(histogram.max / 1e6).toFixed(1)} ms (p99 ${(histogram.percentile(99) / 1e6).toFixed(1)}); ` +
            `longest task running extension code: ${longestOurs ? describeTask(longestOurs) : 'none sampled'}; longest task: ${longest ? describeTask(longest) : '-'}`,
        );
      } finally {
        histogram.disable();
        await profiler.dispose();
        log.dispose();
      }
    }
    measured.push(`${path.basename(file)} (${spot.name}), ghost text generation:\n    ${rounds.join('\n    ')}`);
    return { rawMax, ourMax };
  }

  test('the extension host never stalls > 20 ms while ghost text is generated in them', async function () {
    this.timeout(150_000);
    const results: { what: string; rawMax: number; ourMax: number }[] = [];
    for (const [file, spots] of [[files.big, [end, middle]], [files.line, [end, middle]]] as const) {
      for (const spot of spots) results.push({ what: `${path.basename(file)} (${spot.name})`, ...(await eventLoopDuringGhostText(file, spot)) });
    }
    measured.push(`event loop, max over all: ${Math.max(...results.map((r) => r.rawMax)).toFixed(1)} ms delay; ${Math.max(...results.map((r) => r.ourMax)).toFixed(1)} ms longest busy task running extension code`);
    assert.ok(sampledOurs > 0, 'no profile sample showed the extension code: the attribution is broken');
    const stalls = results.filter((r) => r.ourMax > STALL_BUDGET_MS);
    assert.deepEqual(stalls.map((r) => `${r.what}: ${r.ourMax.toFixed(1)} ms`), [], 'tasks running extension code kept the extension host busy longer than the budget');
  });
});

interface Task {
  /** Wall-clock time from its first sample to the next idle one. */
  wallMs: number;
  /**
   * Time the thread actually worked on it: each sample counts for its interval, but for at most 1 ms (a longer gap
   * between two samples means the thread was not running: another process had the CPU), and GC is left out.
   */
  busyMs: number;
  gcMs: number;
  /** Ran code from this extension's bundle (dist/extension.js of the extension under test). */
  ours: boolean;
  /** Its heaviest functions, for the report. */
  top: string;
}
const describeTask = (t: Task) => `${t.busyMs.toFixed(1)} ms busy, ${t.wallMs.toFixed(1)} ms wall, ${t.gcMs.toFixed(1)} ms GC [${t.top}]`;

/**
 * A CPU profile of the extension host (this very thread, through node:inspector), cut into tasks: runs of samples
 * between two idle samples, i.e. what ran without giving the event loop back.
 */
class HostProfiler {
  private constructor(private readonly session: inspector.Session) {}

  static async start(): Promise<HostProfiler> {
    const session = new inspector.Session();
    session.connect();
    const profiler = new HostProfiler(session);
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
    await profiler.post('Profiler.start');
    return profiler;
  }

  async stop(): Promise<Task[]> {
    const { profile } = (await this.post('Profiler.stop')) as { profile: inspector.Profiler.Profile };
    const ourBundle = path.join(extensionPath(), 'dist', 'extension.js');
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const isOurs = new Map<number, boolean>();
    const ours = (id: number): boolean => {
      const known = isOurs.get(id);
      if (known !== undefined) return known;
      const url = nodes.get(id)!.callFrame.url;
      const mine = (url !== '' && decodeURIComponent(url.replace(/^file:\/\//, '')) === ourBundle) || (parent.has(id) && ours(parent.get(id)!));
      isOurs.set(id, mine);
      return mine;
    };
    // The frame a sample's stack starts from (a timer, an IPC message, a microtask tick...). Two macrotasks that
    // run back to back with no idle sample between them start from different entries: VS Code's port finder
    // (a timer that spawns `ps`, 100 ms) once ran right before a promise tick of ours and was counted as ours.
    const rootId = profile.nodes.find((n) => n.callFrame.functionName === '(root)')?.id;
    const entryOf = (id: number): number => (parent.get(id) === rootId || !parent.has(id) ? id : entryOf(parent.get(id)!));
    const NOT_JS = new Set(['(program)', '(garbage collector)']);
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    const tasks: Task[] = [];
    let current: { start: number; entry?: number; ours: boolean; busy: number; gc: number; self: Map<string, number> } | undefined;
    let t = profile.startTime;
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i] ?? 0;
      const node = nodes.get(samples[i])!;
      const name = node.callFrame.functionName;
      if (name === '(idle)' || name === '(root)') {
        if (current) tasks.push(finish(current, t));
        current = undefined;
        continue;
      }
      const entry = NOT_JS.has(name) ? undefined : entryOf(node.id);
      if (current && entry !== undefined && current.entry !== undefined && entry !== current.entry) {
        tasks.push(finish(current, t));
        current = undefined;
      }
      current ??= { start: t, ours: false, busy: 0, gc: 0, self: new Map() };
      current.entry ??= entry;
      current.ours ||= ours(node.id);
      const ms = (deltas[i + 1] ?? 0) / 1000;
      if (name === '(garbage collector)') current.gc += ms;
      else current.busy += Math.min(ms, 1);
      const key = `${name || '(anonymous)'} ${path.basename(node.callFrame.url)}`;
      current.self.set(key, (current.self.get(key) ?? 0) + ms);
    }
    if (current) tasks.push(finish(current, profile.endTime));
    return tasks;

    function finish(task: NonNullable<typeof current>, end: number): Task {
      const top = [...task.self].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, ms]) => `${k.trim()} ${ms.toFixed(1)}`).join(', ');
      return { wallMs: (end - task.start) / 1000, busyMs: task.busy, gcMs: task.gc, ours: task.ours, top };
    }
  }

  async dispose(): Promise<void> {
    await this.post('Profiler.disable').catch(() => undefined);
    this.session.disconnect();
  }

  private post(method: string, params: object = {}): Promise<unknown> {
    return new Promise((resolve, reject) => this.session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  }
}
