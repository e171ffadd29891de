// User-facing messages. Errors are shown once per distinct message, with an "Open Log" action, never as
// a stream of pop-ups; downloads get one progress notification with a percentage.
import * as vscode from 'vscode';
import type { ModelState } from '../client/modelController';

export class Notifier {
  private readonly shown = new Set<string>();

  constructor(private readonly log: vscode.LogOutputChannel) {}

  error(message: string): void {
    this.log.error(message);
    this.once(message, () => vscode.window.showErrorMessage(`Local GPT-2: ${message}`, 'Open Log'));
  }

  warning(message: string): void {
    this.log.warn(message);
    this.once(message, () => vscode.window.showWarningMessage(`Local GPT-2: ${message}`, 'Open Log'));
  }

  /** Lets the same message show again, e.g. after the user fixed the cause and it came back. */
  reset(): void {
    this.shown.clear();
  }

  private once(message: string, show: () => Thenable<string | undefined>): void {
    if (this.shown.has(message)) return;
    this.shown.add(message);
    void show().then((action) => action === 'Open Log' && this.log.show());
  }
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
