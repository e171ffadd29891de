// Ghost text: adapts VS Code's inline-completion calls to the pure CompletionPipeline. Keeps one request
// in flight (a new one aborts the old, through to the worker) and never offers a completion for a
// document version or position other than the one it was computed for.
import * as vscode from 'vscode';
import type { CompletionPipeline } from '../core/pipeline';
import { lineAfterCursor, textBeforeCursor } from './documentWindow';

export class GhostTextProvider implements vscode.InlineCompletionItemProvider {
  private inFlight?: AbortController;

  constructor(
    private readonly pipeline: CompletionPipeline,
    private readonly onError: (error: unknown) => void,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (context.selectedCompletionInfo) return undefined; // the suggest widget is choosing; do not compete
    this.inFlight?.abort();
    const abort = new AbortController();
    this.inFlight = abort;
    const cancel = token.onCancellationRequested(() => abort.abort());
    const version = document.version;
    try {
      const before = textBeforeCursor(document, position);
      const completions = await this.pipeline.complete(
        {
          languageId: document.languageId,
          prefix: before.text,
          lineSuffix: lineAfterCursor(document, position),
          cursorOffset: before.cursorOffset,
          documentVersion: version,
          trigger: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 'invoke' : 'automatic',
        },
        abort.signal,
      );
      if (abort.signal.aborted || document.version !== version) return undefined;
      return completions.map((text) => new vscode.InlineCompletionItem(text, new vscode.Range(position, position)));
    } catch (error) {
      if (!abort.signal.aborted) this.onError(error);
      return undefined;
    } finally {
      cancel.dispose();
      if (this.inFlight === abort) this.inFlight = undefined;
    }
  }

  dispose(): void {
    this.inFlight?.abort();
  }
}
