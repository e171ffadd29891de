// Command-line options of a bench scenario run on its own (`npx tsx bench/scenarios/<name>.ts --model DIR ...`).
import * as path from 'node:path';
import type { Dtype } from '../../src/protocol';

export interface StandaloneRun {
  folder: string;
  dtype: Dtype;
  threads: number;
  repetitions: number;
  flag(name: string): string | undefined;
  log(line: string): void;
}

export function standaloneRun(args = process.argv.slice(2)): StandaloneRun {
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const run: StandaloneRun = {
    folder: path.resolve(flag('--model') ?? 'models/gpt2-124m-random'),
    dtype: (flag('--dtype') ?? 'q8') as Dtype,
    threads: Number(flag('--threads') ?? 2),
    repetitions: Number(flag('--repetitions') ?? 5),
    flag,
    log: (line) => console.log(line),
  };
  run.log(`${run.folder} ${run.dtype}, ${run.threads} threads`);
  return run;
}

/** Runs the scenario; a failure prints and sets the exit code. */
export function runStandalone(scenario: Promise<unknown>): void {
  scenario.catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
