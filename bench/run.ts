// `npm run bench [-- --quick] [--dtype q8|fp32|q4]`: the project's engine against transformers.js v4
// generate() (and llama.cpp) on the same model file, dtype, prompts, sampling (top-k 50) and thread count, in one
// process and one run so that every ratio compares like with like; then (d) the engine on the same weights in a hub
// download's layout against its own graph, (e) batched samples, (f) speculation, and in child processes
// (h) memory and (g) keystroke-to-ghost-text in code-server. Every target is marked MET or MISSED.
// See bench/README.md for how to read the output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeModel, presetOptions } from '../scripts/make-model';
import { configFromHfJson } from '../src/worker/gpt2/config';
import { onnxFileName } from '../src/worker/onnxFiles';
import { loadTokenizer } from '../src/worker/engine/tokenizer';
import { parseBenchOptions } from './benchOptions';
import { BenchPrompts } from './prompts';
import { measureDecodeBudget, measureLinearsPerRows } from './decodeBudget';
import { measureReadBandwidth } from './readBandwidth';
import { renderChartSvg } from './report/chart';
import { updateReadme } from './report/readme';
import { renderPng } from './report/renderPng';
import { formatDuration, formatTable } from './report/table';
import { saveResults, type BenchResults } from './results';
import { runBatchedSamplesScenario } from './scenarios/batchedSamples';
import { runColdRequest } from './scenarios/coldRequest';
import { runDecodeSpeed } from './scenarios/decodeSpeed';
import { runHubLayout, type HubLayoutResult } from './scenarios/hubLayout';
import { runTypingSession } from './scenarios/typingSession';
import type { CompletionSystem, SystemConfig } from './systems/completionSystem';
import { EngineSystem } from './systems/engineSystem';
import { SettledSystem } from './systems/settledSystem';
import { loadLlamaCppPeer, type LlamaCppInfo } from './llamaCppPeer';
import { TransformersSystem } from './systems/transformersSystem';
import { hubLayoutModel } from './hubLayoutModel';
import { bandwidthFloor, batchedSamplesTargets, evaluateTargets, HUB_LAYOUT, memoryTargets, speculationTargets } from './targets';
import { measureGhostLatency } from './ghostLatency';
import { describeMemoryUse, measureMemoryUse } from './memoryUse';
import { runSpeculationScenario } from './scenarios/speculation';
import { weightBytesPerToken } from './weightBytesPerToken';

const REPO_ROOT = path.resolve(__dirname, '..');
const log = (line: string) => process.stderr.write(line + '\n'); // progress on stderr, the table on stdout

