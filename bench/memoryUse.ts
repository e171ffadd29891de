// Memory: what the engine holds for one model, measured as the extension pays it. The worker runs inside VS Code's
// extension host, so its memory is the editor's. Each load runs in a fresh child process (node --expose-gc --import
// tsx), so nothing the calling process allocated counts, and it measures over that process's own baseline: the RSS
// after the engine's modules (onnxruntime-node included) are imported, before anything is loaded.
//
// Two loads, in two children sharing one probe-record folder (the extension's stateDir):
//   first:      no remembered probe, so the load also runs the file as shipped once (a second session) to get
//               the probe's reference logits, and writes the record;
//   remembered: the extension's normal case from then on: the record exists, only the chosen graph is loaded.
//
// weightBytes: the bytes of every initializer of the ONNX file (bench/weightBytesPerToken.ts's allInitializers:
// linear weights, their scales and zero points, biases, LayerNorms, the token and the whole position table), i.e.
// what a runtime must hold for the model, once.
//
// Target (issue 11, item 5): after load and one generation <= 1.2x weightBytes over the baseline; peak while
// loading <= 1.5x.
// Standalone: `npx tsx bench/memoryUse.ts [--model DIR] [--dtype q8|fp32] [--threads 2] [--load first|remembered]`.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Dtype } from '../src/protocol';

export interface LoadMemory {
  /** RSS after importing the engine's modules, before the load (MB = 1e6 bytes throughout). */
  baselineMB: number;
  afterLoadMB: number;
  afterGenerateMB: number;
  /** Highest RSS of the process up to the end of the load (VmHWM), and up to the end of the generation. */
  peakLoadMB: number;
  peakMB: number;
  /** (afterGenerate - baseline) / weights, (peakLoad - baseline) / weights: the targets are <= 1.2 and <= 1.5. */
  residentRatio: number;
  peakRatio: number;
  /** Same, after load only. */
  afterLoadRatio: number;
  /** After generate: JavaScript ArrayBuffers still alive (the engine's own buffers: KV cache, logits), and RSS that is file-backed (mapped model file, code). */
  arrayBuffersMB: number;
  fileBackedMB: number;
  /** V8 heap in use after generate, over the baseline's (the tokenizer's tables live here). */
  heapMB: number;
  loadMs: number;
  /** What runs (ModelInfo.graph). */
  graph: string;
}

export interface MemoryUse {
  file: string;
  dtype: Dtype;
  threads: number;
  /** Initializer bytes of the ONNX file (the denominator of every ratio). */
  weightBytes: number;
  /** A load with no remembered probe record: the file as shipped is also run once, for the probe's reference. */
  first: LoadMemory;
  /** The extension's normal case: a load that finds the probe record the first one wrote. */
  remembered: LoadMemory;
}

export interface MemoryUseOptions {
  dtype: Dtype;
  threads: number;
  /** Only this load (the other's fields are copies of it); default both. */
  only?: 'first' | 'remembered';
}

const MB = 1e6;
const RESULT_MARK = 'MEMORY_USE_RESULT ';

export async function measureMemoryUse(folder: string, options: MemoryUseOptions): Promise<MemoryUse> {
  const stateDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'local-gpt2-memory-'));
  try {
    const run = (load: 'first' | 'remembered') => runChild({ folder: path.resolve(folder), dtype: options.dtype, threads: options.threads, stateDir, load });
    if (options.only === 'remembered') await run('first'); // writes the record; its numbers are not reported
    const first = options.only === 'remembered' ? undefined : await run('first');
    const remembered = options.only === 'first' ? undefined : await run('remembered');
    const any = (first ?? remembered)!;
    return { file: any.file, dtype: options.dtype, threads: options.threads, weightBytes: any.weightBytes, first: (first ?? remembered)!.load, remembered: (remembered ?? first)!.load };
  } finally {
    await fs.promises.rm(stateDir, { recursive: true, force: true });
  }
}

interface ChildRequest {
  folder: string;
  dtype: Dtype;
  threads: number;
  stateDir: string;
  load: 'first' | 'remembered';
}

interface ChildResult {
  file: string;
  weightBytes: number;
  load: LoadMemory;
}

function runChild(request: ChildRequest): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--child', JSON.stringify(request)], {
      cwd: path.resolve(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) return reject(new Error(`memory child (${request.load} load) exited ${code}: ${stderr.trim() || stdout.trim()}`));
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as ChildResult);
    });
  });
}

