// Composition root: builds every object explicitly and registers what must be disposed. No singletons,
// no model work here; the model loads in the worker on the first completion or command.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ModelController, type ModelState } from '../client/modelController';
import { CompletionPipeline, type Trigger } from '../core/pipeline';
import type { Settings } from '../core/settings';
import { needsModelReload, toLoadOptions } from '../core/settingsToProtocol';
import type { GenerateOptions } from '../protocol';
import { ContinuationGenerator } from './generateCommand';
import { GhostTextProvider } from './inlineProvider';
import { pickModelFolder, selectModel, showMenu } from './menu';
import { DownloadProgress, Notifier } from './notifications';
import { RequestTracker, type RequestKind, type RequestOutcome } from './requestTracker';
import { SettingsReader } from './settingsReader';
import { StatusBar, type DisplayState } from './statusBar';

export type { RequestKind, RequestOutcome } from './requestTracker';

/** What the extension exports: used by the integration tests, stable enough for other extensions. */
export interface LocalGpt2Api {
  onDidSendRequest: vscode.Event<{ kind: RequestKind; options: GenerateOptions }>;
  /** Every request sent to the worker ends with exactly one of these. */
  onDidFinishRequest: vscode.Event<RequestOutcome>;
  onDidChangeState: vscode.Event<DisplayState>;
  state(): DisplayState & { message?: string };
  restartWorker(): Promise<void>;
  killWorkerForTest(): void;
}

export function activate(context: vscode.ExtensionContext): LocalGpt2Api {
  const log = vscode.window.createOutputChannel('Local GPT-2', { log: true });
  const notifier = new Notifier(log, {
    retry: () => controller.retry(),
    useLocalFolder: () => pickModelFolder(),
    openSettings: () => vscode.commands.executeCommand('workbench.action.openSettings', 'localGpt2'),
  });
  const settingsReader = new SettingsReader((problems) => notifier.settingsProblems(problems));
  const statusBar = new StatusBar();
  const downloads = new DownloadProgress();
  const stateChanges = new vscode.EventEmitter<DisplayState>();
  const settings = (): Settings => settingsReader.settings;

  // Turned off, an idle or ready model shows as disabled; work in progress and errors still show.
  const displayState = (): DisplayState => {
    const state = controller.state;
    return settings().enable || !['idle', 'ready'].includes(state.kind) ? state : { kind: 'disabled' };
  };
  const refreshStatus = () => {
    const state = displayState();
    statusBar.show(state);
    stateChanges.fire(state);
  };
  const controller: ModelController = new ModelController(path.join(context.extensionPath, 'dist', 'worker.js'), {
    onLog: (level, message) => log[level](message),
    onState: (state: ModelState) => {
      downloads.update(state, settings().model);
      notifier.state(state);
      refreshStatus();
    },
  });
  const environment = { cacheDir: context.globalStorageUri.fsPath, offline: false };
  controller.configure(toLoadOptions(settings(), environment));

  const tracker = new RequestTracker((options, signal, onText) => controller.generate(options, signal, onText), (line) => log.info(line));
  const reportError = (error: unknown) => {
    if (controller.state.kind !== 'error') notifier.error(error instanceof Error ? error.message : String(error));
  };
  const pipeline = new CompletionPipeline({
    settings,
    log: (message) => log.info(message),
    // Alt+\ (an explicit request) retries a failed load; typing does not.
    generate: async (options, signal, trigger?: Trigger) => {
      if (trigger === 'invoke') await controller.explicitRequest(signal);
      return tracker.run('inline', options, signal);
    },
  });
  const provider = new GhostTextProvider(pipeline, reportError);
  const generator = new ContinuationGenerator(settings, (options, signal, onText) => controller.explicitRequest(signal).then(() => tracker.run('generate', options, signal, onText)), reportError, (line) => log.info(line));

  context.subscriptions.push(
    log,
    settingsReader,
    statusBar,
    tracker,
    stateChanges,
    provider,
    generator,
    { dispose: () => void controller.dispose() },
    settingsReader.onDidChange(({ previous, next }) => {
      // Logged once per change of what loads: Switch model writes the model id, then clears the folder.
      if (needsModelReload(previous, next) && controller.configure(toLoadOptions(next, environment))) {
        notifier.reset();
        log.info('model settings changed; the model reloads on the next request');
      }
      pipeline.clearCache();
      refreshStatus();
    }),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    vscode.commands.registerCommand('localGpt2.generateContinuation', () => generator.start()),
    vscode.commands.registerCommand('localGpt2.stopGenerating', () => generator.stop('Escape')),
    vscode.commands.registerCommand('localGpt2.triggerCompletion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    vscode.commands.registerCommand('localGpt2.toggle', () =>
      vscode.workspace.getConfiguration('localGpt2').update('enable', !settings().enable, vscode.ConfigurationTarget.Global),
    ),
    vscode.commands.registerCommand('localGpt2.showMenu', () => showMenu(settings())),
    vscode.commands.registerCommand('localGpt2.selectModel', () => selectModel(settings())),
    vscode.commands.registerCommand('localGpt2.showLog', () => log.show()),
    vscode.commands.registerCommand('localGpt2.restartWorker', async () => {
      notifier.reset();
      await controller.restart();
      log.info('model worker restarted');
    }),
  );
  refreshStatus();
  log.info(`activated; models are cached in ${environment.cacheDir}`);

  return {
    onDidSendRequest: tracker.onDidSendRequest,
    onDidFinishRequest: tracker.onDidFinishRequest,
    onDidChangeState: stateChanges.event,
    state: displayState,
    restartWorker: () => controller.restart(),
    killWorkerForTest: () => controller.client.crashForTest(),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