function packageVersion(name: string): string {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const started = performance.now();
  const loadAverageStart = os.loadavg();
  const folder = options.model ?? (await makeModel(presetOptions('124m'))).dir; // no-op when already built
  const hf = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  const model = { folder, file: path.relative(REPO_ROOT, path.join(folder, onnxFileName(options.dtype))), nLayer: hf.n_layer, nEmbd: hf.n_embd, nHead: hf.n_head };
  log(`model ${model.file}, ${options.threads} threads${options.quick ? ', quick run' : ''}`);

  const config: SystemConfig = { folder, dtype: options.dtype, threads: options.threads, topK: options.topK };
  const engine = await EngineSystem.load(config);
  const loaded: CompletionSystem[] = [engine, await TransformersSystem.load(config)];
  // llama.cpp on a GGUF of the same weights, a third system in (a)-(c). Its 2 threads wait on each other at every
  // op, so a core still taken by the other systems' spinning ONNX Runtime pools slows it far more than them: with
  // it, every system waits 25 ms (untimed) before each request, until the previous one's pool has gone idle.
  const peer = await loadLlamaCppPeer(config, (f) => path.relative(REPO_ROOT, f), log);
  let llamaCpp: LlamaCppInfo | undefined;
  if ('skipped' in peer) log(`llama.cpp skipped: ${peer.skipped}`);
  else {
    llamaCpp = peer.info;
    loaded.push(peer.system);
    log(`llama.cpp: ${llamaCpp.file} (${llamaCpp.type}), ${llamaCpp.description}`);
  }
  const systems: CompletionSystem[] = llamaCpp ? loaded.map((s) => new SettledSystem(s)) : loaded;
  try {
    const prompts = new BenchPrompts(await loadTokenizer(folder));
    const coldPrompt = prompts.textOfTokens(options.cold.promptTokens);

    // One untimed cold request each: first-run costs (thread pool start, arena growth, lazy kernel setup)
    // belong to loading, not to the requests measured below.
    log('warm-up');
    for (const system of systems) await system.completeCold(coldPrompt, 4, 1);

    log('(a) cold request');
    const coldRequest = await runColdRequest(systems, coldPrompt, { ...options.cold, log });
    log('(b) typing session');
    const session = prompts.typingSession(options.typing.startTokens, options.typing.requests, options.typing.seed);
    const typingSession = await runTypingSession(systems, session, { maxNewTokens: options.typing.maxNewTokens, log });
    log('(c) read bandwidth, then decode speed');
    const bandwidth = await measureReadBandwidth({ ...options.bandwidth, threads: options.threads });
    log(`  read bandwidth ${bandwidth.gbPerSecond.max.toFixed(1)} GB/s (fastest run), median ${bandwidth.gbPerSecond.median.toFixed(1)}`);
    const decodeSpeed = await runDecodeSpeed(systems, (n) => prompts.tokenIds(n), { ...options.decode, log });
    const weightBytes = await weightBytesPerToken(path.join(REPO_ROOT, model.file));
    const floor = bandwidthFloor(bandwidth, weightBytes, model, options.decode.contexts);
    const budgetContext = Math.max(...options.decode.contexts);
    log(`  decode budget @${budgetContext}: the step's linears and attention alone`);
    const budget = await measureDecodeBudget(configFromHfJson(hf), { dtype: options.dtype, threads: options.threads, context: budgetContext, repetitions: options.decode.tokens });

    log('(d) hub layout: the same weights as an Optimum merged export, loaded like a download');
    let hubLayout: HubLayoutResult | undefined;
    const hubModel = await hubLayoutModel(folder, options.dtype, log);
    if ('skipped' in hubModel) log(`  skipped: ${hubModel.skipped}`);
    else {
      const hub = await EngineSystem.load({ ...config, folder: hubModel.folder }, HUB_LAYOUT);
      log(`  ${path.relative(REPO_ROOT, hubModel.file)}${hubModel.reused ? ' (from an earlier run)' : ''}: ${hub.graph}, loaded in ${formatDuration(hub.loadMs / 1000)}`);
      try {
        hubLayout = await runHubLayout(engine, hub, session, {
          file: path.relative(REPO_ROOT, hubModel.file),
          producerName: hubModel.producerName,
          written: hubModel.written,
          maxNewTokens: options.typing.maxNewTokens,
          promptIds: (n) => prompts.tokenIds(n),
          context: budgetContext,
          tokens: options.decode.tokens,
          log,
        });
      } finally {
        await hub.dispose();
      }
    }

    // (e)-(f) load the model again each (the bench's EngineSystem keeps its decoder to itself).
    log('(e) batched samples: 3 alternatives of 32 tokens as one batch, against 1 sample and against 3 one after another');
    const batchedResults = await runBatchedSamplesScenario(folder, { dtype: options.dtype, threads: options.threads, topK: options.topK, repetitions: options.quick ? 2 : 5 }, log);
    const linears = await measureLinearsPerRows(configFromHfJson(hf), { dtype: options.dtype, threads: options.threads, rows: 3, repetitions: options.decode.tokens });
    log(`  the linears alone, 3 rows / 1 row: ${linears.rowsMs.median.toFixed(1)} / ${linears.oneRowMs.median.toFixed(1)} ms = ${linears.ratio.toFixed(2)}x`);
    const batchedSamples = { results: batchedResults, linears };
    log('(f) prompt-lookup speculation on and off, on a repetitive buffer and on text without repeats');
    const speculation = await runSpeculationScenario(folder, { dtype: options.dtype, threads: options.threads, repetitions: options.quick ? 2 : 5 }, log);

    // (g)-(h) run in child processes: the systems above go first, so that no idle session holds memory or a core.
    for (const system of loaded.splice(0)) await system.dispose();
    log('(h) memory: the engine alone in a child process, over its Node baseline');
    const memory = await measureMemoryUse(folder, { dtype: options.dtype, threads: options.threads }).catch((error: unknown) => ({ skipped: String(error instanceof Error ? error.message : error).split('\n')[0] }));
    log('skipped' in memory ? `  skipped: ${memory.skipped}` : `  ${describeMemoryUse(memory)}`);
    log('(g) keystroke to ghost text in code-server (test/e2e, ~1 min)');
    const ghostLatency = options.quick ? { skipped: 'not in a quick run' } : await measureGhostLatency(REPO_ROOT, log);
    if ('skipped' in ghostLatency) log(`  skipped: ${ghostLatency.skipped}`);

    const results: BenchResults = {
      date: new Date().toISOString(),
      durationS: (performance.now() - started) / 1000,
      options,
      machine: {
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
        cores: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        onnxruntime: packageVersion('onnxruntime-node'),
        transformers: packageVersion('@huggingface/transformers'),
        loadAverage: { start: loadAverageStart, end: os.loadavg() },
      },
      model,
      loadMs: Object.fromEntries(systems.map((s) => [s.name, s.loadMs])),
      coldRequest,
      typingSession,
      decodeSpeed,
      bandwidth,
      weightBytes,
      floor,
      budget,
      hubLayout,
      llamaCpp,
      batchedSamples,
      speculation,
      memory,
      ghostLatency,
      targets: [
        ...evaluateTargets(coldRequest, typingSession, decodeSpeed, floor, hubLayout),
        ...batchedSamplesTargets(batchedResults),
        ...speculationTargets(speculation),
        ...('skipped' in memory ? [] : memoryTargets(memory)),
      ],
    };

    // Only a full run is published to docs/; quick runs stay in bench/results/ (git-ignored).
    const publish = !options.quick;
    const saved = await saveResults(results, REPO_ROOT, publish);
    const chartFile = publish ? path.join(REPO_ROOT, 'docs', 'bench.png') : saved[0].replace(/\.json$/, '.png');
    const chart = await renderPng(renderChartSvg(results), chartFile);
    const table = formatTable(results);
    console.log(table);
    if (publish) updateReadme(path.join(REPO_ROOT, 'README.md'), table, results.date);
    console.log(`\nwrote ${[...saved, chart.file, ...(publish ? [path.join(REPO_ROOT, 'README.md')] : [])].map((f) => path.relative(REPO_ROOT, f)).join(', ')}`);
    if (!chart.rendered) console.log('(no Chromium at /usr/bin/chromium: the chart was written as SVG, not PNG)');
    log(`done in ${formatDuration((performance.now() - started) / 1000)}`);
  } finally {
    for (const system of loaded) await system.dispose();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
