// Turns Settings into the worker's load request, so the host only adds what settings cannot know (where the
// download cache lives, whether the machine is offline). Generate requests are built in requests.ts.

import type { LoadOptions } from '../protocol';
import { SETTING_KEYS, SETTING_SCOPES, type Settings } from './settings';

export interface ModelEnvironment {
  cacheDir: string;
  offline: boolean;
}

/** A local folder wins over the hub: the setting promises that nothing is downloaded when it is set. */
export function toLoadOptions(settings: Settings, environment: ModelEnvironment): LoadOptions {
  const source: LoadOptions['source'] =
    settings.localModelPath !== ''
      ? { kind: 'folder', path: settings.localModelPath }
      : {
          kind: 'hub',
          modelId: settings.model,
          revision: settings.revision,
          hubUrl: settings.hubUrl,
          cacheDir: environment.cacheDir,
          offline: environment.offline,
        };
  return { source, dtype: settings.dtype, device: settings.device, threads: settings.threads, stateDir: environment.cacheDir };
}

/** The settings that decide what loads (SETTING_SCOPES' `load`). */
export const LOAD_KEYS = Object.freeze(SETTING_KEYS.filter((key) => SETTING_SCOPES[key] === 'load'));

/** True when a settings change means the worker must load the model again (sampling changes do not). */
export function needsModelReload(previous: Settings, next: Settings): boolean {
  return LOAD_KEYS.some((key) => previous[key] !== next[key]);
}
