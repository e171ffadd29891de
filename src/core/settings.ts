// The one place where `localGpt2.*` settings are read into typed, in-range values. Everything
// downstream (host, pipeline, worker options) trusts a Settings object and never re-validates.

import type { Device, Dtype } from '../protocol';
import { isHubModelId, isRevision } from './modelId';
import {
  booleanField,
  enumField,
  languagesField,
  numberField,
  textField,
  type FieldCheck,
  type LanguageMap,
} from './settingFields';

export interface Settings {
  readonly enable: boolean;
  /** languageId -> enabled; `"*"` applies to languages not listed. */
  readonly languages: LanguageMap;
  readonly topK: number; // 0 = no limit
  readonly topP: number; // 1 = off
  readonly temperature: number; // 0 = greedy
  readonly minTokenProbability: number; // 0 = off
  readonly maxNewTokens: number;
  readonly generateMaxTokens: number;
  readonly multiline: boolean;
  readonly debounceMs: number;
  /** Ghost text shows what is ready this long after the request goes to the model; the rest comes in the background. 0 = off. */
  readonly latencyBudgetMs: number;
  readonly model: string;
  readonly revision: string;
  readonly dtype: Dtype;
  readonly localModelPath: string; // '' = download from the hub
  readonly hubUrl: string; // no trailing slash
  readonly device: Device;
  readonly threads: number; // 0 = auto
}

/** Mirrors the defaults in package.json `contributes.configuration` (a unit test keeps them equal). */
export const DEFAULT_SETTINGS: Settings = Object.freeze({
  enable: true,
  languages: Object.freeze({ '*': true, scminput: false }),
  topK: 50,
  topP: 1,
  temperature: 1,
  minTokenProbability: 0,
  maxNewTokens: 32,
  generateMaxTokens: 200,
  multiline: false,
  debounceMs: 200,
  latencyBudgetMs: 300,
  model: 'Xenova/gpt2',
  revision: 'main',
  dtype: 'q8',
  localModelPath: '',
  hubUrl: 'https://huggingface.co',
  device: 'cpu',
  threads: 0,
});

const GPT2_VOCAB_SIZE = 50257;

function rejectModelId(id: string): string | undefined {
  return isHubModelId(id) ? undefined : 'is not a model id like "owner/name"';
}

function rejectRevision(revision: string): string | undefined {
  return isRevision(revision) ? undefined : 'is not a branch, tag or commit name';
}

/**
 * Download URLs are built as `${hubUrl}/${model}/resolve/...`, so the URL must be a plain
 * scheme + host (+ path): no credentials, query or fragment, and the host right after `//`
 * (the URL parser would otherwise accept `https:///x` and guess).
 */
