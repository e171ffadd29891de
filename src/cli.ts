// `local-gpt2 "some text"`: the extension's engine from a terminal. Same worker thread, same protocol, and the same
// settings parser and request builder as the editor (cliArgs.ts, core/requests.ts).
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_MAX_TOKENS, parseCliArgs, UsageError } from './cliArgs';
import { WorkerError } from './client/workerClient';
import { ModelController } from './client/modelController';
import { continuationRequest } from './core/requests';
import { DEFAULT_SETTINGS as D } from './core/settings';
import { toLoadOptions } from './core/settingsToProtocol';
import type { ErrorCode } from './protocol';

/** One exit code per kind of failure, so scripts can tell a typo from a missing model or a dead network. */
export const EXIT = { ok: 0, other: 1, usage: 2, modelFiles: 3, download: 4, runtime: 5 } as const;

const EXIT_FOR: Record<ErrorCode, number> = {
  'bad-request': EXIT.usage,
  'model-files': EXIT.modelFiles,
  download: EXIT.download,
  offline: EXIT.download,
  runtime: EXIT.runtime,
  crashed: EXIT.runtime,
  unresponsive: EXIT.runtime,
};

const DEFAULT_CACHE_DIR = path.join(os.homedir(), '.cache', 'local-gpt2');

const USAGE = `usage: local-gpt2 [options] "prompt text"   (or pipe the prompt on stdin)

  --model ID          Hugging Face model id (default ${D.model})
  --model-dir DIR     a local model folder instead (config.json, tokenizer.json, onnx/...)
  --revision REV      model revision (default ${D.revision})
  --dtype fp32|q8|q4  weights to use (default ${D.dtype})
  --device cpu|gpu    gpu falls back to cpu with a message (default ${D.device})
  --threads N         CPU threads, 0 = auto (default ${D.threads})
  --max-tokens N      new tokens to generate (default ${CLI_MAX_TOKENS})
  --top-k K           sample from the K most likely tokens, 0 = all (default ${D.topK})
  --top-p P           nucleus sampling, 1 = off (default ${D.topP})
  --temperature T     0 = greedy (default ${D.temperature})
  --seed N            fixed seed for a reproducible sample
  --hub-url URL       hub or mirror (default ${D.hubUrl})
  --cache-dir DIR     download cache (default ~/.cache/local-gpt2)
  --offline           never touch the network
  --stats             print token counts and timings to stderr
  -v, --version       print the version
  -h, --help          print this

Numbers out of range are clamped like the editor's settings, with a warning.
Exit codes: 0 done, ${EXIT.usage} usage error, ${EXIT.modelFiles} model files missing or broken,
${EXIT.download} download failed or offline without the model, ${EXIT.runtime} runtime error, ${EXIT.other} anything else.`;

async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv);
  if (args.help) return console.log(USAGE), EXIT.ok;
  if (args.version) return console.log(version()), EXIT.ok;
  for (const warning of args.warnings) console.error(`local-gpt2: warning: ${warning}`);
  const prompt = args.prompt ?? (process.stdin.isTTY ? '' : await readStdin());
  const load = toLoadOptions(args.settings, { cacheDir: args.cacheDir ?? DEFAULT_CACHE_DIR, offline: args.offline });
  const request = continuationRequest(args.settings, { prompt, seed: args.seed });
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
    if (args.stats) {
      const { promptTokens, newTokens, timings } = result;
      console.error(`prompt ${promptTokens} tokens, ${newTokens} new, prefill ${timings.prefillMs.toFixed(0)} ms, decode ${(timings.decodeMs / Math.max(1, newTokens)).toFixed(1)} ms/token, stop: ${result.stopReasons.join(',')}`);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof WorkerError && (error.code === 'download' || error.code === 'offline') && load.source.kind === 'hub') {
      throw new WorkerError(error.code, `${error.message}\n${offlineHint(load.source.hubUrl, error.code)}`);
    }
    throw error;
  } finally {
    await controller.dispose();
  }
}

/** The download error alone ("the next attempt resumes") does not say what to do without a network. */
function offlineHint(hubUrl: string, code: ErrorCode): string {
  const why = code === 'offline' ? 'the model is not in the download cache' : `${hubUrl} could not be reached`;
  return `hint: ${why}; without a network, use a local model folder, e.g. --model-dir models/tiny (the small random model npm run demo writes)`;
}

function version(): string {
  // dist/cli.js and src/cli.ts both sit one folder below package.json.
  return (require(path.join(__dirname, '..', 'package.json')) as { version: string }).version;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`local-gpt2: ${error instanceof Error ? error.message : error}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exit(error instanceof UsageError ? EXIT.usage : error instanceof WorkerError ? EXIT_FOR[error.code] : EXIT.other);
  },
);
