// `npm run package`: platform-specific VSIX files in dist-vsix/.
//
//   npm run package                                  every target
//   npm run package -- --target linux-x64,win32-x64  some targets
//   npm run package -- --keep-staging                leave the staging folders in the temp dir, for inspection
//   npm run package -- --no-verify                   skip running the unpacked host-platform VSIX
//
// 1. Production bundles (minified, no sourcemaps) into a temp folder; the development dist/ is not touched. Only
//    `vscode` and onnxruntime-node (native addon + onnxruntime-common) stay outside the bundles; the metafile is
//    checked for that, and for onnxruntime-web / sharp never getting in.
// 2. Per target, a staging folder outside the repository (so Node cannot fall back on the repository's
//    node_modules): package.json with onnxruntime-node as its only dependency, the bundles, README/CHANGELOG/LICENSE,
//    third-party notices, and node_modules holding onnxruntime-node (that platform's binaries only) and
//    onnxruntime-common. `vsce package --target` packs it, listing dependencies with `npm list` like it does for any
//    extension, and applying the repository's .vscodeignore.
// 3. Each VSIX is listed and checked (own binaries only, no sources/maps/other platforms); the one for this machine
//    is unpacked and its dist/cli.js generates from models/tiny, which runs the worker and ONNX Runtime from the
//    unpacked files alone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindingDir, hostTarget, RUNTIME_PACKAGES, TARGETS, unusedBinary, VSIX_DIR, vsixName } from './package/targets.mjs';
import { extractZip, listZip } from './package/zip.mjs';

const started = performance.now();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The user-facing README: the extension page in VS Code (the repository's README.md is for contributors). */
const USER_README = 'EXTENSION_README.md';
const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
};
const keepStaging = argv.includes('--keep-staging');
const verify = !argv.includes('--no-verify');

const pkg = readJson(path.join(root, 'package.json'));
const outDir = path.join(root, VSIX_DIR);
/** onnxruntime-node dependencies used only by its postinstall download script (script/install), which is not shipped. */
const INSTALL_ONLY_DEPENDENCIES = ['adm-zip', 'global-agent'];

