// Bundles the extension host, the model worker and the CLI with esbuild.
// Native and heavyweight runtime modules stay external and ship in node_modules.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
  // onnxruntime-node loads a native addon; transformers.js pulls in onnxruntime and sharp. They are resolved from
  // node_modules at run time so that packaging can keep only the current platform's binaries.
  external: ['vscode', 'onnxruntime-node', '@huggingface/transformers', 'sharp'],
};

const entries = [
  { entryPoints: ['src/host/extension.ts'], outfile: 'dist/extension.js' },
  { entryPoints: ['src/worker/worker.ts'], outfile: 'dist/worker.js' },
  { entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
