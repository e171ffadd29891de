// Applies the settings as they are now and as they change: what loads (lazily: the model reloads on the next
// request, so typing in the settings loads nothing), the completion cache (its entries were sampled with the old
// values) and the status bar (`enable` turns its disabled look on and off).
import type * as vscode from 'vscode';
import type { ModelController } from '../client/modelController';
import type { CompletionPipeline } from '../core/pipeline';
import type { Settings } from '../core/settings';
import { needsModelReload, toLoadOptions, type ModelEnvironment } from '../core/settingsToProtocol';
import type { ModelDisplay } from './displayState';
import type { Notifier } from './notifications';
import type { SettingsReader } from './settingsReader';

export interface SettingsTargets {
  controller: ModelController;
  environment: ModelEnvironment;
  pipeline: CompletionPipeline;
  display: ModelDisplay;
  notifier: Notifier;
  log: vscode.LogOutputChannel;
}

export class SettingsFollower implements vscode.Disposable {
  private readonly listener: vscode.Disposable;

  constructor(
    reader: SettingsReader,
    private readonly targets: SettingsTargets,
  ) {
    targets.controller.configure(toLoadOptions(reader.settings, targets.environment));
    this.listener = reader.onDidChange(({ previous, next }) => this.changed(previous, next));
  }

  dispose(): void {
    this.listener.dispose();
  }

  private changed(previous: Settings, next: Settings): void {
    const { controller, environment, pipeline, display, notifier, log } = this.targets;
    // Logged once per change of what loads: Switch model writes the model id, then clears the folder.
    if (needsModelReload(previous, next) && controller.configure(toLoadOptions(next, environment))) {
      notifier.reset(); // the old error belonged to the old settings
      log.info('model settings changed; the model reloads on the next request');
    }
    pipeline.clearCache();
    display.refresh();
  }
}
