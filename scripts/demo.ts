// `npm run demo`: the engine end to end from a terminal. Uses real GPT-2 (Xenova/gpt2, q8) when the
// Hugging Face hub is reachable, otherwise the project's own tiny GPT-2 (random weights: the words are
// gibberish, the machinery is the real one). Then shows what makes ghost text fast: KV-cache reuse
// while "typing".
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelController } from '../src/client/modelController';
import type { GenerateOptions, LoadOptions } from '../src/protocol';
import { makeModel, presetOptions } from './make-model';

const HUB = process.env.HF_ENDPOINT ?? 'https://huggingface.co';
const PROMPT = 'The best thing about running a language model on your own machine is';

async function hubReachable(): Promise<boolean> {
  try {
    const response = await fetch(`${HUB}/Xenova/gpt2/resolve/main/config.json`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return response.ok;
  } catch {
    return false;
  }
}

async function chooseModel(): Promise<LoadOptions> {
  if (await hubReachable()) {
    console.log(`Using Xenova/gpt2 (q8) from ${HUB}; it is downloaded once into ~/.cache/local-gpt2.`);
    return { source: { kind: 'hub', modelId: 'Xenova/gpt2', revision: 'main', hubUrl: HUB, cacheDir: path.join(os.homedir(), '.cache', 'local-gpt2'), offline: false }, dtype: 'q8', device: 'cpu', threads: 0 };
  }
  console.log(`The Hugging Face hub (${HUB}) is out of reach: using the project's own tiny GPT-2.`);
  console.log('It has the real GPT-2 architecture and tokenizer but random weights, so the text is gibberish.\n');
  const { dir } = await makeModel(presetOptions('tiny'));
  return { source: { kind: 'folder', path: dir }, dtype: 'fp32', device: 'cpu', threads: 0 };
}

function request(prompt: string, maxNewTokens: number): GenerateOptions {
  return { prompt, maxNewTokens, sampling: { topK: 50, topP: 1, temperature: 1, seed: 7 }, stop: { atNewline: false, strings: [] }, stream: true, samples: 1 };
}

async function main(): Promise<void> {
  const controller = new ModelController(path.join(__dirname, '..', 'dist', 'worker.js'), {
    onState: (s) => s.kind === 'downloading' && process.stdout.write(`\r  downloading ${s.file} ${s.percent}%   `),
  });
  try {
    controller.configure(await chooseModel());
    const info = await controller.ensureLoaded();
    console.log(`Model: ${info.name} — ${info.nLayer} layers, ${info.nEmbd} dims, ${info.contextLength} positions, ${info.dtype} on ${info.device}\n`);

    process.stdout.write(`> ${PROMPT}`);
    const first = await controller.generate(request(PROMPT, 40), undefined, (_s, text) => process.stdout.write(text));
    const perToken = first.timings.decodeMs / Math.max(1, first.newTokens - 1);
    console.log(`\n\n  ${first.promptTokens} prompt tokens, ${first.newTokens} new, first token after ${first.timings.prefillMs.toFixed(0)} ms, ${perToken.toFixed(1)} ms/token\n`);

    console.log('Typing on, one keystroke at a time (each request reuses the KV cache of the text it saw):');
    let typed = PROMPT;
    for (const key of [' r', 'u', 'n', 'n', 'i', 'n', 'g']) {
      typed += key;
      const result = await controller.generate({ ...request(typed, 8), stream: false });
      console.log(`  …${JSON.stringify(typed.slice(-16))} -> ${JSON.stringify(result.texts[0])}  (${result.reusedTokens}/${result.promptTokens} prompt tokens reused, ${result.timings.totalMs.toFixed(0)} ms)`);
    }
  } finally {
    await controller.dispose();
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
