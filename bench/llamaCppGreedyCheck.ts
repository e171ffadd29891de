// `npx tsx bench/llamaCppGreedyCheck.ts [--model <folder>] [--tokens 16]`: the GGUF the bench writes for llama.cpp
// holds the engine's weights in the right layout. In fp32 both must tokenize a few prompts the same and generate the
// same greedy tokens: the engine through loadModel + an argmax loop (as test/unit/hfExports.test.ts), llama.cpp
// through node-llama-cpp's context sequence with temperature 0. Steps whose top two engine logits are closer than
// 1e-3 may flip on rounding alone (llama.cpp's GELU goes through an fp16 table); the check says so if one does.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { makeModel, presetOptions } from '../scripts/make-model';
import { loadModel, type LoadedModel } from '../src/worker/engine/loadModel';
import { gpt2Gguf } from './gguf/gpt2Gguf';
import { LlamaCppSystem } from './systems/llamaCppSystem';

const PROMPTS = [
  'The quick brown fox',
  'function add(a, b) {\n  return',
  'import * as fs from "node:fs";\n\nexport async function main() {',
  'Once upon a time, in a land far away,',
];

async function engineGreedy(model: LoadedModel, ids: number[], steps: number): Promise<{ ids: number[]; margins: number[] }> {
  model.decoder.reset();
  let logits = (await model.decoder.prefill(ids))!.logits;
  const out: number[] = [], margins: number[] = [];
  for (let s = 0; s < steps; s++) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    let second = -Infinity;
    for (let i = 0; i < logits.length; i++) if (i !== best && logits[i] > second) second = logits[i];
    out.push(best);
    margins.push(logits[best] - second);
    if (s + 1 < steps) logits = await model.decoder.forward([best]);
  }
  return { ids: out, margins };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, tokens: { type: 'string', default: '16' } } });
  const folder = values.model ? path.resolve(values.model) : (await makeModel(presetOptions('124m'))).dir;
  const steps = Number(values.tokens);
  const gguf = gpt2Gguf(folder, 'F32', console.log);
  console.log(`engine: ${folder} fp32; llama.cpp: ${gguf.file}${gguf.reused ? ' (from an earlier run)' : ''}`);
  const engine = await loadModel({ folder, name: folder, dtype: 'fp32', device: 'cpu', threads: 2 });
  const llama = await LlamaCppSystem.load({ folder, dtype: 'fp32', threads: 2, topK: 50 }, gguf.file);
  let failures = 0;
  try {
    for (const prompt of PROMPTS) {
      const ids = engine.codec.encode(prompt);
      const llamaIds = llama.tokenize(prompt);
      const sameTokens = JSON.stringify(ids) === JSON.stringify(llamaIds);
      const e = await engineGreedy(engine, ids, steps);
      const l = await llama.greedy(ids, steps);
      const firstDiff = e.ids.findIndex((id, i) => id !== l[i]);
      const ok = sameTokens && firstDiff < 0;
      if (!ok) failures++;
      console.log(`${ok ? 'SAME' : 'DIFF'} ${JSON.stringify(prompt)}: ${ids.length} prompt tokens (llama.cpp tokenizer ${sameTokens ? 'agrees' : `DIFFERS: ${JSON.stringify(llamaIds)}`})`);
      console.log(`  engine    ${e.ids.join(' ')}`);
      console.log(`  llama.cpp ${l.join(' ')}`);
      console.log(`  smallest top-2 logit margin of the engine: ${Math.min(...e.margins).toFixed(4)}`);
      if (firstDiff >= 0) console.log(`  first difference at step ${firstDiff}, where the engine's top-2 margin is ${e.margins[firstDiff].toFixed(4)}`);
    }
  } finally {
    await llama.dispose();
    await engine.dispose();
  }
  console.log(failures === 0 ? `all ${PROMPTS.length} prompts: same tokens, same ${steps} greedy ids` : `${failures} of ${PROMPTS.length} prompts differ`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
