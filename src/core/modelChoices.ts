// The entries of "Switch model". A local folder wins over the hub id (see toLoadOptions), so the list marks
// the folder as in use when one is set, and a hub entry says beforehand that picking it clears the folder.
import type { Settings } from './settings';

export const KNOWN_MODELS: readonly string[] = ['Xenova/gpt2', 'Xenova/distilgpt2', 'Xenova/gpt2-medium'];

export type ModelAction =
  | { kind: 'keep' }
  | { kind: 'hub'; model: string }
  | { kind: 'clear-folder' }
  | { kind: 'other-hub' }
  | { kind: 'pick-folder' };

export interface ModelChoice {
  label: string;
  description?: string;
  detail?: string;
  action: ModelAction;
}

export function modelChoices(settings: Settings): ModelChoice[] {
  const folder = settings.localModelPath;
  const hubModels = KNOWN_MODELS.includes(settings.model) ? KNOWN_MODELS : [settings.model, ...KNOWN_MODELS];
  const hub = hubModels.map((model): ModelChoice => ({
    label: model,
    description: !folder && model === settings.model ? 'in use' : undefined,
    detail: folder ? `clears localGpt2.localModelPath (${folder})` : undefined,
    action: { kind: 'hub', model },
  }));
  const folderEntries: ModelChoice[] = folder
    ? [
        { label: `$(folder) ${folder}`, description: 'in use (localGpt2.localModelPath)', action: { kind: 'keep' } },
        { label: '$(close) Stop using the local folder', description: `clears localGpt2.localModelPath; ${settings.model} from the hub is used`, action: { kind: 'clear-folder' } },
      ]
    : [];
  return [
    ...folderEntries,
    ...hub,
    { label: '$(edit) Other Hugging Face model id…', action: { kind: 'other-hub' } },
    { label: '$(folder-opened) Local folder…', action: { kind: 'pick-folder' } },
  ];
}
