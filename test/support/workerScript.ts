// The bundled worker (dist/worker.js), rebuilt once per test run so worker tests exercise current sources.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
let built = false;

export function workerScript(): string {
  if (!built) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'pipe' });
    built = true;
  }
  return path.join(ROOT, 'dist/worker.js');
}
