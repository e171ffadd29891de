// Where a decode step of the engine spends its time: ONNX Runtime's own profiler on the engine's graph
// (the same lean graph and session options loadModel uses, plus profiling), at a fixed context.
// Not part of `npm run bench`; run it when the decode speed is far from the bandwidth floor:
//
//   npx tsx bench/profileDecode.ts [--dtype q8] [--context 512] [--steps 32] [--threads 2] [--rows 1]
//
// --rows 3 profiles a batched step of 3 samples (Alt+\'s alternatives) instead of one row.
//
// It prints, per decode step: wall time seen from JS, the time ORT spent in its run (the rest is the
// binding and the engine's JS), kernel time per op type, and the most expensive individual nodes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession } from 'onnxruntime-node';
import { makeModel, presetOptions } from '../scripts/make-model';
import type { Dtype } from '../src/protocol';
import { ENGINE_OUTPUTS, Gpt2Decoder, LEAN_OUTPUTS } from '../src/worker/engine/decoder';
import { makeLeanGraph } from '../src/worker/engine/leanGraph';
import { onnxFileName } from '../src/worker/onnxFiles';
import { loadTokenizer } from '../src/worker/engine/tokenizer';
import { BenchPrompts } from './prompts';
import { median } from './stats';

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number; // µs
  dur: number; // µs
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dtype: { type: 'string', default: 'q8' }, context: { type: 'string', default: '512' }, steps: { type: 'string', default: '32' }, threads: { type: 'string', default: '2' }, rows: { type: 'string', default: '1' } },
  });
  const dtype = values.dtype as Dtype;
  const context = Number(values.context);
  const steps = Number(values.steps);
  const rows = Number(values.rows);
  const { dir: folder } = await makeModel(presetOptions('124m'));
  const hf = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));

  const lean = makeLeanGraph(fs.readFileSync(path.join(folder, onnxFileName(dtype))));
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
  const session = await InferenceSession.create(lean.bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(values.threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: path.join(profileDir, 'decode'),
  });
  const decoder = new Gpt2Decoder(session, { nLayer: hf.n_layer, nHead: hf.n_head, headDim: hf.n_embd / hf.n_head, maxPositions: hf.n_positions, vocabSize: hf.vocab_size }, lean.lastLogitsOnly ? ENGINE_OUTPUTS : LEAN_OUTPUTS(false)); // the model folder's own graph
  const prompts = new BenchPrompts(await loadTokenizer(folder));
  await decoder.prefill(prompts.tokenIds(context));
  const wallMs: number[] = [];
  if (rows === 1) {
    await decoder.forward([198]); // grows the cache buffers to their chunk once, outside the measured steps
    for (let i = 0; i < steps; i++) {
      decoder.cache.truncate(context);
      const started = performance.now();
      await decoder.forward([198]);
      wallMs.push(performance.now() - started);
    }
  } else {
    // The batch grows by one position per step from `context` (it has no truncate): steps stay within one chunk.
    const batch = decoder.batch(rows, context + steps + 1);
    await batch.forward(Array(rows).fill(198));
    for (let i = 0; i < steps; i++) {
      const started = performance.now();
      await batch.forward(Array(rows).fill(198));
      wallMs.push(performance.now() - started);
    }
  }
  session.endProfiling();
  await session.release();

  const file = fs.readdirSync(profileDir).map((f) => path.join(profileDir, f))[0];
  const events: ProfileEvent[] = JSON.parse(fs.readFileSync(file, 'utf8'));
  const runs = events.filter((e) => e.name === 'model_run').slice(-steps);
  const inRuns = (e: ProfileEvent) => runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inRuns(e));

  const perStep = (us: number) => us / 1000 / steps;
  const byOp = new Map<string, number>();
  const byNode = new Map<string, { us: number; op: string; shapes: string }>();
  for (const k of kernels) {
    const op = k.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + k.dur);
    const node = k.name.replace(/_kernel_time$/, '');
    const shapes = (k.args?.input_type_shape ?? []).map((s) => JSON.stringify(Object.values(s)[0])).join(' x ');
    const entry = byNode.get(node) ?? { us: 0, op, shapes };
    entry.us += k.dur;
    byNode.set(node, entry);
  }
  const kernelMs = perStep(kernels.reduce((n, k) => n + k.dur, 0));
  const runMs = median(runs.map((r) => r.dur / 1000));
  console.log(`decode step of ${rows} row(s) at ${context} tokens of context, ${dtype}, ${values.threads} threads, ${steps} steps (profile: ${file})`);
  console.log(`  wall time from JS (median) ${median(wallMs).toFixed(2)} ms; ORT run (median) ${runMs.toFixed(2)} ms; kernels (mean) ${kernelMs.toFixed(2)} ms over ${kernels.length / steps} nodes`);
  console.log(`  outside ORT's run (binding, output copies, cache append): ~${(median(wallMs) - runMs).toFixed(2)} ms; inside the run but between kernels: ~${(runMs - kernelMs).toFixed(2)} ms`);
  console.log('  (the profiler itself adds per-node overhead: compare proportions, not totals, with the bench)');
  console.log('\n  kernel time by op type, ms per step:');
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`    ${op.padEnd(28)} ${perStep(us).toFixed(3).padStart(7)}  ${((100 * perStep(us)) / kernelMs).toFixed(1).padStart(5)}%`);
  console.log('\n  the 15 most expensive nodes, ms per step:');
  for (const [node, e] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, 15)) console.log(`    ${perStep(e.us).toFixed(3).padStart(7)}  ${e.op.padEnd(24)} ${node.slice(0, 40).padEnd(40)} ${e.shapes}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
