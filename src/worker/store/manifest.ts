// The manifest of a cache folder: what was verified when it was downloaded (size and sha256 per file) and which
// files make up each dtype's ONNX export. A file counts as present only when the manifest vouches for it and its
// size still matches; updates merge into what is on disk, so that no writer drops another's entries.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Dtype } from '../../protocol';
import type { DownloadedFile } from './download';

const MANIFEST = 'local-gpt2-manifest.json';

export interface Manifest {
  files: Record<string, DownloadedFile>;
  /** The ONNX files of each dtype's export (the graph, and its external-data file when it has one). */
  exports: Partial<Record<Dtype, string[]>>;
}

export async function readManifest(folder: string): Promise<Manifest> {
  try {
    const json = JSON.parse(await fs.readFile(path.join(folder, MANIFEST), 'utf8'));
    return { files: json.files ?? {}, exports: json.exports ?? {} };
  } catch {
    return { files: {}, exports: {} }; // no manifest, or a damaged one: every file is re-verified by downloading it again
  }
}

export async function updateManifest(folder: string, update: (manifest: Manifest) => void): Promise<void> {
  const manifest = await readManifest(folder);
  update(manifest);
  const file = path.join(folder, MANIFEST);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`; // a name of its own: a shared one could be renamed away by another writer
  await fs.writeFile(tmp, JSON.stringify({ version: 2, ...manifest }, null, 2));
  await fs.rename(tmp, file);
}

/** Size against the manifest: cheap enough for every load, and it catches truncation and swapped files. */
export async function isVerified(folder: string, file: string, manifest: Manifest): Promise<boolean> {
  const entry = manifest.files[file];
  if (!entry) return false;
  const stat = await fs.stat(path.join(folder, file)).catch(() => undefined);
  return stat?.isFile() === true && stat.size === entry.size;
}
