// Composition root: builds every object explicitly and registers what must be disposed. No singletons,
// no model work here; the model loads in the worker on the first completion or command.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ModelController } from '../client/modelController';
import { CompletionPipeline } from '../core/pipeline';
import { WorkerTestSeam } from '../testSeam';
import { createApi, type LocalGpt2Api } from './api';
import { registerCommands } from './commands';
import { ModelDisplay } from './displayState';
import { ContinuationGenerator } from './generateCommand';
import { GhostTextProvider } from './inlineProvider';
import { openSettings, pickModelFolder } from './menu';
import { ModelRequests } from './modelRequests';
import { Notifier } from './notifications';
import { RequestTracker } from './requestTracker';
import { SettingsFollower } from './settingsFollower';
import { SettingsReader } from './settingsReader';

export type { LocalGpt2Api } from './api';
export type { RequestKind, RequestOutcome } from './requestTracker';

export function activate(context: vscode.ExtensionContext): LocalGpt2Api {
  const log = vscode.window.createOutputChannel('Local GPT-2', { log: true });
  const notifier = new Notifier(log, { retry: () => controller.retry(), useLocalFolder: pickModelFolder, openSettings });
  const settingsReader = new SettingsReader((problems) => notifier.settingsProblems(problems));
  const settings = () => settingsReader.settings;
  const display = new ModelDisplay(settings, notifier);
  const testSeam = WorkerTestSeam.fromEnvironment();
  const controller: ModelController = new ModelController(
    path.join(context.extensionPath, 'dist', 'worker.js'),
    { onLog: (level, message) => log[level](message), onState: (state) => display.modelChanged(state) },
    { testSeam },
  );
  const tracker = new RequestTracker((options, signal, onText) => controller.generate(options, signal, onText), (line) => log.info(line));
  const requests = new ModelRequests(controller, tracker);
  const pipeline = new CompletionPipeline({ settings, log: (message) => log.info(message), generate: requests.inline });
  const reportError = (error: unknown) => display.requestFailed(error);
  const provider = new GhostTextProvider(pipeline, reportError);
  const generator = new ContinuationGenerator(settings, requests.continuation, reportError, (line) => log.info(line));
  const environment = { cacheDir: context.globalStorageUri.fsPath, offline: false };

  context.subscriptions.push(
    log,
    settingsReader,
    display,
    tracker,
    provider,
    generator,
    { dispose: () => void controller.dispose() },
    new SettingsFollower(settingsReader, { controller, environment, pipeline, display, notifier, log }),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    ...registerCommands({ settings, generator, controller, notifier, log }),
  );
  log.info(`activated; models are cached in ${environment.cacheDir}`);
  return createApi(tracker, display, controller, testSeam);
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