function fail(message) {
  console.error(`\npackage: ${message}`);
  process.exit(1);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) fail(`${path.basename(command)} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result;
}

function mb(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The package folder of a node_modules path, e.g. node_modules/a/node_modules/@s/b/x.js -> node_modules/a/node_modules/@s/b. */
function packageDirOf(file) {
  const m = file.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
  return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------------------------------------- targets

const requested = option('target')?.split(',').map((t) => t.trim()).filter(Boolean) ?? Object.keys(TARGETS);
for (const t of requested) if (!TARGETS[t]) fail(`unknown target ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
for (const file of ['LICENSE', USER_README]) if (!fs.existsSync(path.join(root, file))) fail(`${file} is missing`);

const ortDir = path.join(root, 'node_modules', 'onnxruntime-node');
const ortVersion = readJson(path.join(ortDir, 'package.json')).version;
const targets = [];
const skipped = [];
for (const t of requested) {
  const dir = path.join(ortDir, bindingDir(TARGETS[t]));
  if (fs.existsSync(path.join(dir, 'onnxruntime_binding.node'))) targets.push(t);
  else skipped.push({ target: t, reason: `onnxruntime-node ${ortVersion} has no binaries for it (no ${path.relative(root, dir)})` });
}
for (const s of skipped) console.warn(`package: skipping ${s.target}: ${s.reason}`);
if (targets.length === 0) fail('nothing to build');

fs.mkdirSync(outDir, { recursive: true });
// Earlier VSIX files of the requested targets go (any version); other targets' stay.
for (const f of fs.readdirSync(outDir)) {
  if (requested.some((t) => f.startsWith(`${pkg.name}-${t}-`) && f.endsWith('.vsix'))) fs.rmSync(path.join(outDir, f));
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-package-'));

try {
  // -------------------------------------------------------------------------------------------------------- bundles
  console.log('\n== production bundles');
  const buildDir = path.join(tmp, 'build');
  const metaFile = path.join(buildDir, 'meta.json');
  fs.mkdirSync(buildDir, { recursive: true });
  run(process.execPath, ['scripts/build.mjs', '--production', `--outdir=${path.join(buildDir, 'dist')}`, `--metafile=${metaFile}`], { cwd: root });
  const bundled = checkBundles(readJson(metaFile));
  for (const file of fs.readdirSync(path.join(buildDir, 'dist'))) {
    console.log(`dist/${file}  ${(fs.statSync(path.join(buildDir, 'dist', file)).size / 1024).toFixed(0)} KB`);
  }

  // ---------------------------------------------------------------------------------------------- shared staging
  const manifest = stagedManifest();
  const notices = thirdPartyNotices([...bundled, ...RUNTIME_PACKAGES.map(runtimePackageDir)]);
  const readmeImages = relativeImages(fs.readFileSync(path.join(root, USER_README), 'utf8'));

  // --------------------------------------------------------------------------------------------------- per target
  const rows = [];
  for (const target of targets) {
    console.log(`\n== ${target}`);
    const stage = path.join(tmp, `stage-${target}`);
    fs.mkdirSync(stage, { recursive: true });
    fs.cpSync(path.join(buildDir, 'dist'), path.join(stage, 'dist'), { recursive: true });
    for (const file of ['CHANGELOG.md', 'LICENSE', '.vscodeignore', ...readmeImages]) {
      if (!fs.existsSync(path.join(root, file))) continue;
      fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true });
      fs.copyFileSync(path.join(root, file), path.join(stage, file));
    }
    fs.copyFileSync(path.join(root, USER_README), path.join(stage, 'README.md')); // the extension page
    fs.writeFileSync(path.join(stage, 'ThirdPartyNotices.txt'), notices);
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    for (const name of RUNTIME_PACKAGES) stageRuntimePackage(name, TARGETS[target], path.join(stage, 'node_modules', name));
    checkRuntimeClosure(path.join(stage, 'node_modules'));

    const vsix = path.join(outDir, vsixName(pkg, target));
    // Relative README links are kept as they are: the README's screenshot ships in the VSIX and the editor shows it
    // from there; the repository URL in package.json is a placeholder, so rewriting would break it.
    run(process.execPath, [vsceBin(), 'package', '--target', target, '--out', vsix, '--no-rewrite-relative-links'], { cwd: stage });

    const entries = await listZip(vsix);
    checkVsix(target, entries);
    const binaries = entries.filter((e) => e.name.includes('/onnxruntime-node/bin/')).map((e) => path.posix.basename(e.name));
    rows.push({ target, bytes: fs.statSync(vsix).size, files: entries.length, unpacked: entries.reduce((n, e) => n + e.size, 0), binaries, vsix });

    if (verify && target === hostTarget()) await smokeTest(vsix, path.join(tmp, `unpacked-${target}`));
  }

  // -------------------------------------------------------------------------------------------------------- report
  const vsixFiles = fs.readdirSync(outDir).filter((f) => f.endsWith('.vsix')).sort();
  const sums = vsixFiles.map((f) => `${createHash('sha256').update(fs.readFileSync(path.join(outDir, f))).digest('hex')}  ${f}`);
  fs.writeFileSync(path.join(outDir, 'SHA256SUMS'), sums.join('\n') + '\n');
  console.log(`\n== ${path.relative(root, outDir)}/`);
  const table = [
    ['target', 'VSIX', 'files', 'unpacked', 'onnxruntime binaries'],
    ...rows.map((r) => [r.target, mb(r.bytes), String(r.files), mb(r.unpacked), r.binaries.join(' ')]),
    ...skipped.map((s) => [s.target, '-', '-', '-', `skipped: ${s.reason}`]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) console.log(row.map((cell, c) => (c === 1 || c === 2 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
  console.log(`\npackaged ${rows.length} target(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (keepStaging) console.log(`staging folders kept in ${tmp}`);
} finally {
  if (!keepStaging) fs.rmSync(tmp, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------------------- helpers

/** Checks what the production bundles import and returns the folders of the packages bundled into them. */
function checkBundles(metas) {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const allowed = new Set(['vscode', ...RUNTIME_PACKAGES]);
  const packages = new Set();
  for (const [bundle, meta] of Object.entries(metas)) {
    if (Object.keys(meta.outputs).some((o) => o.endsWith('.map'))) fail(`${bundle} has a sourcemap`);
    for (const output of Object.values(meta.outputs)) {
      for (const imp of output.imports) {
        if (!imp.external || builtins.has(imp.path)) continue;
        if (!allowed.has(imp.path)) fail(`${bundle} loads ${imp.path} at run time, which the VSIX does not ship`);
        if (imp.path === 'vscode' && bundle !== 'extension.js') fail(`${bundle} imports vscode`);
      }
    }
    for (const input of Object.keys(meta.inputs)) {
      if (/node_modules\/(onnxruntime-web|sharp|onnxruntime-node)\//.test(input) || input.endsWith('.node')) {
        fail(`${bundle} bundles ${input}`);
      }
      const dir = packageDirOf(input);
      if (dir) packages.add(path.resolve(root, dir));
    }
  }
  for (const output of fs.readdirSync(path.join(tmp, 'build', 'dist'))) {
    if (!output.endsWith('.js')) fail(`unexpected build output ${output}`);
  }
  return packages;
}

/** package.json as it ships: the bundles replace every dependency except onnxruntime-node. */
function stagedManifest() {
  const manifest = { ...pkg, dependencies: { 'onnxruntime-node': pkg.dependencies['onnxruntime-node'] } };
  // Build and test scripts refer to files that do not ship (and vsce would run a vscode:prepublish script).
  delete manifest.scripts;
  return manifest;
}

function runtimePackageDir(name) {
  // onnxruntime-common may be nested under onnxruntime-node when versions differ.
  const nested = path.join(root, 'node_modules', 'onnxruntime-node', 'node_modules', name);
  return fs.existsSync(nested) ? nested : path.join(root, 'node_modules', name);
}

/** Copies a runtime package without sources, typings, maps, build scripts, or other platforms' binaries. */
function stageRuntimePackage(name, { platform, arch }, dest) {
  const src = runtimePackageDir(name);
  const own = bindingDir({ platform, arch });
  fs.cpSync(src, dest, {
    recursive: true,
    filter: (file) => {
      const rel = path.relative(src, file).split(path.sep).join('/');
      if (rel === '') return true;
      if (/(^|\/)node_modules$/.test(rel)) return false; // nested packages are staged on their own
      if (/\.(map|ts)$/.test(rel) || /^(lib|script|src|test)(\/|$)/.test(rel)) return false;
      if (name === 'onnxruntime-common' && /^dist\/esm(\/|$)/.test(rel)) return false; // the addon requires dist/cjs
      if (rel.startsWith('bin/')) {
        if (!(own.startsWith(rel) || rel.startsWith(own))) return false;
        if (rel.startsWith(own + '/') && unusedBinary(platform, path.posix.basename(rel))) return false;
      }
      return true;
    },
  });
  const manifest = readJson(path.join(dest, 'package.json'));
  delete manifest.scripts; // postinstall downloads binaries; nothing installs a VSIX's node_modules
  delete manifest.devDependencies;
  delete manifest.types;
  if (manifest.dependencies) {
    for (const dep of INSTALL_ONLY_DEPENDENCIES) delete manifest.dependencies[dep];
  }
  fs.writeFileSync(path.join(dest, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** Every require() in the staged runtime packages must be a builtin, a relative file, or a staged package. */
function checkRuntimeClosure(nodeModules) {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const staged = new Set(fs.readdirSync(nodeModules));
  for (const name of staged) {
    const dir = path.join(nodeModules, name);
    const deps = Object.keys(readJson(path.join(dir, 'package.json')).dependencies ?? {});
    for (const dep of deps) if (!staged.has(dep)) fail(`${name} depends on ${dep}, which is not staged`);
    for (const file of fs.readdirSync(dir, { recursive: true })) {
      if (!file.endsWith('.js')) continue;
      const code = fs.readFileSync(path.join(dir, file), 'utf8');
      for (const [, spec] of code.matchAll(/\brequire\(\s*["'`]([^"'`$]+)["'`]\s*\)/g)) {
        const bare = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (spec.startsWith('.') || builtins.has(spec) || builtins.has(bare) || staged.has(bare)) continue;
        fail(`${name}/${file} requires ${spec}, which is not staged`);
      }
    }
  }
}

/** Relative image paths in a Markdown file that exist in the repository (they ship next to the README). */
function relativeImages(markdown) {
  const images = [...markdown.matchAll(/!\[[^\]]*\]\(([^)\s]+)/g)].map((m) => m[1]);
  return images.filter((p) => !/^[a-z]+:|^\/|^#/i.test(p) && fs.existsSync(path.join(root, p)));
}

/** Every relative link and image of a Markdown file: on the extension page each must resolve inside the VSIX. */
function relativeLinks(markdown) {
  return [...markdown.matchAll(/\]\(([^)\s]+)/g)].map((m) => m[1].split('#')[0]).filter((p) => p && !/^[a-z]+:|^\//i.test(p));
}

/** License texts of everything that ships: bundled packages and what transformers.js inlines, plus runtime packages. */
function thirdPartyNotices(packageDirs) {
  const dirs = new Set(packageDirs);
  // transformers.js's node build inlines its dependencies (tokenizers, jinja, the onnxruntime-web JS glue).
  const transformers = path.join(root, 'node_modules', '@huggingface', 'transformers');
  if (dirs.has(transformers)) {
    for (const dep of Object.keys(readJson(path.join(transformers, 'package.json')).dependencies ?? {})) {
      const dir = path.join(root, 'node_modules', dep);
      if (dep !== 'sharp' && fs.existsSync(dir)) dirs.add(dir);
    }
  }
  const seen = new Set();
  const sections = [];
  for (const dir of [...dirs].sort()) {
    const meta = readJson(path.join(dir, 'package.json'));
    const id = `${meta.name}@${meta.version}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const repo = typeof meta.repository === 'string' ? meta.repository : meta.repository?.url;
    const text = licenseFile
      ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim()
      : `License: ${meta.license ?? 'unknown'} (the npm package has no license file${repo ? `; see ${repo}` : ''})`;
    sections.push(`${id} (${meta.license ?? 'unknown'})\n${'-'.repeat(id.length)}\n\n${text}\n`);
  }
  return `Local GPT-2 ships the following third-party software, bundled into dist/ or in node_modules/.\n\n${sections.join('\n\n')}`;
}

function vsceBin() {
  const bin = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  if (!fs.existsSync(bin)) fail('@vscode/vsce is not installed (it is a devDependency: npm ci)');
  return bin;
}

/** The VSIX holds the extension, its own platform's binaries and nothing from the development tree. */
function checkVsix(target, entries) {
  const names = entries.map((e) => e.name);
  const own = `extension/node_modules/onnxruntime-node/${bindingDir(TARGETS[target])}/`;
  for (const required of ['extension/package.json', 'extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/cli.js', `${own}onnxruntime_binding.node`]) {
    if (!names.includes(required)) fail(`${target}: ${required} is missing from the VSIX`);
  }
  for (const link of relativeLinks(fs.readFileSync(path.join(root, USER_README), 'utf8'))) {
    if (!names.includes(`extension/${link}`)) fail(`${target}: the extension page links ${link}, which the VSIX does not carry`);
  }
  for (const name of names) {
    if (name.includes('/onnxruntime-node/bin/') && !name.startsWith(own)) fail(`${target}: ships another platform's ${name}`);
    if (/\.map$|\.ts$|^extension\/(src|test|bench|models|scripts)\/|onnxruntime-web|\/sharp\//.test(name)) fail(`${target}: ships ${name}`);
  }
}

/** Unpacks the VSIX and generates from the tiny test model with the unpacked CLI: worker, bundles and ONNX Runtime. */
async function smokeTest(vsix, dir) {
  const model = path.join(root, 'models', 'tiny');
  if (!fs.existsSync(path.join(model, 'config.json'))) {
    console.warn(`package: not running ${path.basename(vsix)}: no models/tiny (npm run make-model -- --preset tiny)`);
    return;
  }
  await extractZip(vsix, dir);
  const cli = path.join(dir, 'extension', 'dist', 'cli.js');
  const args = [cli, '--model-dir', model, '--dtype', 'fp32', '--max-tokens', '10', '--seed', '1', 'hello'];
  console.log(`\n== smoke test: node ${path.relative(tmp, cli)} ${args.slice(1).join(' ')}`);
  const result = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  process.stderr.write(result.stderr ?? '');
  if (result.status !== 0 || !result.stdout.trim()) fail(`the unpacked ${path.basename(vsix)} did not generate (exit ${result.status ?? result.signal})`);
  console.log(`generated: ${JSON.stringify(result.stdout)}`);
}
