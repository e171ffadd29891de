// Prompt-lookup speculative decoding: one sample of 64 tokens with speculation on and off, on a buffer that
// repeats itself (the editor buffer's code followed by its own first lines again, greedy) and on text that does not
// (sampled, top-k 50). The prompt is already in the cache (the same prompt every request), so the times are the
// decode's; requests alternate between on and off, so that load on the machine hits both alike; ratios are of
// medians of tokens/s. Targets: >= 1.5x on the repetitive buffer, no worse than 1/1.05 on text without repeats.
// The acceptance is reported too: with random weights, what repeats is what the model itself repeats.
// Standalone: `npx tsx bench/scenarios/speculation.ts [--model <folder>] [--threads 2] [--dtype q8] [--repetitions 5]`.
import type { Dtype, GenerateOptions, GenerationResult } from '../../src/protocol';
import type { TokenDecoder } from '../../src/worker/engine/decoder';
import { generate } from '../../src/worker/engine/generate';
import { loadModel } from '../../src/worker/engine/loadModel';
import type { TextCodec } from '../../src/worker/engine/tokenizer';
import { BenchPrompts } from '../prompts';
import { summarize, type Summary } from '../stats';
import { runStandalone, standaloneRun } from './standalone';

export interface SpeculationResult {
  case: string;
  promptTokens: number;
  newTokens: number;
  plainTokensPerS: Summary;
  speculativeTokensPerS: Summary;
  ratio: number; // speculative / plain tokens per second, of medians
  acceptedPerDraft: number;
  draftsAccepted: string; // accepted of drafted tokens, over the measured runs
  sameText: boolean; // every speculative text equals the plain one of the same seed
}

export async function runSpeculation(
  decoder: TokenDecoder,
  codec: TextCodec,
  name: string,
  prompt: string,
  options: { newTokens: number; topK: number; repetitions: number; log: (line: string) => void },
): Promise<SpeculationResult> {
  const request = (speculate: boolean, seed: number): GenerateOptions => ({
    prompt,
    maxNewTokens: options.newTokens,
    sampling: { topK: options.topK, topP: 1, temperature: 1, seed },
    stop: { atNewline: false, strings: [] },
    stream: false,
    samples: 1,
    speculate,
  });
  const timed = async (speculate: boolean, seed: number) => {
    const result: GenerationResult = await generate(decoder, codec, request(speculate, seed), { isCancelled: () => false, onText: () => {} });
    return { result, tokensPerS: (result.newTokens * 1000) / result.timings.decodeMs };
  };
  const runs = { plain: [] as number[], fast: [] as number[] };
  let [drafts, drafted, accepted, promptTokens, newTokens] = [0, 0, 0, 0, 0];
  let sameText = true;
  for (let i = -1; i < options.repetitions; i++) {
    const seed = 2000 + i; // i = -1 is the warm-up: the prompt's prefill
    const first = i % 2 === 0; // alternate which goes first
    const a = await timed(first, seed);
    const b = await timed(!first, seed);
    const [plain, fast] = first ? [b, a] : [a, b];
    promptTokens = plain.result.promptTokens;
    newTokens = plain.result.newTokens;
    if (i < 0) continue;
    sameText &&= plain.result.texts[0] === fast.result.texts[0];
    runs.plain.push(plain.tokensPerS);
    runs.fast.push(fast.tokensPerS);
    drafts += fast.result.speculation?.drafts ?? 0;
    drafted += fast.result.speculation?.drafted ?? 0;
    accepted += fast.result.speculation?.accepted ?? 0;
  }
  const [plain, fast] = [summarize(runs.plain), summarize(runs.fast)];
  const result: SpeculationResult = {
    case: name,
    promptTokens,
    newTokens,
    plainTokensPerS: plain,
    speculativeTokensPerS: fast,
    ratio: fast.median / plain.median,
    acceptedPerDraft: drafts ? accepted / drafts : 0,
    draftsAccepted: `${accepted} of ${drafted} in ${drafts} drafts`,
    sameText,
  };
  options.log(
    `  ${name}: ${newTokens} tokens after ${promptTokens} prompt tokens: plain ${plain.median.toFixed(1)} tok/s, speculative ${fast.median.toFixed(1)} tok/s ` +
      `(${result.ratio.toFixed(2)}x; fastest runs ${(fast.max / plain.max).toFixed(2)}x); drafted tokens accepted ${result.draftsAccepted}; ` +
      `same text as plain: ${sameText}`,
  );
  return result;
}

/** Text with repeats: code, then its own first lines again, so the continuation can be copied from the prompt. */
export function repetitivePrompt(prompts: BenchPrompts): string {
  const code = prompts.textOfTokens(300);
  const lines = code.split('\n');
  return `${code}\n${lines.slice(0, 6).join('\n')}`;
}

/** English prose without repeated passages. */
export const PLAIN_PROMPT =
  'A lighthouse keeper on a northern island kept a journal for forty years. In it she noted the weather, ' +
  'passing ships, migrating birds and the occasional visitor who rowed across from the mainland with letters, ' +
  'flour and news. Historians later found the pages invaluable: they record storms that no official archive ' +
  'mentions, and describe how fishing villages adapted when steamships replaced sail.';

export async function runSpeculationScenario(
  folder: string,
  config: { dtype: Dtype; threads: number; repetitions: number },
  log: (line: string) => void,
): Promise<SpeculationResult[]> {
  const model = await loadModel({ folder, name: folder, dtype: config.dtype, device: 'cpu', threads: config.threads });
  try {
    const prompts = new BenchPrompts(model.codec);
    const common = { newTokens: 64, repetitions: config.repetitions, log };
    return [
      await runSpeculation(model.decoder, model.codec, 'repetitive buffer, greedy', repetitivePrompt(prompts), { ...common, topK: 1 }),
      await runSpeculation(model.decoder, model.codec, 'text without repeats, top-k 50', PLAIN_PROMPT, { ...common, topK: 50 }),
      await runSpeculation(model.decoder, model.codec, 'prose, greedy (the random model repeats itself)', PLAIN_PROMPT, { ...common, topK: 1 }),
    ];
  } finally {
    await model.dispose();
  }
}

if (require.main === module) {
  const { folder, dtype, threads, repetitions, log } = standaloneRun();
  runStandalone(runSpeculationScenario(folder, { dtype, threads, repetitions }, log));
}
