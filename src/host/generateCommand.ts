// "Generate continuation": streams a longer continuation into the editor at the cursor (after the selection if
// there is one), in a cancellable progress notification that counts the tokens. The user stays in charge: typing,
// moving the cursor, Escape or closing the editor stops it at once (one AbortSignal reaches the worker); what was
// written stays as one undo step, and the log says how the run ended.
import * as vscode from 'vscode';
import { describeEnding, progressMessage, type GenerationEnding, type StopCause } from '../core/generationReport';
import { buildPromptWindow } from '../core/promptWindow';
import { continuationRequest } from '../core/requests';
import type { Settings } from '../core/settings';
import type { GenerateOptions, GenerationResult } from '../protocol';
import { textBeforeCursor } from './documentWindow';
import { watchStopConditions } from './stopConditions';
import { StreamingInsert } from './streamingInsert';

export type StreamingGenerate = (options: GenerateOptions, signal: AbortSignal, onText: (text: string) => void) => Promise<GenerationResult>;

/** The context key the Escape keybinding waits for. */
const GENERATING = 'localGpt2.generating';

export class ContinuationGenerator implements vscode.Disposable {
  private stopRunning: ((cause: StopCause) => void) | undefined;

  constructor(
    private readonly settings: () => Settings,
    private readonly generate: StreamingGenerate,
    private readonly onError: (error: unknown) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** The command. Resolves true when the model ran to its end. */
  async start(): Promise<boolean> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Local GPT-2: open a file to generate a continuation in.');
      return false;
    }
    if (this.stopRunning) {
      // Two streams into one document would each take the other's inserts for the user's edits.
      void vscode.window.showInformationMessage('Local GPT-2: a continuation is already being generated (Escape stops it).');
      return false;
    }
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Local GPT-2: generating', cancellable: true },
      (progress, token) => this.run(editor, progress, token),
    );
  }

  /** Stops the running generation, if any (Escape's command). */
  stop(cause: StopCause): void {
    this.stopRunning?.(cause);
  }

  dispose(): void {
    this.stop('shutdown');
  }

  private async run(editor: vscode.TextEditor, progress: vscode.Progress<{ message?: string }>, token: vscode.CancellationToken): Promise<boolean> {
    const anchor = editor.selection.isEmpty ? editor.selection.active : editor.selection.end;
    const before = textBeforeCursor(editor.document, anchor);
    const options = this.optionsFor(before.text, before.cursorOffset);
    const abort = new AbortController();
    let cause = 'notification cancel' as StopCause; // set by stop(), in callbacks TypeScript cannot follow
    const stop = (why: StopCause) => {
      if (abort.signal.aborted) return;
      cause = why;
      writer.stop();
      abort.abort();
    };
    const writer = new StreamingInsert(editor, before.cursorOffset, {
      onForeignEdit: () => stop('edit'),
      onWritten: (tokens) => progress.report({ message: progressMessage(tokens) }),
    });
    const watches = vscode.Disposable.from(watchStopConditions(editor, stop), token.onCancellationRequested(() => stop('notification cancel')));
    this.setRunning(stop);
    const started = Date.now();
    const written = () => ({ ...writer.written, ms: Date.now() - started });
    try {
      const result = await this.generate(options, abort.signal, (text) => writer.push(text));
      await writer.finish(cause === 'cursor moved');
      if (abort.signal.aborted) {
        // Stopped after the model's last token but before all of it was written: the rest was dropped.
        this.end({ ...written(), kind: 'cancelled', cause }, progress);
        return false;
      }
      const { promptTokens, reusedTokens, newTokens, stopReasons } = result;
      this.end({ ...written(), tokens: newTokens, kind: 'done', reason: stopReasons[0], promptTokens, reusedTokens }, progress);
      return true;
    } catch (error) {
      await writer.finish(cause === 'cursor moved');
      if (abort.signal.aborted) {
        this.end({ ...written(), kind: 'cancelled', cause }, progress);
      } else {
        this.end({ ...written(), kind: 'error', message: error instanceof Error ? error.message : String(error) }, progress);
        this.onError(error);
      }
      return false;
    } finally {
      watches.dispose();
      writer.dispose();
      this.setRunning(undefined);
    }
  }

  private optionsFor(textBefore: string, cursorOffset: number): GenerateOptions {
    return continuationRequest(this.settings(), { prompt: buildPromptWindow({ textBeforeCursor: textBefore, cursorOffset }).prompt });
  }

  /** The notification closes with the run, so the final count also stays a few seconds in the status bar. */
  private end(ending: GenerationEnding, progress: vscode.Progress<{ message?: string }>): void {
    const outcome = ending.kind === 'done' ? ending.reason : ending.kind === 'cancelled' ? `stopped by ${ending.cause}` : 'error';
    const summary = ending.kind === 'error' && ending.tokens === 0 ? 'nothing generated (see the error)' : `${progressMessage(ending.tokens)} (${outcome})`;
    progress.report({ message: summary });
    vscode.window.setStatusBarMessage(`Local GPT-2: ${ending.kind === 'error' && ending.tokens === 0 ? summary : `generated ${summary}`}`, 5000);
    this.log(describeEnding(ending));
  }

  private setRunning(stop: ((cause: StopCause) => void) | undefined): void {
    this.stopRunning = stop;
    void vscode.commands.executeCommand('setContext', GENERATING, stop !== undefined);
  }
}
