// Command-line flags of `npm run bench` and the sizes of each scenario. --quick keeps every scenario
// but shrinks repetitions, for developing the bench itself; its numbers are not for reporting.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Dtype } from '../src/protocol';

export interface BenchOptions {
  quick: boolean;
  dtype: Dtype;
  threads: number;
  /** Model folder; undefined = the generated 124M-shaped model (built if missing). */
  model?: string;
  topK: number;
  cold: { promptTokens: number; maxNewTokens: number; repetitions: number };
  typing: { startTokens: number; requests: number; maxNewTokens: number; seed: number };
  decode: { contexts: number[]; tokens: number };
  bandwidth: { megabytes: number; repetitions: number };
}

const USAGE = 'usage: npm run bench -- [--quick] [--dtype q8|fp32|q4] [--threads 2] [--model <folder>]';

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'q8' },
      threads: { type: 'string', default: '2' },
      model: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const dtype = values.dtype as Dtype;
  if (!['q8', 'fp32', 'q4'].includes(dtype)) throw new Error(`--dtype ${dtype}: expected q8, fp32 or q4\n${USAGE}`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads ${values.threads}: expected a positive integer\n${USAGE}`);
  const quick = values.quick;
  return {
    quick,
    dtype,
    threads,
    model: values.model === undefined ? undefined : path.resolve(values.model),
    topK: 50,
    cold: { promptTokens: 512, maxNewTokens: 32, repetitions: quick ? 2 : 7 },
    typing: { startTokens: 400, requests: quick ? 8 : 30, maxNewTokens: 16, seed: 7 },
    decode: { contexts: [64, 512], tokens: quick ? 8 : 32 },
    bandwidth: { megabytes: 512, repetitions: quick ? 3 : 9 },
  };
}
