// `local-gpt2 "some text"`: the extension's engine from a terminal. Same worker thread, same protocol.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelController } from './client/modelController';
import { DEFAULT_SETTINGS as D } from './core/settings';
import type { Device, Dtype, GenerateOptions, LoadOptions } from './protocol';

const USAGE = `usage: local-gpt2 [options] "prompt text"   (or pipe the prompt on stdin)

  --model ID          Hugging Face model id (default ${D.model})
  --model-dir DIR     a local model folder instead (config.json, tokenizer.json, onnx/...)
  --revision REV      model revision (default ${D.revision})
  --dtype fp32|q8|q4  weights to use (default ${D.dtype})
  --device cpu|gpu    gpu falls back to cpu with a message (default ${D.device})
  --threads N         CPU threads, 0 = auto (default ${D.threads})
  --max-tokens N      new tokens to generate (default 64)
  --top-k K           sample from the K most likely tokens, 0 = all (default ${D.topK})
  --top-p P           nucleus sampling, 1 = off (default ${D.topP})
  --temperature T     0 = greedy (default ${D.temperature})
  --seed N            fixed seed for a reproducible sample
  --hub-url URL       hub or mirror (default ${D.hubUrl})
  --cache-dir DIR     download cache (default ~/.cache/local-gpt2)
  --offline           never touch the network
  --stats             print token counts and timings to stderr`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: D.model },
      'model-dir': { type: 'string' },
      revision: { type: 'string', default: D.revision },
      dtype: { type: 'string', default: D.dtype },
      device: { type: 'string', default: D.device },
      threads: { type: 'string', default: String(D.threads) },
      'max-tokens': { type: 'string', default: '64' },
      'top-k': { type: 'string', default: String(D.topK) },
      'top-p': { type: 'string', default: String(D.topP) },
      temperature: { type: 'string', default: String(D.temperature) },
      seed: { type: 'string' },
      'hub-url': { type: 'string', default: D.hubUrl },
      'cache-dir': { type: 'string', default: path.join(os.homedir(), '.cache', 'local-gpt2') },
      offline: { type: 'boolean', default: false },
      stats: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return console.log(USAGE), 0;
  const prompt = positionals.length > 0 ? positionals.join(' ') : process.stdin.isTTY ? '' : await readStdin();
  const dtype = oneOf<Dtype>('--dtype', values.dtype, ['fp32', 'q8', 'q4']);
  const device = oneOf<Device>('--device', values.device, ['cpu', 'gpu']);
  const load: LoadOptions = {
    source: values['model-dir']
      ? { kind: 'folder', path: path.resolve(values['model-dir']) }
      : { kind: 'hub', modelId: values.model, revision: values.revision, hubUrl: values['hub-url'], cacheDir: values['cache-dir'], offline: values.offline },
    dtype,
    device,
    threads: integer('--threads', values.threads),
  };
  const request: GenerateOptions = {
    prompt,
    maxNewTokens: integer('--max-tokens', values['max-tokens']),
    sampling: {
      topK: integer('--top-k', values['top-k']),
      topP: number('--top-p', values['top-p']),
      temperature: number('--temperature', values.temperature),
      seed: values.seed === undefined ? undefined : integer('--seed', values.seed),
    },
    stop: { atNewline: false, strings: [] },
    stream: true,
    samples: 1,
  };
  const controller = new ModelController(path.join(__dirname, 'worker.js'), {
    onLog: (level, message) => (level !== 'trace' ? console.error(`[${level}] ${message}`) : undefined),
    onState: (state) => state.kind === 'downloading' && process.stderr.write(`\rdownloading ${state.file} ${state.percent}%   `),
  });
  controller.configure(load);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  try {
    const result = await controller.generate(request, abort.signal, (_sample, text) => process.stdout.write(text));
    process.stdout.write('\n');
    if (values.stats) {
      const { promptTokens, newTokens, timings } = result;
      console.error(`prompt ${promptTokens} tokens, ${newTokens} new, prefill ${timings.prefillMs.toFixed(0)} ms, decode ${(timings.decodeMs / Math.max(1, newTokens)).toFixed(1)} ms/token, stop: ${result.stopReasons.join(',')}`);
    }
    return 0;
  } finally {
    await controller.dispose();
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
  });
}

class UsageError extends Error {}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got "${value}"`);
  return n;
}

function integer(flag: string, value: string): number {
  const n = number(flag, value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} expects an integer, got "${value}"`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: T[]): T {
  if (!(allowed as string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`local-gpt2: ${error instanceof Error ? error.message : error}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
