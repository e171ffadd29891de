// Writes streamed text into an editor at one insertion point, as ONE undo step, for as long as nobody else edits
// the document: the first foreign edit (a keystroke, an undo, another extension) is reported and nothing more is
// written, so generated text and the user's typing can never interleave.
import * as vscode from 'vscode';
import { OwnEdits } from '../core/ownEdits';

export class StreamingInsert implements vscode.Disposable {
  /** Tokens and characters now in the document. */
  readonly written = { tokens: 0, characters: 0 };
  private pending = '';
  private pendingTokens = 0;
  private stopped = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly own = new OwnEdits();
  /** An insert of ours that the editor applied after the edit or cursor move that stopped us (see finish). */
  private late: { version: number; textBefore: string; tokens: number; characters: number } | undefined;
  private readonly tracker: vscode.Disposable;
  /** Whether the view follows the insertion: it did start in view, and the user has not scrolled away since. */
  private following: boolean;
  /** Ends we asked the view to show whose visible-range updates have not come back yet. */
  private revealed: vscode.Position[] = [];
  private readonly scrolls: vscode.Disposable;

  constructor(
    private readonly editor: vscode.TextEditor,
    private offset: number,
    private readonly hooks: { onForeignEdit(): void; onWritten(tokens: number): void },
  ) {
    this.tracker = vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e));
    const start = editor.document.positionAt(offset);
    this.following = editor.visibleRanges.some((r) => r.contains(start));
    this.scrolls = vscode.window.onDidChangeTextEditorVisibleRanges((e) => e.textEditor === editor && this.onScroll(e.visibleRanges));
  }

  /**
   * Visible ranges come back from the renderer some time after a reveal, and under load after the next insert:
   * an update that shows any end we revealed is ours; one that shows none of them is the user scrolling away.
   */
  private onScroll(ranges: readonly vscode.Range[]): void {
    if (this.revealed.length === 0) return;
    if (this.revealed.some((end) => ranges.some((r) => r.contains(end)))) this.revealed = this.revealed.slice(-1);
    else this.following = false;
  }

  push(text: string): void {
    if (this.stopped) return;
    this.pending += text;
    this.pendingTokens++;
    this.flushing = this.flushing.then(() => this.flush());
  }

  /** Writes nothing more; what is in the document stays. */
  stop(): void {
    this.stopped = true;
    this.pending = '';
    this.pendingTokens = 0;
  }

  /**
   * Waits for the write in flight, then closes the undo step so later typing starts a new one. With `dropLate`
   * (the user moved the cursor), an insert that landed after the move goes: a cursor move closes the undo step, so
   * that insert would be a second one, written where the user no longer is.
   */
  async finish(dropLate = false): Promise<void> {
    await this.flushing;
    if (dropLate) await this.dropLateInsert();
    if (this.written.characters === 0) return;
    // A closed editor refuses edits; its document keeps what was written.
    await Promise.resolve(this.editor.edit(() => undefined, { undoStopBefore: false, undoStopAfter: true })).catch(() => false);
  }

  dispose(): void {
    this.stop();
    this.tracker.dispose();
    this.scrolls.dispose();
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (e.document !== this.editor.document || e.contentChanges.length === 0) return;
    const eol = e.document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
    for (const change of e.contentChanges) {
      if (this.own.claim(change, eol)) {
        this.offset = change.rangeOffset + change.text.length;
        if (this.stopped) this.late = { version: e.document.version, textBefore: textWithout(e.document.getText(), change), tokens: 0, characters: change.text.length };
      } else if (!this.stopped) {
        this.stop();
        this.hooks.onForeignEdit();
      }
    }
  }

  /**
   * Undoes the late insert while it is still the document's last change in the focused editor. Whether the cursor
   * move closed the undo step is the editor's business (a move by the API does not): when the undo took the whole
   * continuation, redo puts it back, and the late text then belongs to that one step and stays.
   */
  private async dropLateInsert(): Promise<void> {
    const late = this.late;
    const document = this.editor.document;
    if (!late || document.version !== late.version || vscode.window.activeTextEditor !== this.editor) return;
    await vscode.commands.executeCommand('undo');
    if (document.getText() === late.textBefore) {
      this.written.tokens -= late.tokens;
      this.written.characters -= late.characters;
    } else {
      await vscode.commands.executeCommand('redo');
    }
    this.late = undefined;
  }

  private async flush(): Promise<void> {
    if (this.stopped || !this.pending) return;
    const text = this.pending;
    const tokens = this.pendingTokens;
    this.pending = '';
    this.pendingTokens = 0;
    const document = this.editor.document;
    const at = document.positionAt(this.offset);
    const offset = this.offset;
    this.own.expect(offset, text);
    // The editor refuses an edit made against an older version of the document, so a keystroke that lands
    // while this one is in flight cannot be overwritten or split; that keystroke also stops the stream.
    const ok = await Promise.resolve(
      this.editor.edit((edit) => edit.insert(at, text), { undoStopBefore: this.written.characters === 0, undoStopAfter: false }),
    ).catch(() => false);
    if (!ok) {
      this.own.forget(offset, text);
      return;
    }
    this.written.tokens += tokens;
    this.written.characters += text.length;
    if (this.late) this.late.tokens = tokens;
    this.hooks.onWritten(this.written.tokens);
    // Follow the insertion only while the user leaves the view to it: one who scrolled away is not pulled back.
    if (this.following && !this.stopped) {
      const end = document.positionAt(this.offset);
      this.revealed = [...this.revealed.slice(-31), end]; // a reveal of a position already shown sends no update
      this.editor.revealRange(new vscode.Range(end, end), vscode.TextEditorRevealType.Default);
    }
  }
}

function textWithout(text: string, insert: vscode.TextDocumentContentChangeEvent): string {
  return text.slice(0, insert.rangeOffset) + text.slice(insert.rangeOffset + insert.text.length);
}
