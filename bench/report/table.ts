// The human-readable summary printed at the end of a run: one row per measured quantity, the engine and
// transformers.js side by side, their ratio, and the target where the issue sets one.
import type { BenchResults } from '../results';
import { ENGINE, HUB_LAYOUT, LLAMA_CPP, TRANSFORMERS, type Target } from '../targets';

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ms';
const ratio = (v: number) => v.toFixed(2) + 'x';
const mb = (bytes: number) => (bytes / 1e6).toFixed(1) + ' MB';

export function formatTable(r: BenchResults): string {
  const rows: string[][] = [['', ENGINE, TRANSFORMERS, 'engine/tjs', 'target']];
  const verdict = (name: string) => verdictOf(r.targets.find((x) => x.name.startsWith(name))!);
  const pair = (label: string, e: number, t: number, target = '') => rows.push([label, ms(e), ms(t), ratio(e / t), target]);

  const c = r.coldRequest;
  const [ce, ct] = [c.systems[ENGINE], c.systems[TRANSFORMERS]];
  rows.push([`(a) cold request: ${c.promptTokens}-token prompt + ${c.maxNewTokens} new, ${c.repetitions} reps`]);
  pair('    median', ce.ms.median, ct.ms.median, verdict('cold'));
  pair('    p90', ce.ms.p90, ct.ms.p90);
  pair('    first token (prefill) median', ce.firstTokenMs.median, ct.firstTokenMs.median);
  rows.push(['    tokens generated', tokens(ce.newTokens), tokens(ct.newTokens)]);

  const t = r.typingSession;
  const [te, tt] = [t.systems[ENGINE], t.systems[TRANSFORMERS]];
  rows.push([`(b) typing session: ${t.requests} requests, prompt ${t.promptTokens.first}->${t.promptTokens.last} tokens, ${t.maxNewTokens} new each`]);
  pair('    median per request', te.ms.median, tt.ms.median, verdict('typing'));
  pair('    p90 per request', te.ms.p90, tt.ms.p90);
  pair('    first token median', te.firstTokenMs.median, tt.firstTokenMs.median);
  const reused = te.requests.slice(1).map((q) => q.promptTokens - q.reusedTokens);
  rows.push(['    prompt tokens run per request', `${Math.min(...reused)}-${Math.max(...reused)} (after the 1st)`, `${t.promptTokens.first}-${t.promptTokens.last}`]);
  rows.push(['    tokens generated', tokens(te.newTokens), tokens(tt.newTokens)]);

  const f = r.floor;
  rows.push([`(c) decode ms/token (x bandwidth floor of ${ms(f.ms)}), median of ${r.decodeSpeed.tokensPerPoint} tokens`]);
  const tjsPoints = r.decodeSpeed.systems[TRANSFORMERS] ?? [];
  for (const e of r.decodeSpeed.systems[ENGINE]) {
    const j = tjsPoints.find((p) => p.context === e.context);
    const cell = (v: number) => `${ms(v)} (${(v / f.ms).toFixed(1)}x)`;
    const isLongest = e.context === Math.max(...r.decodeSpeed.systems[ENGINE].map((p) => p.context));
    rows.push([`    at ${e.context} context`, cell(e.tokenMs.median), j ? cell(j.tokenMs.median) : 'n/a', j ? ratio(e.tokenMs.median / j.tokenMs.median) : '', isLongest ? verdict('engine decode') : '']);
    if (e.stepMs && e.sampleMs) rows.push(['      engine: model step + sampling', `${ms(e.stepMs.median)} + ${ms(e.sampleMs.median)}`]);
    const b = r.budget?.context === e.context ? r.budget : undefined;
    if (b) {
      rows.push(['      kernels alone: linears', cell(b.linearsMs.median)]);
      rows.push([`      ... + attention (${b.slots} slots)`, cell(b.linearsAndAttentionMs.median)]);
    }
  }

  const lc = r.llamaCpp;
  if (lc) {
    // The same requests of (a)-(c), timed in the same alternation, against llama.cpp on the same weights.
    rows.push([`(a)-(c) vs llama.cpp: the same requests on a GGUF of the same weights (${lc.type}), prefix reuse by its context sequence`]);
    rows.push(['', ENGINE, LLAMA_CPP, 'engine/llama.cpp']);
    const peer = (label: string, e: number, l: number) => rows.push([label, ms(e), ms(l), ratio(e / l)]);
    const [cl, tl] = [c.systems[LLAMA_CPP], t.systems[LLAMA_CPP]];
    peer('    (a) cold request median', ce.ms.median, cl.ms.median);
    peer('    (a) cold request p90', ce.ms.p90, cl.ms.p90);
    peer('    (a) first token (prefill) median', ce.firstTokenMs.median, cl.firstTokenMs.median);
    peer('    (b) typing median per request', te.ms.median, tl.ms.median);
    peer('    (b) typing p90 per request', te.ms.p90, tl.ms.p90);
    const llamaRun = tl.requests.slice(1).map((q) => q.promptTokens - q.reusedTokens);
    rows.push(['    (b) prompt tokens run per request', `${Math.min(...reused)}-${Math.max(...reused)}`, `${Math.min(...llamaRun)}-${Math.max(...llamaRun)}`]);
    for (const e of r.decodeSpeed.systems[ENGINE]) {
      const l = r.decodeSpeed.systems[LLAMA_CPP]?.find((p) => p.context === e.context);
      if (l) peer(`    (c) decode ms/token at ${e.context} context`, e.tokenMs.median, l.tokenMs.median);
    }
    rows.push(['    tokens generated (a) / (b)', `${tokens(ce.newTokens)} / ${tokens(te.newTokens)}`, `${tokens(cl.newTokens)} / ${tokens(tl.newTokens)}`]);
    const promptMismatch = [cl.requests[0].promptTokens !== ce.requests[0].promptTokens, tl.requests.some((q, i) => q.promptTokens !== te.requests[i].promptTokens)];
    if (promptMismatch.some(Boolean)) rows.push(['    !!! llama.cpp tokenized some prompts to a different length than the engine']);
  }

  const h = r.hubLayout;
  const notMapped: string[] = [];
  if (h) {
    const [ht, he] = [h.typingSession.systems, h.decodeSpeed.systems];
    // The mapping not applying is the finding, whatever the times: said in the section's title and below the table.
    rows.push([`(d) hub layout (Optimum merged, ${h.mapped ? 'mapped' : 'NOT MAPPED'}) vs own graph: ${h.typingSession.requests} typing requests, decode at ${he[ENGINE][0].context} context`]);
    rows.push([`    the loader chose for the hub layout: ${h.mapped ? h.graph : `!!! ${h.graph} !!! (not the mapping: see below)`}`]);
    rows.push(['', 'own graph', HUB_LAYOUT, 'hub/own']);
    const hubPair = (label: string, own: number, hub: number, target = '') => rows.push([label, ms(own), ms(hub), ratio(hub / own), target]);
    hubPair('    typing median per request', ht[ENGINE].ms.median, ht[HUB_LAYOUT].ms.median, verdict('hub layout typing'));
    hubPair('    typing p90 per request', ht[ENGINE].ms.p90, ht[HUB_LAYOUT].ms.p90);
    hubPair('    decode ms/token', he[ENGINE][0].tokenMs.median, he[HUB_LAYOUT][0].tokenMs.median, verdict('hub layout decode'));
    rows.push(['    tokens generated (typing)', tokens(ht[ENGINE].newTokens), tokens(ht[HUB_LAYOUT].newTokens)]);
    if (!h.mapped) {
      notMapped.push(
        `!!! (d) the loader did NOT map the hub layout's weights onto the engine's graph: it ran ${h.graph}.`,
        `!!! (d) so the row measures that fallback, not the mapped graph. Load log for ${h.file}:`,
        ...h.loadLog.map((line) => `!!!     ${line}`),
      );
    }
  }

  const e = r.batchedSamples;
  if (e) {
    const [first] = e.results;
    rows.push([`(e) batched samples: ${first.samples} samples x ${first.newTokens} tokens (the prompt already cached), median of ${first.oneMs.n}`]);
    rows.push(['', '1 sample', `${first.samples} batched`, 'batched/1']);
    for (const b of e.results) {
      rows.push([`    after a ${b.promptTokens}-token prompt`, ms(b.oneMs.median), ms(b.batchedMs.median), ratio(b.batchedRatio), verdict(`${b.samples} samples batched / 1 sample, ${b.promptTokens}-token`)]);
      rows.push([`      ${b.samples} one after another`, '', ms(b.sequentialMs.median), ratio(b.sequentialRatio)]);
    }
    rows.push([`    the linears alone, ${e.linears.rows} rows (a floor)`, ms(e.linears.oneRowMs.median), ms(e.linears.rowsMs.median), ratio(e.linears.ratio)]);
  }

  const spec = r.speculation;
  if (spec) {
    rows.push([`(f) prompt-lookup speculation: ${spec[0].newTokens} new tokens (the prompt already cached), tokens/s, median of ${spec[0].plainTokensPerS.n}`]);
    rows.push(['', 'off', 'on', 'on/off']);
    for (const x of spec) {
      rows.push([`    ${x.case}`, tokensPerS(x.plainTokensPerS.median), tokensPerS(x.speculativeTokensPerS.median), ratio(x.ratio), verdict(`speculation on / off tokens/s, ${x.case}`)]);
      // Greedy must give the very same text. Sampled q8 text may differ: the verify pass quantizes its activations
      // over all its positions at once, so its logits differ from one-token steps in the last bits.
      const same = x.sameText ? 'same' : x.case.includes('greedy') ? '!!! DIFFERENT' : 'differs';
      rows.push([`      drafted tokens accepted; same text as off`, '', x.draftsAccepted, same]);
    }
  }

  const g = r.ghostLatency;
  if (g && 'skipped' in g) rows.push([`(g) keystroke to ghost text in code-server: skipped (${g.skipped})`]);
  else if (g) {
    rows.push([`(g) keystroke to ghost text in code-server: ${g.what}, ${g.tries} keystrokes each, debounce ${g.debounceMs} ms`]);
    rows.push(['', 'p50', 'p90', 'shown']);
    for (const run of g.runs) {
      if (run.skipped) rows.push([`    ${run.name}`, 'skipped', '', '', run.skipped]);
      else rows.push([`    ${run.name}`, run.p50Ms === undefined ? '-' : ms(run.p50Ms), run.p90Ms === undefined ? '-' : ms(run.p90Ms), `${run.timesMs.length} of ${run.timesMs.length + run.misses}`]);
    }
  }

  const m = r.memory;
  if (m && 'skipped' in m) rows.push([`(h) memory: skipped (${m.skipped})`]);
  else if (m) {
    rows.push([`(h) memory over the Node baseline (the engine alone in a child process), weights ${mb(m.weightBytes)}`]);
    rows.push(['', 'MB', 'x weights']);
    for (const load of ['remembered', 'first'] as const) {
      const l = m[load];
      const what = load === 'remembered' ? 'load with the probe remembered (usual)' : 'first load (probes the file as shipped)';
      rows.push([`    ${what}: held after a generation`, `${(l.afterGenerateMB - l.baselineMB).toFixed(0)} MB`, ratio(l.residentRatio), '', verdict(`memory held after load and a generation / weight bytes, ${load}`)]);
      rows.push([`      peak while loading`, `${(l.peakLoadMB - l.baselineMB).toFixed(0)} MB`, ratio(l.peakRatio), '', verdict(`memory peak while loading / weight bytes, ${load}`)]);
    }
  }

  const widths = rows[0].map((_, i) => Math.max(...rows.filter((row) => row.length > 1).map((row) => (row[i] ?? '').length)));
  const lines = rows.map((row) => (row.length === 1 ? row[0] : row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd()));

  const bw = r.bandwidth.gbPerSecond;
  const kv = f.withKvCache.map((k) => `${ms(k.ms)} at ${k.context} (+${mb(k.kvBytes)} KV)`).join(', ');
  return [
    `local-gpt2 bench: ${r.model.file} (${r.options.dtype}), ${r.options.threads} intra-op threads, top-k ${r.options.topK}${r.options.quick ? ', QUICK run (not for reporting)' : ''}`,
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores; load average ${r.machine.loadAverage.start[0].toFixed(2)} at start, ${r.machine.loadAverage.end[0].toFixed(2)} at end; run took ${formatDuration(r.durationS)}`,
    '',
    ...lines,
    '',
    `bandwidth floor = weight bytes read per token / read bandwidth = ${mb(f.weightBytesPerToken)} / ${f.gbPerSecond.toFixed(1)} GB/s = ${ms(f.ms)}`,
    `  read bandwidth: ONNX Runtime ReduceSum over ${mb(r.bandwidth.bytes)} fp32, ${r.bandwidth.threads} threads, fastest of ${bw.n} (median ${bw.median.toFixed(1)} GB/s)`,
    `  weights read per token: every initializer of the ONNX file, but only the current position's row of wpe (file total ${mb(r.weightBytes.allInitializers)})`,
    `  with one read of the fp32 KV cache added (reference only): ${kv}`,
    ...(r.budget ? [`kernels alone: the step's weight linears (+ attention over the cache as the engine lays it out) in a graph of nothing else, same threads, median of ${r.budget.linearsMs.n} runs`] : []),
    ...(h
      ? [
          `hub layout: ${h.file}, producerName '${h.producerName}' (as the hub's files), loaded through loadModel; both engines alternate request by request`,
          `  not a download: ${h.written ?? 'written by the bench'}; genuine 124M exports cannot be downloaded here`,
        ]
      : []),
    ...(lc
      ? [
          `llama.cpp: ${lc.file} (${lc.type}, ${mb(lc.bytes)}, written by the bench from the fp32 ONNX file's weights; bench/llamaCppGreedyCheck.ts: same greedy ids in fp32)`,
          `  ${lc.description}; temperature 1, top-k ${r.options.topK}, top-p 1, min-p 0; decode = token-to-token intervals of one evaluation (context grows from the prompt)`,
          `  with llama.cpp in the run every system waits 25 ms (untimed) before each request, for the previous one's thread pool to go idle`,
        ]
      : []),
    `load time: engine ${ms(r.loadMs[ENGINE])}, transformers.js ${ms(r.loadMs[TRANSFORMERS])}${lc ? `, llama.cpp ${ms(lc.loadMs)}` : ''}${h ? `, hub layout ${ms(h.loadMs)}` : ''}`,
    ...notMapped,
  ].join('\n');
}

/** "<= 1.3 MET", ">= 1.5 MISSED", "<= 2x floor MET", "<= 1.2x weights MISSED". */
function verdictOf(t: Target): string {
  const limit = Number(t.limit.toFixed(2));
  const unit = t.unit === 'x' ? '' : t.unit;
  return `${t.direction === 'at least' ? '>=' : '<='} ${limit}${unit} ${t.met ? 'MET' : 'MISSED'}`;
}

const tokensPerS = (v: number) => `${v.toFixed(1)} tok/s`;

function tokens(range: { min: number; max: number }): string {
  return range.min === range.max ? String(range.min) : `${range.min}-${range.max}`;
}

export function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m} min ${Math.round(seconds - 60 * m)} s` : `${seconds.toFixed(0)} s`;
}
