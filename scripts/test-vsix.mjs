// `npm run test:vsix`: packages this machine's VSIX and runs the real-editor smoke tests against it, installed
// with `code-server --install-extension` as a user would: the model loads from the loopback hub, ghost text
// and Generate continuation work, and a killed worker restarts from the installed files.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostTarget, VSIX_DIR, vsixName } from './package/targets.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SMOKE = '^(activation|ghost text|generate continuation|worker killed) ';

const target = hostTarget();
if (!target) {
  console.error(`test:vsix: no VSIX target for ${process.platform}-${process.arch}`);
  process.exit(1);
}
const run = (command, args) => {
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
};
run(process.execPath, [path.join(root, 'scripts', 'package.mjs'), '--target', target]);
const vsix = path.join(root, VSIX_DIR, vsixName(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')), target));
run(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'test', 'e2e', 'run.ts'), '--vsix', vsix, '--grep', SMOKE]);
