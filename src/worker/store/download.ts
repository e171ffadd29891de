// Downloads one file from a hub-shaped server into `dest`, never leaving a partial file under that name.
// transformers.js's own downloader writes atomically but neither resumes nor checks what it got, and a
// 130 MB model over a flaky connection needs both: bytes go to `dest.partial`, an interrupted download
// resumes with a Range request, and the result must match the size and sha256 the hub announces
// (`x-linked-size` / `x-linked-etag` for LFS files) before it is renamed into place. The hub sends those
// headers on its redirect to the CDN, not on the CDN's answer, so redirects are followed here, by hand.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, errorMessage } from '../errors';

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Give up when no byte arrives for this long; the partial file stays for a resume. */
  idleTimeoutMs?: number;
  onProgress?(loaded: number, total: number): void;
}

/** The server has no such file (404): for an ONNX file name, the store then tries the next candidate. */
export class NotFoundError extends EngineError {}

export interface DownloadedFile {
  size: number;
  sha256: string;
}

export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadedFile> {
  const partial = `${dest}.partial`;
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const have = await sizeOf(partial);
  const idle = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
  let timer = setTimeout(() => idle.abort(), options.idleTimeoutMs ?? 30_000);
  const keepAlive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), options.idleTimeoutMs ?? 30_000);
  };
  try {
    const { response, announced } = await fetchFollowingRedirects(url, have > 0 ? { Range: `bytes=${have}-` } : {}, signal);
    const resumed = response.status === 206 && contentRangeStart(response) === have;
    if (!response.ok || !response.body) throw httpError(url, dest, response.status);
    const expected = expectedFile(response, resumed ? have : 0, announced);
    let loaded = resumed ? have : 0;
    const progress = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        keepAlive();
        loaded += chunk.length;
        options.onProgress?.(loaded, expected.size ?? 0);
        done(null, chunk);
      },
    });
    // pipeline() surfaces write errors (a full disk) as a rejection and closes every stream.
    await pipeline(Readable.fromWeb(response.body as never), progress, fs.createWriteStream(partial, { flags: resumed ? 'a' : 'w' }));
    const got = await verify(partial, dest, expected);
    await fs.promises.rename(partial, dest);
    return got;
  } catch (error) {
    if (error instanceof EngineError) throw error;
    if (idle.signal.aborted) throw new EngineError('download', `${path.basename(dest)}: no data from ${url} for ${(options.idleTimeoutMs ?? 30_000) / 1000} s; the next attempt resumes`);
    if (options.signal?.aborted) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new EngineError('download', `${path.basename(dest)}: disk full while downloading to ${path.dirname(dest)}`);
    throw new EngineError('download', `${path.basename(dest)}: download from ${url} failed (${causeOf(error)}); the next attempt resumes`);
  } finally {
    clearTimeout(timer);
  }
}

interface ExpectedFile {
  size?: number;
  sha256?: string;
}

/** What any hop announced about the file: x-linked-size and x-linked-etag (the sha256 of an LFS file). */
interface Announced {
  linkedSize: string | null;
  linkedEtag: string | null;
}

const MAX_REDIRECTS = 5;

export async function fetchFollowingRedirects(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ response: Response; announced: Announced }> {
  const announced: Announced = { linkedSize: null, linkedEtag: null };
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, { headers, signal, redirect: 'manual' });
    announced.linkedSize ??= response.headers.get('x-linked-size');
    announced.linkedEtag ??= response.headers.get('x-linked-etag');
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, announced };
    await response.body?.cancel();
    if (hop === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    url = new URL(location, url).toString();
  }
}

function expectedFile(response: Response, offset: number, announced: Announced): ExpectedFile {
  const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
  const length = response.headers.get('content-length');
  const size = Number(announced.linkedSize ?? total ?? (length === null ? NaN : Number(length) + offset));
  const etag = (announced.linkedEtag ?? '').replace(/^W\//, '').replaceAll('"', '');
  return { size: Number.isFinite(size) ? size : undefined, sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined };
}

/** Checks size and checksum; a file that fails is deleted, because resuming it would keep the bad bytes. */
async function verify(partial: string, dest: string, expected: ExpectedFile): Promise<DownloadedFile> {
  const size = await sizeOf(partial);
  const sha256 = await sha256Of(partial);
  const name = path.basename(dest);
  if (expected.size !== undefined && size !== expected.size) {
    if (size > expected.size) await fs.promises.rm(partial, { force: true });
    throw new EngineError('download', `${name}: got ${size} of ${expected.size} bytes; the next attempt resumes`);
  }
  if (expected.sha256 && sha256 !== expected.sha256) {
    await fs.promises.rm(partial, { force: true });
    throw new EngineError('model-files', `${name}: checksum mismatch (sha256 ${sha256.slice(0, 12)}…, expected ${expected.sha256.slice(0, 12)}…); the corrupted download was deleted`);
  }
  return { size, sha256 };
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sizeOf(file: string): Promise<number> {
  return fs.promises.stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

function contentRangeStart(response: Response): number {
  return Number(/^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1] ?? -1);
}

function httpError(url: string, dest: string, status: number): EngineError {
  const name = path.basename(dest);
  if (status === 404) return new NotFoundError('model-files', `${name}: not found at ${url} (404). Check the model id, revision and dtype.`);
  if (status === 401 || status === 403) return new EngineError('download', `${name}: access denied at ${url} (${status}). Gated or private models are not supported.`);
  return new EngineError('download', `${name}: the server answered ${status} for ${url}`);
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause ? `${errorMessage(error)}: ${errorMessage(cause)}` : errorMessage(error);
}
