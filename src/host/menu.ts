// The status bar menu: toggle completions, switch model, open the log, restart the worker. Switching never
// removes a setting without saying so: the list says which entry clears localModelPath, and a message confirms it.
import * as vscode from 'vscode';
import { isHubModelId } from '../core/modelId';
import { modelChoices } from '../core/modelChoices';
import type { Settings } from '../core/settings';

export async function showMenu(settings: Settings): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: settings.enable ? '$(circle-slash) Turn completions off' : '$(check) Turn completions on', command: 'localGpt2.toggle' },
    { label: '$(symbol-class) Switch model…', description: settings.localModelPath || settings.model, command: 'localGpt2.selectModel' },
    { label: '$(output) Open log', command: 'localGpt2.showLog' },
    { label: '$(debug-restart) Restart model worker', command: 'localGpt2.restartWorker' },
    { label: '$(gear) Settings', command: 'workbench.action.openSettings' },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Local GPT-2' });
  if (picked) await vscode.commands.executeCommand(picked.command, ...(picked.command === 'workbench.action.openSettings' ? ['localGpt2'] : []));
}

export async function selectModel(settings: Settings): Promise<void> {
  const picked = await vscode.window.showQuickPick(modelChoices(settings), { title: 'Local GPT-2: model' });
  switch (picked?.action.kind) {
    case 'hub':
      return useHubModel(picked.action.model, settings);
    case 'other-hub': {
      const model = await vscode.window.showInputBox({
        prompt: 'Hugging Face model id (GPT-2 family, ONNX export)',
        value: settings.model,
        validateInput: (id) => (isHubModelId(id.trim()) ? undefined : 'a model id looks like "owner/name"'),
      });
      return model ? useHubModel(model.trim(), settings) : undefined;
    }
    case 'clear-folder':
      return clearLocalModelPath(settings);
    case 'pick-folder':
      return void (await pickModelFolder());
  }
}

export function openSettings(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', 'localGpt2');
}

/** Asks for a model folder and puts it in the user settings; false when the dialog was dismissed. */
export async function pickModelFolder(): Promise<boolean> {
  const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model folder' });
  if (!folder?.[0]) return false;
  await vscode.workspace.getConfiguration('localGpt2').update('localModelPath', folder[0].fsPath, vscode.ConfigurationTarget.Global);
  return true;
}

async function useHubModel(model: string, settings: Settings): Promise<void> {
  await vscode.workspace.getConfiguration('localGpt2').update('model', model, vscode.ConfigurationTarget.Global);
  if (settings.localModelPath) await clearLocalModelPath({ ...settings, model });
}

/** Clears the folder wherever it is set (user or workspace settings), and says where, or where it could not. */
async function clearLocalModelPath(settings: Settings): Promise<void> {
  const config = vscode.workspace.getConfiguration('localGpt2');
  const where = config.inspect<string>('localModelPath');
  const targets: [unknown, vscode.ConfigurationTarget, string][] = [
    [where?.globalValue, vscode.ConfigurationTarget.Global, 'user'],
    [where?.workspaceValue, vscode.ConfigurationTarget.Workspace, 'workspace'],
  ];
  const cleared: string[] = [];
  for (const [value, target, name] of targets) {
    if (value === undefined) continue;
    await config.update('localModelPath', undefined, target);
    cleared.push(name);
  }
  const left = where?.workspaceFolderValue !== undefined ? ' It is still set in a workspace folder\'s settings, which win.' : '';
  void vscode.window.showInformationMessage(
    `Local GPT-2: cleared localGpt2.localModelPath (${settings.localModelPath}) from the ${cleared.join(' and ') || 'no'} settings; ${settings.model} is used from ${settings.hubUrl}.${left}`,
  );
}