/** A field of /proc/self/status in kB; NaN off Linux. */
function statusKb(field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Highest resident set of this process so far, in bytes: VmHWM on Linux, else getrusage's maxrss. */
function peakRss(): number {
  const hwm = statusKb('VmHWM');
  return Number.isFinite(hwm) ? hwm * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function child(request: ChildRequest): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const { loadModel } = await import('../src/worker/engine/loadModel');
  const { generate } = await import('../src/worker/engine/generate');
  const { env } = await import('onnxruntime-node');
  void env.versions; // the native binding is loaded by now
  await settle();
  const { rss: baseline, heapUsed: baselineHeap } = process.memoryUsage();
  const started = performance.now();
  const model = await loadModel({ folder: request.folder, name: request.folder, dtype: request.dtype, device: 'cpu', threads: request.threads, probeCacheDir: request.stateDir });
  const loadMs = performance.now() - started;
  const peakLoad = peakRss();
  await settle();
  const afterLoad = process.memoryUsage().rss;
  await generate(
    model.decoder,
    model.codec,
    { prompt: 'The quick brown fox jumps over the lazy dog. It was a', maxNewTokens: 16, sampling: { topK: 50, topP: 1, temperature: 1, seed: 1 }, stop: { atNewline: false, strings: [] }, stream: false, samples: 1 },
    { isCancelled: () => false, onText: () => undefined },
  );
  await settle();
  const { rss: afterGenerate, arrayBuffers, heapUsed } = process.memoryUsage();
  const fileBacked = statusKb('RssFile') * 1024;
  const peak = peakRss();
  const file = model.info.files[2];
  const graph = model.info.graph;
  await model.dispose();
  // Counted last: decoding the file here would otherwise be part of the measurement.
  const { weightBytesPerToken } = await import('./weightBytesPerToken');
  const weightBytes = (await weightBytesPerToken(file)).allInitializers;
  const over = (bytes: number) => (bytes - baseline) / weightBytes;
  const load: LoadMemory = {
    baselineMB: baseline / MB,
    afterLoadMB: afterLoad / MB,
    afterGenerateMB: afterGenerate / MB,
    peakLoadMB: peakLoad / MB,
    peakMB: peak / MB,
    residentRatio: over(afterGenerate),
    peakRatio: over(peakLoad),
    afterLoadRatio: over(afterLoad),
    arrayBuffersMB: arrayBuffers / MB,
    fileBackedMB: fileBacked / MB,
    heapMB: (heapUsed - baselineHeap) / MB,
    loadMs,
    graph,
  };
  process.stdout.write(RESULT_MARK + JSON.stringify({ file, weightBytes, load } satisfies ChildResult) + '\n');
}

/** One line per load: MB over the baseline and x weights. */
export function describeMemoryUse(m: MemoryUse): string {
  const one = (name: string, l: LoadMemory) => {
    const mb = (v: number) => (v - l.baselineMB).toFixed(0);
    return (
      `${name}: after load ${mb(l.afterLoadMB)} MB (${l.afterLoadRatio.toFixed(2)}x), after generate ${mb(l.afterGenerateMB)} MB (${l.residentRatio.toFixed(2)}x), ` +
      `peak loading ${mb(l.peakLoadMB)} MB (${l.peakRatio.toFixed(2)}x); baseline ${l.baselineMB.toFixed(0)} MB, JS heap +${l.heapMB.toFixed(0)} MB, JS buffers ${l.arrayBuffersMB.toFixed(0)} MB, file-backed ${l.fileBackedMB.toFixed(0)} MB, load ${(l.loadMs / 1000).toFixed(1)} s`
    );
  };
  return `${path.basename(m.file)} ${m.dtype}, ${m.threads} threads, weights ${(m.weightBytes / MB).toFixed(1)} MB | ${one('first load', m.first)} | ${one('remembered probe', m.remembered)}`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const childRequest = flag('--child');
  const done = childRequest
    ? child(JSON.parse(childRequest) as ChildRequest)
    : measureMemoryUse(flag('--model') ?? 'models/gpt2-124m-random', {
        dtype: (flag('--dtype') ?? 'q8') as Dtype,
        threads: Number(flag('--threads') ?? 2),
        only: flag('--load') as MemoryUseOptions['only'],
      }).then((m) => console.log(describeMemoryUse(m)));
  done.catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
