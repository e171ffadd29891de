// Reads only what the prompt window can use around the cursor, so a 50 MB document or a 100,000-character
// line costs the same as a small one. Shared by ghost text and Generate continuation.
import * as vscode from 'vscode';
import { DEFAULT_PROMPT_MAX_CHARS } from '../core/promptWindow';

export function textBeforeCursor(document: vscode.TextDocument, position: vscode.Position): { text: string; cursorOffset: number } {
  const cursorOffset = document.offsetAt(position);
  const start = document.positionAt(Math.max(0, cursorOffset - DEFAULT_PROMPT_MAX_CHARS));
  return { text: document.getText(new vscode.Range(start, position)), cursorOffset };
}

/** The rest of the cursor's line, at most as much as the window keeps (the range stops at the line's end). */
export function lineAfterCursor(document: vscode.TextDocument, position: vscode.Position): string {
  return document.getText(new vscode.Range(position, position.translate(0, DEFAULT_PROMPT_MAX_CHARS)));
}
