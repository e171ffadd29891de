// Resolves a model source to a local folder holding verified files. Hub models are downloaded into the
// cache folder the host gives (VS Code's global storage), one folder per model id and revision, with a
// manifest of verified sizes and checksums: a file counts as present only when the manifest vouches for it.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Dtype, ModelSource } from '../../protocol';
import { EngineError } from '../errors';
import { onnxFileName } from '../onnxFiles';
import { snapshotFolder } from './cacheFolder';
import { downloadFile, type DownloadedFile } from './download';

export interface StoreHooks {
  signal?: AbortSignal;
  onProgress?(file: string, loaded: number, total: number): void;
  log?(message: string): void;
}

export interface ResolvedModel {
  folder: string;
  name: string;
  downloaded: string[]; // files fetched by this call (empty when everything was cached)
}

const MANIFEST = 'local-gpt2-manifest.json';

export function filesFor(dtype: Dtype): string[] {
  return ['config.json', 'tokenizer.json', 'tokenizer_config.json', onnxFileName(dtype)];
}

export function hubFileUrl(hubUrl: string, modelId: string, revision: string, file: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/${modelId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

export { snapshotFolder };

export async function resolveModel(source: ModelSource, dtype: Dtype, hooks: StoreHooks = {}): Promise<ResolvedModel> {
  if (source.kind === 'folder') return { folder: await existingFolder(source.path), name: source.path, downloaded: [] };
  const { modelId, revision, hubUrl, cacheDir, offline } = source;
  const folder = snapshotFolder(cacheDir, modelId, revision);
  const manifest = await readManifest(folder);
  const missing: string[] = [];
  for (const file of filesFor(dtype)) if (!(await isVerified(folder, file, manifest[file]))) missing.push(file);
  if (missing.length > 0 && offline) {
    throw new EngineError('offline', `${modelId}@${revision} is not fully downloaded (missing ${missing.join(', ')}) and offline mode is on`);
  }
  for (const file of missing) {
    hooks.log?.(`downloading ${file} of ${modelId}@${revision} from ${hubUrl}`);
    manifest[file] = await downloadWithRetry(hubFileUrl(hubUrl, modelId, revision, file), path.join(folder, file), file, hooks);
    await writeManifest(folder, manifest);
  }
  return { folder, name: modelId, downloaded: missing };
}

/** One more try after a failure: it resumes an interrupted file, or refetches a corrupted one. */
async function downloadWithRetry(url: string, dest: string, file: string, hooks: StoreHooks): Promise<DownloadedFile> {
  const options = { signal: hooks.signal, onProgress: (loaded: number, total: number) => hooks.onProgress?.(file, loaded, total) };
  try {
    return await downloadFile(url, dest, options);
  } catch (error) {
    if (!(error instanceof EngineError) || error.message.includes('not found') || hooks.signal?.aborted) throw error;
    hooks.log?.(`${error.message}; retrying once`);
    return await downloadFile(url, dest, options);
  }
}

type Manifest = Record<string, DownloadedFile>;

async function readManifest(folder: string): Promise<Manifest> {
  try {
    return JSON.parse(await fs.readFile(path.join(folder, MANIFEST), 'utf8')).files ?? {};
  } catch {
    return {}; // no manifest, or a damaged one: every file is re-verified by downloading it again
  }
}

async function writeManifest(folder: string, files: Manifest): Promise<void> {
  const file = path.join(folder, MANIFEST);
  await fs.writeFile(`${file}.tmp`, JSON.stringify({ version: 1, files }, null, 2));
  await fs.rename(`${file}.tmp`, file);
}

/** Size against the manifest: cheap enough for every load, and it catches truncation and swapped files. */
async function isVerified(folder: string, file: string, entry: DownloadedFile | undefined): Promise<boolean> {
  if (!entry) return false;
  const stat = await fs.stat(path.join(folder, file)).catch(() => undefined);
  return stat?.isFile() === true && stat.size === entry.size;
}

async function existingFolder(folder: string): Promise<string> {
  const stat = await fs.stat(folder).catch(() => undefined);
  if (!stat) throw new EngineError('model-files', `model folder ${folder} does not exist`);
  if (!stat.isDirectory()) throw new EngineError('model-files', `model folder ${folder} is not a folder`);
  return folder;
}
