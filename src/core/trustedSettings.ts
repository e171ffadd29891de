// In an untrusted workspace, a repository's .vscode/settings.json must not choose what the extension
// downloads or which folder it loads native-code-adjacent model files from, nor how hard it works the
// machine (threads, how often it runs the model). For those keys only the user's own (global) value
// counts; everything else is read as usual.
import { SETTING_KEYS, SETTING_SCOPES } from './settings';

/** What `WorkspaceConfiguration.inspect(key)` returns, reduced to the layers that matter here. */
export interface SettingLayers {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** Settings that pick the model source or its CPU use; package.json lists the same keys under restrictedConfigurations. */
export const RESTRICTED_SETTINGS: readonly string[] = Object.freeze(SETTING_KEYS.filter((key) => SETTING_SCOPES[key] !== 'output'));

export function effectiveSettings(layers: Record<string, SettingLayers>, trusted: boolean): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, layer] of Object.entries(layers)) {
    const userOnly = !trusted && RESTRICTED_SETTINGS.includes(key);
    raw[key] = userOnly
      ? (layer.globalValue ?? layer.defaultValue)
      : (layer.workspaceFolderValue ?? layer.workspaceValue ?? layer.globalValue ?? layer.defaultValue);
  }
  return raw;
}
