// Resolves a model source to a local folder holding verified files. Hub models are downloaded into the
// cache folder the host gives (VS Code's global storage), one folder per model id and revision, with a
// manifest of verified sizes and checksums: a file counts as present only when the manifest vouches for it.
// Which ONNX file to fetch depends on the repository (Xenova/* have the merged decoder, onnx-community/* only
// onnx/model*.onnx), so the store asks the hub for the file listing first.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Dtype, ModelSource } from '../../protocol';
import { requireAbsoluteFolder } from '../engine/modelFiles';
import { EngineError } from '../errors';
import { BASE_FILES, onnxCandidates } from '../onnxFiles';
import { snapshotFolder } from './cacheFolder';
import { downloadFile, NotFoundError, type DownloadedFile } from './download';
import { withFolderLock } from './folderLock';
import { listingUrl, listRepoFiles } from './listing';
import { isVerified, readManifest, updateManifest, type Manifest } from './manifest';

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

type HubSource = Extract<ModelSource, { kind: 'hub' }>;

export function hubFileUrl(hubUrl: string, modelId: string, revision: string, file: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/${modelId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

export { snapshotFolder };

export async function resolveModel(source: ModelSource, dtype: Dtype, hooks: StoreHooks = {}): Promise<ResolvedModel> {
  if (source.kind === 'folder') return { folder: await existingFolder(source.path), name: source.path, downloaded: [] };
  const folder = snapshotFolder(source.cacheDir, source.modelId, source.revision);
  const missing = await missingFiles(folder, dtype, await readManifest(folder));
  if (missing.length === 0) return { folder, name: source.modelId, downloaded: [] };
  if (source.offline) throw new EngineError('offline', `${repoName(source)} is not fully downloaded (missing ${missing.join(', ')}) and offline mode is on`);
  const downloaded = await withFolderLock(folder, hooks, () => downloadMissing(source, dtype, folder, hooks));
  return { folder, name: source.modelId, downloaded };
}

/** Another window may have downloaded the files while this one waited for the lock: what is missing is decided again. */
async function downloadMissing(source: HubSource, dtype: Dtype, folder: string, hooks: StoreHooks): Promise<string[]> {
  const missing = await missingFiles(folder, dtype, await readManifest(folder));
  return missing.length > 0 ? downloadModel(source, dtype, folder, hooks) : [];
}

/** What the cache lacks for `dtype`; when no export is cached, its candidate names, as one entry. */
async function missingFiles(folder: string, dtype: Dtype, manifest: Manifest): Promise<string[]> {
  const onnx = await cachedExport(folder, dtype, manifest);
  const missing: string[] = [];
  for (const file of [...BASE_FILES, ...(onnx ?? [])]) if (!(await isVerified(folder, file, manifest))) missing.push(file);
  if (!onnx) missing.push(onnxCandidates(dtype).join(' or '));
  return missing;
}

/** The files of the export the manifest records; manifests from before exports were recorded: a verified candidate. */
async function cachedExport(folder: string, dtype: Dtype, manifest: Manifest): Promise<string[] | undefined> {
  if (manifest.exports[dtype]) return manifest.exports[dtype];
  for (const file of onnxCandidates(dtype)) if (await isVerified(folder, file, manifest)) return [file];
  return undefined;
}

async function downloadModel(source: HubSource, dtype: Dtype, folder: string, hooks: StoreHooks): Promise<string[]> {
  const listing = await listRepoFiles(listingUrl(source.hubUrl, source.modelId, source.revision), hooks);
  const known = listing ? exportInListing(source, dtype, listing) : (await readManifest(folder)).exports[dtype];
  const downloaded: string[] = [];
  for (const file of [...BASE_FILES, ...(known ?? [])]) if (await fetchIfMissing(source, folder, file, hooks)) downloaded.push(file);
  const onnx = known ?? (await probeExport(source, dtype, folder, hooks, downloaded));
  await updateManifest(folder, (manifest) => (manifest.exports[dtype] = onnx));
  return downloaded;
}

/** The first candidate the listing has (merged decoder preferred), with its external-data file when listed. */
function exportInListing(source: HubSource, dtype: Dtype, listing: string[]): string[] {
  const graph = onnxCandidates(dtype).find((file) => listing.includes(file));
  if (!graph) {
    const has = listing.filter((file) => /\.onnx$/.test(file)).sort();
    throw new EngineError('model-files', `${noExport(source, dtype)}; it has ${has.length > 0 ? has.join(', ') : 'no ONNX files'}`);
  }
  return listing.includes(`${graph}_data`) ? [graph, `${graph}_data`] : [graph];
}

/** Without a listing: each candidate in order until one exists, then its external-data file if that exists. */
async function probeExport(source: HubSource, dtype: Dtype, folder: string, hooks: StoreHooks, downloaded: string[]): Promise<string[]> {
  for (const graph of onnxCandidates(dtype)) {
    if (!(await fetchIfPresent(source, folder, graph, hooks, downloaded))) continue;
    return (await fetchIfPresent(source, folder, `${graph}_data`, hooks, downloaded)) ? [graph, `${graph}_data`] : [graph];
  }
  throw new EngineError('model-files', `${noExport(source, dtype)}; none exists at ${source.hubUrl}`);
}

async function fetchIfPresent(source: HubSource, folder: string, file: string, hooks: StoreHooks, downloaded: string[]): Promise<boolean> {
  try {
    if (await fetchIfMissing(source, folder, file, hooks)) downloaded.push(file);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/** Downloads `file` unless the manifest vouches for it; says whether it did. */
async function fetchIfMissing(source: HubSource, folder: string, file: string, hooks: StoreHooks): Promise<boolean> {
  if (await isVerified(folder, file, await readManifest(folder))) return false;
  hooks.log?.(`downloading ${file} of ${repoName(source)} from ${source.hubUrl}`);
  const got = await downloadWithRetry(hubFileUrl(source.hubUrl, source.modelId, source.revision, file), path.join(folder, file), file, hooks);
  await updateManifest(folder, (manifest) => (manifest.files[file] = got));
  return true;
}

/** One more try after a failure: it resumes an interrupted file, or refetches a corrupted one. */
async function downloadWithRetry(url: string, dest: string, file: string, hooks: StoreHooks): Promise<DownloadedFile> {
  const options = { signal: hooks.signal, onProgress: (loaded: number, total: number) => hooks.onProgress?.(file, loaded, total) };
  try {
    return await downloadFile(url, dest, options);
  } catch (error) {
    if (!(error instanceof EngineError) || error instanceof NotFoundError || hooks.signal?.aborted) throw error;
    hooks.log?.(`${error.message}; retrying once`);
    return await downloadFile(url, dest, options);
  }
}

const repoName = (source: HubSource): string => `${source.modelId}@${source.revision}`;

const noExport = (source: HubSource, dtype: Dtype): string => `${repoName(source)} has no ${dtype} ONNX export (looked for ${onnxCandidates(dtype).join(', ')})`;

async function existingFolder(folder: string): Promise<string> {
  requireAbsoluteFolder(folder);
  const stat = await fs.stat(folder).catch(() => undefined);
  if (!stat) throw new EngineError('model-files', `model folder ${folder} does not exist`);
  if (!stat.isDirectory()) throw new EngineError('model-files', `model folder ${folder} is not a folder`);
  return folder;
}
