// The status bar item: what the model is doing, at a glance. A click opens the menu.
import * as vscode from 'vscode';
import type { ModelState } from '../client/modelController';

export type DisplayState = ModelState | { kind: 'disabled' };

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('localGpt2.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Local GPT-2';
    this.item.command = 'localGpt2.showMenu';
    this.show({ kind: 'idle' });
    this.item.show();
  }

  show(state: DisplayState): void {
    const { icon, label, tooltip } = describe(state);
    this.item.text = `${icon} GPT-2${label ? ` ${label}` : ''}`;
    this.item.tooltip = `Local GPT-2: ${tooltip}\nClick for options.`;
    this.item.backgroundColor = state.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function describe(state: DisplayState): { icon: string; label: string; tooltip: string } {
  switch (state.kind) {
    case 'idle':
      return { icon: '$(circle-outline)', label: '', tooltip: 'the model loads on the first completion' };
    case 'downloading':
      return { icon: '$(cloud-download)', label: `${state.percent}%`, tooltip: `downloading ${state.file} (${state.percent}%)` };
    case 'loading':
      return { icon: '$(loading~spin)', label: '', tooltip: 'loading the model' };
    case 'ready':
      return { icon: '$(check)', label: '', tooltip: `${state.info.name} ready (${state.info.dtype}, ${state.info.device})` };
    case 'generating':
      return { icon: '$(sync~spin)', label: '', tooltip: `${state.info.name} is generating` };
    case 'error':
      // Typing does not retry a failed load (see ModelController); say what does.
      return { icon: '$(error)', label: '', tooltip: `error: ${state.message}${state.failure ? '\nAlt+\\ or Generate continuation tries again.' : ''}` };
    case 'disabled':
      return { icon: '$(circle-slash)', label: '', tooltip: 'completions are turned off' };
  }
}
