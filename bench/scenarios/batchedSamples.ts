// (e) Batched samples: Alt+\ asks for 3 alternatives. Decoded as one batch, a step reads the weights once for all
// three rows, so 3 samples should cost little more than 1 (target <= 1.3x); decoded one after another they cost
// 3x. The prompt is already in the cache (the same prompt every request), so the times are the decode's.
// Requests alternate between the three ways, so that load on the machine hits each alike; ratios are of medians.
// Standalone: `npx tsx bench/scenarios/batchedSamples.ts [--model <folder>] [--threads 2] [--dtype q8] [--contexts 64,512] [--repetitions 5]`.
import type { Dtype, GenerateOptions } from '../../src/protocol';
import type { TokenDecoder } from '../../src/worker/engine/decoder';
import { generate } from '../../src/worker/engine/generate';
import { loadModel } from '../../src/worker/engine/loadModel';
import type { TextCodec } from '../../src/worker/engine/tokenizer';
import { BenchPrompts } from '../prompts';
import { summarize, type Summary } from '../stats';
import { runStandalone, standaloneRun } from './standalone';

export interface BatchedSamplesResult {
  promptTokens: number;
  newTokens: number;
  samples: number;
  oneMs: Summary; // 1 sample
  batchedMs: Summary; // `samples` samples, one batch
  sequentialMs: Summary; // `samples` samples, one after another (a decoder without batch())
  batchedRatio: number; // batched / one, of medians
  sequentialRatio: number;
}

export async function runBatchedSamples(
  decoder: TokenDecoder,
  codec: TextCodec,
  prompt: string,
  options: { newTokens: number; samples: number; repetitions: number; topK: number; log: (line: string) => void },
): Promise<BatchedSamplesResult> {
  const sequential: TokenDecoder = { shape: decoder.shape, cache: decoder.cache, prefill: decoder.prefill.bind(decoder), forward: decoder.forward.bind(decoder) };
  const request = (samples: number, seed: number): GenerateOptions => ({
    prompt,
    maxNewTokens: options.newTokens,
    sampling: { topK: options.topK, topP: 1, temperature: 1, seed },
    stop: { atNewline: false, strings: [] },
    stream: false,
    samples,
  });
  const timed = async (d: TokenDecoder, samples: number, seed: number) => {
    const started = performance.now();
    const result = await generate(d, codec, request(samples, seed), { isCancelled: () => false, onText: () => {} });
    if (result.newTokens < samples * options.newTokens) options.log(`  note: ${result.newTokens} of ${samples * options.newTokens} tokens (<|endoftext|> drawn)`);
    return { ms: performance.now() - started, promptTokens: result.promptTokens };
  };
  const runs = { one: [] as number[], batched: [] as number[], sequential: [] as number[] };
  let promptTokens = 0;
  for (let i = -1; i < options.repetitions; i++) {
    // i = -1 is the warm-up: the prompt's prefill, and the batch buffers' first allocation
    const one = await timed(decoder, 1, 1000 + i);
    const batched = await timed(decoder, options.samples, 1000 + i);
    const seq = await timed(sequential, options.samples, 1000 + i);
    promptTokens = one.promptTokens;
    if (i < 0) continue;
    runs.one.push(one.ms);
    runs.batched.push(batched.ms);
    runs.sequential.push(seq.ms);
  }
  const [one, batched, seq] = [summarize(runs.one), summarize(runs.batched), summarize(runs.sequential)];
  const result: BatchedSamplesResult = {
    promptTokens,
    newTokens: options.newTokens,
    samples: options.samples,
    oneMs: one,
    batchedMs: batched,
    sequentialMs: seq,
    batchedRatio: batched.median / one.median,
    sequentialRatio: seq.median / one.median,
  };
  options.log(
    `  ${options.samples} samples x ${options.newTokens} tokens after ${promptTokens} prompt tokens: 1 sample ${one.median.toFixed(0)} ms, ` +
      `batched ${batched.median.toFixed(0)} ms (${result.batchedRatio.toFixed(2)}x), one after another ${seq.median.toFixed(0)} ms (${result.sequentialRatio.toFixed(2)}x); ` +
      `fastest runs: ${one.min.toFixed(0)} / ${batched.min.toFixed(0)} (${(batched.min / one.min).toFixed(2)}x) / ${seq.min.toFixed(0)} ms (${(seq.min / one.min).toFixed(2)}x)`,
  );
  return result;
}

/** The scenario on its own load of the model (the bench's EngineSystem keeps its decoder to itself): contexts 64 and 512. */
export async function runBatchedSamplesScenario(
  folder: string,
  config: { dtype: Dtype; threads: number; topK: number; repetitions: number; contexts?: number[] },
  log: (line: string) => void,
): Promise<BatchedSamplesResult[]> {
  const model = await loadModel({ folder, name: folder, dtype: config.dtype, device: 'cpu', threads: config.threads });
  try {
    const prompts = new BenchPrompts(model.codec);
    const results: BatchedSamplesResult[] = [];
    for (const context of config.contexts ?? [64, 512]) {
      const prompt = prompts.textOfTokens(context);
      results.push(await runBatchedSamples(model.decoder, model.codec, prompt, { newTokens: 32, samples: 3, repetitions: config.repetitions, topK: config.topK, log }));
    }
    return results;
  } finally {
    await model.dispose();
  }
}

if (require.main === module) {
  const { folder, dtype, threads, repetitions, flag, log } = standaloneRun();
  const contexts = (flag('--contexts') ?? '64,512').split(',').map(Number);
  runStandalone(runBatchedSamplesScenario(folder, { dtype, threads, topK: 50, repetitions, contexts }, log));
}
