// Reads VSIX files (zip) with yauzl, which @vscode/vsce already depends on.
import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);

function loadYauzl() {
  try {
    return require('yauzl');
  } catch {
    // Not hoisted: take the copy vsce uses.
    return createRequire(require.resolve('@vscode/vsce/package.json'))('yauzl');
  }
}

/** Calls `onEntry(entry, zip)` for each entry in order; it may return a promise. */
function walk(file, onEntry) {
  const yauzl = loadYauzl();
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry) => {
        Promise.resolve(onEntry(entry, zip)).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  });
}

/** Every file in the archive: { name, size } (uncompressed size). */
export async function listZip(file) {
  const entries = [];
  await walk(file, (entry) => {
    if (!entry.fileName.endsWith('/')) entries.push({ name: entry.fileName, size: entry.uncompressedSize });
  });
  return entries;
}

/** Extracts the archive into `dir`, refusing paths that would land outside it. */
export async function extractZip(file, dir) {
  const root = path.resolve(dir);
  await walk(file, (entry, zip) => {
    const target = path.resolve(root, entry.fileName);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error(`unsafe path in ${file}: ${entry.fileName}`);
    if (entry.fileName.endsWith('/')) return mkdirSync(target, { recursive: true });
    mkdirSync(path.dirname(target), { recursive: true });
    return new Promise((resolve, reject) =>
      zip.openReadStream(entry, (err, stream) => (err ? reject(err) : pipeline(stream, createWriteStream(target)).then(resolve, reject))),
    );
  });
}
