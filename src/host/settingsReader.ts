// Reads `localGpt2.*` from VS Code, honouring workspace trust, and parses it once with the pure
// parseSettings. Problems are reported once per distinct message, not on every read.
import * as vscode from 'vscode';
import { parseSettings, SETTING_KEYS, type Settings } from '../core/settings';
import { effectiveSettings, type SettingLayers } from '../core/trustedSettings';

export class SettingsReader implements vscode.Disposable {
  private current: Settings;
  private reported = new Set<string>();
  private readonly listeners: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<{ previous: Settings; next: Settings }>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly reportProblems: (problems: string[]) => void) {
    this.current = this.read();
    this.listeners.push(
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('localGpt2') && this.refresh()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.refresh()),
    );
  }

  get settings(): Settings {
    return this.current;
  }

  dispose(): void {
    this.changed.dispose();
    for (const d of this.listeners) d.dispose();
  }

  private refresh(): void {
    const previous = this.current;
    this.current = this.read();
    this.changed.fire({ previous, next: this.current });
  }

  private read(): Settings {
    const config = vscode.workspace.getConfiguration('localGpt2');
    const layers: Record<string, SettingLayers> = {};
    for (const key of SETTING_KEYS) layers[key] = config.inspect(key) ?? {};
    const { settings, problems } = parseSettings(effectiveSettings(layers, vscode.workspace.isTrusted));
    const fresh = problems.filter((p) => !this.reported.has(p));
    fresh.forEach((p) => this.reported.add(p));
    if (fresh.length > 0) this.reportProblems(fresh);
    return settings;
  }
}
