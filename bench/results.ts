// The shape of one bench run as saved to JSON (bench/results/<date>.json and docs/bench.json), and where
// it is written. Raw samples are kept so a reader can recompute any statistic.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BenchOptions } from './benchOptions';
import type { DecodeBudget, LinearsPerRows } from './decodeBudget';
import type { GhostLatency } from './ghostLatency';
import type { MemoryUse } from './memoryUse';
import type { BatchedSamplesResult } from './scenarios/batchedSamples';
import type { SpeculationResult } from './scenarios/speculation';
import type { LlamaCppInfo } from './llamaCppPeer';
import type { ReadBandwidth } from './readBandwidth';
import type { ColdRequestResult } from './scenarios/coldRequest';
import type { DecodeSpeedResult } from './scenarios/decodeSpeed';
import type { HubLayoutResult } from './scenarios/hubLayout';
import type { TypingSessionResult } from './scenarios/typingSession';
import type { BandwidthFloor, Target } from './targets';
import type { WeightBytes } from './weightBytesPerToken';

export interface BenchResults {
  date: string;
  durationS: number;
  options: BenchOptions;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; onnxruntime: string; transformers: string; loadAverage: { start: number[]; end: number[] } };
  model: { folder: string; file: string; nLayer: number; nEmbd: number; nHead: number };
  loadMs: Record<string, number>;
  coldRequest: ColdRequestResult;
  typingSession: TypingSessionResult;
  decodeSpeed: DecodeSpeedResult;
  bandwidth: ReadBandwidth;
  weightBytes: WeightBytes;
  floor: BandwidthFloor;
  /** The decode step's unavoidable work alone, at the longest decode context. Absent in runs before 2026-11-25 11:30. */
  budget?: DecodeBudget;
  /** (d) the same weights in a hub download's layout vs the own graph. Absent before 2026-12-01, and when the model is not one of the project's own graphs. */
  hubLayout?: HubLayoutResult;
  /** llama.cpp's GGUF and build, when it ran as a third system in (a)-(c) (its timings are under the LLAMA_CPP key there). Absent before 2026-12-01 11:30, for q4, and where node-llama-cpp cannot load. */
  llamaCpp?: LlamaCppInfo;
  /** (e) 3 samples as one batch vs 1 sample, and the linears alone at 3 rows vs 1 (what batching cannot go below). Absent before 2026-12-01 13:00. */
  batchedSamples?: { results: BatchedSamplesResult[]; linears: LinearsPerRows };
  /** (f) prompt-lookup speculation on vs off. Absent before 2026-12-01 13:00. */
  speculation?: SpeculationResult[];
  /** (g) keystroke to ghost text in code-server (the real-editor suite's measurement). Absent before 2026-12-01 13:00. */
  ghostLatency?: GhostLatency | { skipped: string };
  /** (h) the engine's memory over the Node baseline, in a child process. Absent before 2026-12-01 13:00. */
  memory?: MemoryUse | { skipped: string };
  targets: Target[];
}

/** bench/results/2025-01-31T12-00-00.json (kept out of git: every run) and docs/bench.json (the published run). */
export async function saveResults(results: BenchResults, repoRoot: string, publish: boolean): Promise<string[]> {
  const stamp = results.date.replace(/:/g, '-').replace(/\..*$/, '');
  const files = [path.join(repoRoot, 'bench', 'results', `${stamp}.json`)];
  if (publish) files.push(path.join(repoRoot, 'docs', 'bench.json'));
  const text = JSON.stringify(results, null, 2) + '\n';
  for (const file of files) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, text);
  }
  return files;
}
