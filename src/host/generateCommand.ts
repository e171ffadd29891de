// "Generate continuation": streams a longer continuation into the editor at the cursor (after the
// selection if there is one), in a cancellable progress notification. All inserts join one undo step.
import * as vscode from 'vscode';
import { buildPromptWindow } from '../core/promptWindow';
import { toSamplingOptions, type Settings } from '../core/settings';
import type { GenerateOptions, GenerationResult } from '../protocol';
import { textBeforeCursor } from './documentWindow';

export type StreamingGenerate = (options: GenerateOptions, signal: AbortSignal, onText: (text: string) => void) => Promise<GenerationResult>;

export async function generateContinuation(settings: Settings, generate: StreamingGenerate, onError: (error: unknown) => void): Promise<boolean> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Local GPT-2: open a file to generate a continuation in.');
    return false;
  }
  const document = editor.document;
  const anchor = editor.selection.isEmpty ? editor.selection.active : editor.selection.end;
  const before = textBeforeCursor(document, anchor);
  const cursorOffset = before.cursorOffset;
  const { prompt } = buildPromptWindow({ textBeforeCursor: before.text, cursorOffset });
  const options: GenerateOptions = {
    prompt,
    maxNewTokens: settings.generateMaxTokens,
    sampling: toSamplingOptions(settings),
    stop: { atNewline: false, strings: [] },
    stream: true,
    samples: 1,
  };
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Local GPT-2: generating', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      const writer = new StreamingInsert(editor, cursorOffset);
      try {
        const result = await generate(options, abort.signal, (text) => writer.push(text));
        await writer.finish();
        progress.report({ message: `${result.newTokens} tokens` });
        return true;
      } catch (error) {
        await writer.finish();
        if (!abort.signal.aborted) onError(error);
        return false;
      } finally {
        writer.dispose();
      }
    },
  );
}

/**
 * Inserts streamed text at a marker that moves with edits before it (ours included), batching
 * tokens that arrive while an edit is in progress. Only the first edit opens an undo stop, so one
 * undo removes the whole continuation.
 */
class StreamingInsert implements vscode.Disposable {
  private pending = '';
  private written = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly tracker: vscode.Disposable;

  constructor(
    private readonly editor: vscode.TextEditor,
    private offset: number,
  ) {
    this.tracker = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== editor.document) return;
      for (const change of e.contentChanges) {
        if (change.rangeOffset <= this.offset) this.offset += change.text.length - Math.min(change.rangeLength, this.offset - change.rangeOffset);
      }
    });
  }

  push(text: string): void {
    this.pending += text;
    this.flushing = this.flushing.then(() => this.flush());
  }

  async finish(): Promise<void> {
    await this.flushing;
    if (this.written > 0) await this.editor.edit(() => undefined, { undoStopBefore: false, undoStopAfter: true });
  }

  dispose(): void {
    this.tracker.dispose();
  }

  private async flush(): Promise<void> {
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    const at = this.editor.document.positionAt(this.offset);
    const ok = await this.editor.edit((edit) => edit.insert(at, text), { undoStopBefore: this.written === 0, undoStopAfter: false });
    if (ok) this.written += text.length;
  }
}
