// (g) Keystroke-to-ghost-text latency in a real editor: the real-editor suite's latency measurement
// (test/e2e/suite/02-ghost-text.test.ts: code-server + Chromium, the extension from this repository's dist/), run
// as a child process at the end of the bench so that nothing else competes for the cores. It measures the tiny
// model and the bench's 124M model, each with the latency budget off and at 300 ms; what it writes to
// GHOST_LATENCY_FILE comes into the results. Needs `bash scripts/e2e-setup.sh` once (as npm test does);
// without it the section is skipped with the reason.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GHOST_LATENCY_FILE, type GhostLatencyFile } from '../test/e2e/ghostLatencyFile';

export type GhostLatency = GhostLatencyFile;

const GREP = 'keystroke-to-ghost-text latency';

export async function measureGhostLatency(repoRoot: string, log: (line: string) => void): Promise<GhostLatency | { skipped: string }> {
  const file = path.join(repoRoot, GHOST_LATENCY_FILE);
  const started = Date.now();
  const build = await run('npm', ['run', 'build'], repoRoot, () => undefined);
  if (build.code !== 0) return { skipped: `npm run build failed: ${build.tail}` };
  const e2e = await run(process.execPath, [path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'test/e2e/run.ts', '--grep', GREP], repoRoot, (line) => {
    if (line.includes('[e2e-metrics]') || line.includes('✘')) log(`  ${line.trim()}`);
  });
  if (e2e.code !== 0) return { skipped: `the real-editor run failed (exit ${e2e.code}): ${e2e.tail}` };
  const written = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as GhostLatency) : undefined;
  if (!written || Date.parse(written.measured) < started) return { skipped: `the real-editor run wrote no new ${path.relative(repoRoot, file)}` };
  return written;
}

/** Runs a command; the exit code and the last lines of its output (for the reason when it fails). */
function run(command: string, args: string[], cwd: string, onLine: (line: string) => void): Promise<{ code: number; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    const take = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const split = text.split('\n');
      partial = split.pop() ?? '';
      for (const line of split) {
        lines.push(line);
        onLine(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (error) => resolve({ code: -1, tail: error.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, tail: [...lines, partial].filter(Boolean).slice(-3).join(' | ') }));
  });
}
