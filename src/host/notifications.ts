// User-facing messages. Errors are shown once per distinct message, with an "Open Log" action, never as
// a stream of pop-ups; downloads get one progress notification with a percentage. A failed model load is
// different: each one is a new attempt or an explicit request, so it is shown every time, with what can fix it.
// Every log line is one line: VS Code ends it itself, so a message's own trailing newline became a blank line.
import * as vscode from 'vscode';
import type { ModelState } from '../client/modelController';
import type { LoadFailure } from '../client/loadFailure';

/** What the buttons of a load failure do. */
export interface LoadFailureActions {
  retry(): unknown;
  useLocalFolder(): unknown;
  openSettings(): unknown;
}

const RETRY = 'Retry';
const USE_FOLDER = 'Use a local model folder…';
const OPEN_SETTINGS = 'Open settings';
const OPEN_LOG = 'Open Log';

export class Notifier {
  private readonly shown = new Set<string>();
  private lastLogged?: LoadFailure;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly actions: LoadFailureActions,
  ) {}

  /** Follows the model's state: errors are shown; once it is ready, a later error may show again. */
  state(state: ModelState): void {
    if (state.kind === 'ready') this.reset();
    if (state.kind !== 'error') return;
    if (state.failure) this.loadFailed(state.failure);
    else this.error(state.message);
  }

  error(message: string): void {
    const line = oneLine(message);
    this.log.error(line);
    this.once(line, () => vscode.window.showErrorMessage(`Local GPT-2: ${line}`, OPEN_LOG));
  }

  /** Each bad setting gets its own log line; one notification covers them all. */
  settingsProblems(problems: string[]): void {
    problems.forEach((p) => this.log.warn(oneLine(p)));
    const message = problems.length === 1 ? oneLine(problems[0]) : `${problems.length} settings had invalid values and were corrected (see the log)`;
    this.once(message, () => vscode.window.showWarningMessage(`Local GPT-2: ${message}`, OPEN_LOG));
  }

  /** Lets the same message show again, e.g. after the user fixed the cause and it came back. */
  reset(): void {
    this.shown.clear();
  }

  /** Logged once per attempt (an explicit request shows the same failure again without a new attempt). */
  private loadFailed(failure: LoadFailure): void {
    const message = oneLine(failure.message);
    const detail = oneLine(failure.detail);
    if (failure !== this.lastLogged) this.log.error(detail === message ? message : `${message}: ${detail}`);
    this.lastLogged = failure;
    // Three buttons at most: a fourth gets its label cut to a few letters in a usual window. The log is one click away on the status bar.
    const buttons = [RETRY, failure.hubRemedies ? USE_FOLDER : OPEN_LOG, OPEN_SETTINGS];
    void vscode.window.showErrorMessage(`Local GPT-2: ${message}`, ...buttons).then((action) => {
      if (action === RETRY) this.actions.retry();
      else if (action === USE_FOLDER) this.actions.useLocalFolder();
      else if (action === OPEN_SETTINGS) this.actions.openSettings();
      else if (action === OPEN_LOG) this.log.show();
    });
  }

  private once(message: string, show: () => Thenable<string | undefined>): void {
    if (this.shown.has(message)) return;
    this.shown.add(message);
    void show().then((action) => action === OPEN_LOG && this.log.show());
  }
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** Shows a progress notification while the model downloads; it closes when the download ends. */
export class DownloadProgress {
  private active?: { report(percent: number, file: string): void; end(): void };

  update(state: ModelState, modelName: string): void {
    if (state.kind === 'downloading') {
      this.active ??= this.open(modelName);
      this.active.report(state.percent, state.file);
    } else if (this.active) {
      this.active.end();
      this.active = undefined;
    }
  }

  private open(modelName: string): { report(percent: number, file: string): void; end(): void } {
    let reported = 0;
    let report: (percent: number, file: string) => void = () => undefined;
    let end: () => void = () => undefined;
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Local GPT-2: downloading ${modelName}` },
      (progress) =>
        new Promise<void>((resolve) => {
          report = (percent, file) => {
            // The bar follows the model weights, which are nearly all of the bytes; the small JSON files only
            // change the message, so the bar does not fill up on config.json and then stall.
            const isWeights = /\.(onnx|safetensors)$/.test(file);
            progress.report({ message: `${file} ${percent}%`, increment: isWeights ? Math.max(0, percent - reported) : undefined });
            if (isWeights) reported = percent;
          };
          end = resolve;
        }),
    );
    return { report: (p, f) => report(p, f), end: () => end() };
  }
}
