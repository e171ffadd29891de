// Ghost text: adapts VS Code's inline-completion calls to the pure CompletionPipeline. Keeps one request
// in flight (a new one aborts the old, through to the worker) and never offers a completion for a
// document version or position other than the one it was computed for. While the suggest widget is open,
// the ghost text continues its selected item (see core/selectedCompletion.ts).
import * as vscode from 'vscode';
import type { CompletionPipeline } from '../core/pipeline';
import { continueSelectedItem, promptWithSelectedItem } from '../core/selectedCompletion';
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
    this.inFlight?.abort();
    const abort = new AbortController();
    this.inFlight = abort;
    const cancel = token.onCancellationRequested(() => abort.abort());
    const version = document.version;
    try {
      const selected = context.selectedCompletionInfo;
      const before = textBeforeCursor(document, position);
      const typed = { prefix: before.text, cursorOffset: before.cursorOffset };
      const { prefix, cursorOffset } = selected ? promptWithSelectedItem(typed, selectedItem(document, position, selected)) : typed;
      const completions = await this.pipeline.complete(
        {
          languageId: document.languageId,
          prefix,
          // The item replaces its whole range, so what follows the range is what follows the completion.
          lineSuffix: lineAfterCursor(document, selected && selected.range.end.isAfter(position) ? selected.range.end : position),
          cursorOffset,
          documentVersion: version,
          trigger: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 'invoke' : 'automatic',
        },
        abort.signal,
      );
      if (abort.signal.aborted || document.version !== version) return undefined;
      if (!selected) return completions.map((text) => new vscode.InlineCompletionItem(text, new vscode.Range(position, position)));
      // VS Code drops an item that does not start with the selected one over its range, extended to the cursor.
      const range = selected.range.union(new vscode.Range(position, position));
      return continueSelectedItem(completions, selected.text).map((text) => new vscode.InlineCompletionItem(text, range));
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

/** The part of the selected item's range that lies before the cursor is the part of the word already typed. */
function selectedItem(document: vscode.TextDocument, position: vscode.Position, selected: vscode.SelectedCompletionInfo) {
  const replacedBefore = selected.range.start.isBefore(position) ? document.offsetAt(position) - document.offsetAt(selected.range.start) : 0;
  return { replacedBefore, text: selected.text };
}
