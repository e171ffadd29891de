// The editor-side reasons to stop a running Generate continuation, other than edits (StreamingInsert sees those)
// and the notification's Cancel: the user moved the cursor away, or the editor or its document was closed.
import * as vscode from 'vscode';
import type { StopCause } from '../core/generationReport';

export function watchStopConditions(editor: vscode.TextEditor, stop: (cause: StopCause) => void): vscode.Disposable {
  let last = editor.selections;
  const subscriptions = [
    vscode.window.onDidChangeTextEditorSelection((e) => {
      if (e.textEditor !== editor) return;
      // Our own inserts move the cursor too, but without a kind; keyboard, mouse and commands have one.
      const byUser = e.kind !== undefined && !sameSelections(e.selections, last);
      last = e.selections;
      if (byUser) stop('cursor moved');
    }),
    vscode.window.onDidChangeVisibleTextEditors((editors) => {
      if (!editors.includes(editor)) stop('editor closed');
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (document === editor.document) stop('editor closed');
    }),
  ];
  return vscode.Disposable.from(...subscriptions);
}

function sameSelections(a: readonly vscode.Selection[], b: readonly vscode.Selection[]): boolean {
  return a.length === b.length && a.every((s, i) => s.isEqual(b[i]));
}
