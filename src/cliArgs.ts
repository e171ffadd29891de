// The CLI's flags, turned into the same raw settings the editor reads (`--top-k 40` -> { topK: 40 }) and parsed by
// the same parseSettings, so a flag is clamped like its setting and warned about in the same words. Pure: no I/O.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSettings, type Settings } from './core/settings';

export class UsageError extends Error {}

/** Flags that are settings, and which setting each one is. */
const SETTING_FLAGS = {
  model: 'model',
  'model-dir': 'localModelPath',
  revision: 'revision',
  dtype: 'dtype',
  device: 'device',
  threads: 'threads',
  'max-tokens': 'generateMaxTokens',
  'top-k': 'topK',
  'top-p': 'topP',
  temperature: 'temperature',
  'hub-url': 'hubUrl',
} as const satisfies Record<string, keyof Settings>;

type SettingFlag = keyof typeof SETTING_FLAGS;
const NUMERIC: readonly SettingFlag[] = ['threads', 'max-tokens', 'top-k', 'top-p', 'temperature'];

/** A terminal continuation is shorter by default than the editor's Generate command (generateMaxTokens). */
export const CLI_MAX_TOKENS = 64;

export interface CliArgs {
  settings: Settings;
  /** Values that were clamped or rounded, in parseSettings' words with the flag's name. */
  warnings: string[];
  prompt: string | undefined; // undefined: read stdin
  seed?: number;
  cacheDir?: string;
  offline: boolean;
  stats: boolean;
  help: boolean;
  version: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  const { values, positionals } = parseFlags(argv);
  const raw: Record<string, unknown> = { generateMaxTokens: CLI_MAX_TOKENS };
  for (const flag of Object.keys(SETTING_FLAGS) as SettingFlag[]) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    // A folder is relative to where the command runs; the worker thread resolves nothing against the cwd.
    raw[SETTING_FLAGS[flag]] = NUMERIC.includes(flag) ? number(flag, value) : flag === 'model-dir' ? path.resolve(value) : value;
  }
  const flagOf = (key: keyof Settings) => `--${(Object.keys(SETTING_FLAGS) as SettingFlag[]).find((flag) => SETTING_FLAGS[flag] === key) ?? key}`;
  const { settings, problems } = parseSettings(raw, flagOf);
  // A wrong number is clamped with a warning, as in the editor; a wrong name (model, dtype, URL) would quietly
  // load something else than asked for, so the CLI refuses it.
  const refused = problems.filter((problem) => !NUMERIC.some((flag) => problem.startsWith(`--${flag}:`)));
  if (refused.length > 0) throw new UsageError(refused.map((problem) => problem.replace(/; using .*$/, '')).join('\n'));
  return {
    settings,
    warnings: problems,
    prompt: positionals.length > 0 ? positionals.join(' ') : undefined,
    seed: values.seed === undefined ? undefined : integer('--seed', values.seed),
    cacheDir: values['cache-dir'],
    offline: values.offline === true,
    stats: values.stats === true,
    help: values.help === true,
    version: values.version === true,
  };
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: joinNegativeNumbers(argv),
      allowPositionals: true,
      options: {
        ...Object.fromEntries(Object.keys(SETTING_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
        seed: { type: 'string' },
        'cache-dir': { type: 'string' },
        offline: { type: 'boolean' },
        stats: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }) as { values: Record<string, string | boolean | undefined> & { seed?: string; 'cache-dir'?: string }; positionals: string[] };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** parseArgs takes `-3` for a flag; `--temperature -3` becomes `--temperature=-3` so the value reaches the clamp. */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (/^--[a-z-]+$/.test(argv[i]) && next !== undefined && /^-\d|^-\.\d|^-Infinity$/.test(next)) out.push(`${argv[i]}=${next}`), i++;
    else out.push(argv[i]);
  }
  return out;
}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n)) throw new UsageError(`--${flag} expects a number, got "${value}"`);
  return n;
}

function integer(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new UsageError(`${flag} expects an integer, got "${value}"`);
  return n;
}
