// test-results/e2e/ghost-latency.json: what the real-editor suite measures of keystroke-to-ghost-text latency
// (suite/02-ghost-text.test.ts writes it; `npm run bench` runs that suite and reads it into its results).

export interface LatencyMode {
  name: string;
  model: 'tiny' | '124m-q8';
  latencyBudgetMs: number;
}

export interface LatencyRun extends LatencyMode {
  p50Ms?: number;
  p90Ms?: number;
  timesMs: number[];
  misses: number;
  skipped?: string;
}

export interface GhostLatencyFile {
  measured: string; // ISO date
  tries: number;
  debounceMs: number;
  what: string;
  runs: LatencyRun[];
}

/** Relative to the repository's root. */
export const GHOST_LATENCY_FILE = 'test-results/e2e/ghost-latency.json';
