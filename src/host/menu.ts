// The status bar menu: toggle completions, switch model, open the log, restart the worker.
import * as vscode from 'vscode';
import type { Settings } from '../core/settings';

const KNOWN_MODELS = ['Xenova/gpt2', 'Xenova/distilgpt2', 'Xenova/gpt2-medium'];

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
  const FOLDER = '$(folder) Local folder…';
  const OTHER = '$(edit) Other Hugging Face model id…';
  const picked = await vscode.window.showQuickPick(
    [...KNOWN_MODELS.map((label) => ({ label, description: label === settings.model ? 'current' : '' })), { label: OTHER }, { label: FOLDER }],
    { title: 'Local GPT-2: model' },
  );
  if (!picked) return;
  const config = vscode.workspace.getConfiguration('localGpt2');
  if (picked.label === FOLDER) {
    const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model folder' });
    if (folder?.[0]) await config.update('localModelPath', folder[0].fsPath, vscode.ConfigurationTarget.Global);
    return;
  }
  const model = picked.label === OTHER ? await vscode.window.showInputBox({ prompt: 'Hugging Face model id (GPT-2 family, ONNX export)', value: settings.model }) : picked.label;
  if (!model) return;
  await config.update('model', model, vscode.ConfigurationTarget.Global);
  await config.update('localModelPath', undefined, vscode.ConfigurationTarget.Global);
}
