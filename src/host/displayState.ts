// What the user sees of the model: the status bar, the download progress and the notifications follow the model's
// state, and the API's onDidChangeState reports what the status bar shows.
import * as vscode from 'vscode';
import type { ModelState } from '../client/modelController';
import type { Settings } from '../core/settings';
import { DownloadProgress, type Notifier } from './notifications';
import { StatusBar, type DisplayState } from './statusBar';

export class ModelDisplay implements vscode.Disposable {
  private readonly statusBar = new StatusBar();
  private readonly downloads = new DownloadProgress();
  private readonly changes = new vscode.EventEmitter<DisplayState>();
  private model: ModelState = { kind: 'idle' };
  readonly onDidChange = this.changes.event;

  constructor(
    private readonly settings: () => Settings,
    private readonly notifier: Notifier,
  ) {
    this.refresh();
  }

  /** Turned off, an idle or ready model shows as disabled; work in progress and errors still need the user's eye. */
  get state(): DisplayState {
    return this.settings().enable || !['idle', 'ready'].includes(this.model.kind) ? this.model : { kind: 'disabled' };
  }

  /** ModelController's onState. */
  modelChanged(state: ModelState): void {
    this.model = state;
    this.downloads.update(state, this.settings().model);
    this.notifier.state(state);
    this.refresh();
  }

  /** A request failed: shown, unless the model's error state (which the notifier already showed) is its cause. */
  requestFailed(error: unknown): void {
    if (this.model.kind !== 'error') this.notifier.error(error instanceof Error ? error.message : String(error));
  }

  /** Shows the state again, e.g. after `enable` changed. */
  refresh(): void {
    const state = this.state;
    this.statusBar.show(state);
    this.changes.fire(state);
  }

  dispose(): void {
    this.statusBar.dispose();
    this.changes.dispose();
  }
}
