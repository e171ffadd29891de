// Bundles the extension host, the model worker and the CLI with esbuild.
//
// Development (default, and --watch): sourcemaps, not minified; onnxruntime-node, transformers.js and sharp stay
// external and are resolved from node_modules at run time.
//
// --production (used by `npm run package`): minified, no sourcemaps, and everything except `vscode` and
// onnxruntime-node (a native addon, plus its onnxruntime-common) is bundled, so that a VSIX needs nothing else in
// node_modules. transformers.js is only used for its tokenizer: its node build inlines the onnxruntime-web JS it
// needs (never the onnxruntime-web package) and imports `sharp` for images, which a tokenizer never touches, so
// `sharp` is replaced by a stub that throws if called.
//
// --outdir=DIR writes the bundles somewhere else than dist/ (packaging builds into a staging folder, leaving the
// development dist/ alone). --metafile=FILE writes esbuild's metafiles (one per entry) as one JSON object.
import * as esbuild from 'esbuild';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUNTIME_PACKAGES } from './package/targets.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const watch = flag('watch');
const production = flag('production');
const outdir = option('outdir') ?? 'dist';
const metafile = option('metafile');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Modules that are never bundled in a production build: the editor API and the native ONNX Runtime binding. */
const PRODUCTION_EXTERNALS = ['vscode', ...RUNTIME_PACKAGES];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
  metafile: Boolean(metafile),
  ...(production
    ? {
        external: PRODUCTION_EXTERNALS,
        alias: { sharp: path.join(root, 'scripts', 'package', 'sharp-stub.cjs') },
        // transformers.js reads import.meta.url and falls back to __dirname when it is empty, exactly as its own
        // CommonJS build (dist/transformers.node.cjs) does.
        logOverride: { 'empty-import-meta': 'silent' },
        legalComments: 'none',
      }
    : {
        // onnxruntime-node loads a native addon; transformers.js pulls in onnxruntime and sharp. They are resolved
        // from node_modules at run time.
        external: ['vscode', 'onnxruntime-node', '@huggingface/transformers', 'sharp'],
      }),
};

const entries = [
  { entryPoints: ['src/host/extension.ts'], outfile: path.join(outdir, 'extension.js') },
  { entryPoints: ['src/worker/worker.ts'], outfile: path.join(outdir, 'worker.js') },
  { entryPoints: ['src/cli.ts'], outfile: path.join(outdir, 'cli.js'), banner: { js: '#!/usr/bin/env node' } },
];

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  const results = await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  if (metafile) {
    const metas = Object.fromEntries(entries.map((e, i) => [path.basename(e.outfile), results[i].metafile]));
    writeFileSync(metafile, JSON.stringify(metas));
  }
}
