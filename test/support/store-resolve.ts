// Resolves one hub model into a cache folder in a process of its own, as a second VS Code window would: the
// concurrency test runs two of these at once against one cache. Waits until `startAt` (ms since the epoch) so
// that both start together whatever their start-up times.
// Usage: node --import tsx test/support/store-resolve.ts <hubUrl> <cacheDir> <modelId> <dtype> <startAt>
import type { Dtype } from '../../src/protocol';
import { resolveModel } from '../../src/worker/store/modelStore';

async function main(): Promise<void> {
  const [hubUrl, cacheDir, modelId, dtype, startAt] = process.argv.slice(2);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
  const resolved = await resolveModel({ kind: 'hub', modelId, revision: 'main', hubUrl, cacheDir, offline: false }, dtype as Dtype, { log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(JSON.stringify(resolved));
}

main().catch((error: Error) => {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exitCode = 1;
});
