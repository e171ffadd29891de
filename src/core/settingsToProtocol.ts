// Turns Settings into the pieces of the worker protocol they decide, so the host only adds what
// settings cannot know (where the download cache lives, whether the machine is offline).

import type { LoadOptions, SamplingOptions } from '../protocol';
import type { Settings } from './settings';

export function toSamplingOptions(settings: Settings): SamplingOptions {
  return { topK: settings.topK, topP: settings.topP, temperature: settings.temperature };
}

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
  return { source, dtype: settings.dtype, device: settings.device, threads: settings.threads };
}

const LOAD_KEYS = ['model', 'revision', 'hubUrl', 'localModelPath', 'dtype', 'device', 'threads'] as const;

/** True when a settings change means the worker must load the model again (sampling changes do not). */
export function needsModelReload(previous: Settings, next: Settings): boolean {
  return LOAD_KEYS.some((key) => previous[key] !== next[key]);
}