function rejectHubUrl(url: string): string | undefined {
  if (!/^https?:\/\/[^/?#@\s]+[^?#@\s]*$/i.test(url)) return 'is not an http(s) URL';
  try {
    new URL(url);
    return undefined;
  } catch {
    return 'is not an http(s) URL';
  }
}

const D = DEFAULT_SETTINGS;

/**
 * The ranges of the numeric settings. The worker clamps requests from any client (the CLI included) to the same
 * ranges, so a value means the same thing wherever it comes from.
 */
export const NUMBER_RANGES = Object.freeze({
  topK: { min: 0, max: GPT2_VOCAB_SIZE, integer: true },
  topP: { min: 0.01, max: 1, integer: false },
  temperature: { min: 0, max: 2, integer: false },
  minTokenProbability: { min: 0, max: 1, integer: false },
  maxNewTokens: { min: 1, max: 256, integer: true },
  generateMaxTokens: { min: 1, max: 1024, integer: true },
  debounceMs: { min: 0, max: 5000, integer: true },
  latencyBudgetMs: { min: 0, max: 10_000, integer: true },
  threads: { min: 0, max: 64, integer: true },
} satisfies { [K in keyof Settings]?: { min: number; max: number; integer: boolean } });

const R = NUMBER_RANGES;

const FIELDS: { readonly [K in keyof Settings]: FieldCheck<Settings[K]> } = {
  enable: booleanField(D.enable),
  languages: languagesField(D.languages),
  topK: numberField({ ...R.topK, fallback: D.topK, meanings: { 0: 'no limit' } }),
  topP: numberField({ ...R.topP, fallback: D.topP, meanings: { 1: 'off' } }),
  temperature: numberField({ ...R.temperature, fallback: D.temperature, meanings: { 0: 'greedy' } }),
  minTokenProbability: numberField({ ...R.minTokenProbability, fallback: D.minTokenProbability, meanings: { 0: 'off' } }),
  maxNewTokens: numberField({ ...R.maxNewTokens, fallback: D.maxNewTokens }),
  generateMaxTokens: numberField({ ...R.generateMaxTokens, fallback: D.generateMaxTokens }),
  multiline: booleanField(D.multiline),
  debounceMs: numberField({ ...R.debounceMs, fallback: D.debounceMs }),
  latencyBudgetMs: numberField({ ...R.latencyBudgetMs, fallback: D.latencyBudgetMs, meanings: { 0: 'no budget' } }),
  model: textField({ fallback: D.model, reject: rejectModelId }),
  revision: textField({ fallback: D.revision, reject: rejectRevision }),
  dtype: enumField<Dtype>(['fp32', 'q8', 'q4'], D.dtype),
  localModelPath: textField({ fallback: D.localModelPath }),
  hubUrl: textField({ fallback: D.hubUrl, reject: rejectHubUrl, normalize: (url) => url.replace(/\/+$/, '') }),
  device: enumField<Device>(['cpu', 'gpu'], D.device),
  threads: numberField({ ...R.threads, fallback: D.threads, meanings: { 0: 'auto' } }),
};

/**
 * What each setting governs. `load`: which model loads and how, so a change reloads it. `load` and `machine`
 * (how hard the machine works) are only read from the user's own settings in an untrusted workspace, and
 * package.json's restrictedConfigurations lists the same keys (unit tests keep them equal).
 */
export const SETTING_SCOPES: { readonly [K in keyof Settings]: 'load' | 'machine' | 'output' } = Object.freeze({
  enable: 'output',
  languages: 'output',
  topK: 'output',
  topP: 'output',
  temperature: 'output',
  minTokenProbability: 'output',
  maxNewTokens: 'output',
  generateMaxTokens: 'output',
  multiline: 'output',
  debounceMs: 'machine',
  latencyBudgetMs: 'output',
  model: 'load',
  revision: 'load',
  dtype: 'load',
  localModelPath: 'load',
  hubUrl: 'load',
  device: 'load',
  threads: 'load',
});

export const SETTING_KEYS = Object.freeze(Object.keys(FIELDS) as (keyof Settings)[]);

/**
 * Reads settings keyed by their short names (`topK`, not `localGpt2.topK`), as
 * `workspace.getConfiguration('localGpt2')` returns them. Missing keys take their default
 * silently; every value that had to be replaced, clamped or rounded adds one line to `problems`.
 * Never throws, whatever `raw` holds. `nameOf` names a value in those lines (the CLI names its flags).
 */
export function parseSettings(
  raw: Record<string, unknown>,
  nameOf: (key: keyof Settings) => string = (key) => `localGpt2.${key}`,
): { settings: Settings; problems: string[] } {
  const source: Record<string, unknown> = typeof raw === 'object' && raw !== null ? raw : {};
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of SETTING_KEYS) {
    const value = source[key];
    if (value === undefined) {
      values[key] = DEFAULT_SETTINGS[key];
      continue;
    }
    const checked = (FIELDS[key] as FieldCheck<unknown>)(value, nameOf(key));
    values[key] = checked.value;
    problems.push(...checked.problems);
  }
  return { settings: Object.freeze(values as unknown as Settings), problems };
}

/** Whether ghost text is wanted for this language; `settings.enable` is a separate switch. */
export function isLanguageEnabled(settings: Settings, languageId: string): boolean {
  const { languages } = settings;
  if (Object.hasOwn(languages, languageId)) return languages[languageId] === true;
  return Object.hasOwn(languages, '*') ? languages['*'] === true : true;
}
