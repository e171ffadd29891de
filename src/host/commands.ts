// The extension's commands (palette, keybindings, the status bar menu), each a call into an object that
// extension.ts built: registered here so that activate() only composes.
import * as vscode from 'vscode';
import type { ModelController } from '../client/modelController';
import type { Settings } from '../core/settings';
import type { ContinuationGenerator } from './generateCommand';
import { selectModel, showMenu } from './menu';
import type { Notifier } from './notifications';

export interface CommandTargets {
  settings: () => Settings;
  generator: ContinuationGenerator;
  controller: ModelController;
  notifier: Notifier;
  log: vscode.LogOutputChannel;
}

export function registerCommands({ settings, generator, controller, notifier, log }: CommandTargets): vscode.Disposable[] {
  const register = vscode.commands.registerCommand;
  return [
    register('localGpt2.generateContinuation', () => generator.start()),
    register('localGpt2.stopGenerating', () => generator.stop('Escape')),
    register('localGpt2.triggerCompletion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    register('localGpt2.toggle', () => toggle(settings())),
    register('localGpt2.showMenu', () => showMenu(settings())),
    register('localGpt2.selectModel', () => selectModel(settings())),
    register('localGpt2.showLog', () => log.show()),
    register('localGpt2.restartWorker', () => restartWorker(controller, notifier, log)),
  ];
}

function toggle(settings: Settings): Thenable<void> {
  return vscode.workspace.getConfiguration('localGpt2').update('enable', !settings.enable, vscode.ConfigurationTarget.Global);
}

/** A restart is a fresh start: errors shown before may show again. */
async function restartWorker(controller: ModelController, notifier: Notifier, log: vscode.LogOutputChannel): Promise<void> {
  notifier.reset();
  await controller.restart();
  log.info('model worker restarted');
}
