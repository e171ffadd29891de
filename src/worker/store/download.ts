// Downloads one file from a hub-shaped server into `dest`, never leaving a partial file under that name.
// transformers.js's own downloader writes atomically but neither resumes nor checks what it got, and a
// 130 MB model over a flaky connection needs both: bytes go to `dest.partial`, an interrupted download
// resumes with a Range request (If-Range with the ETag it started from, so that a file changed upstream is not
// pieced together from two versions), and the result must match the size and sha256 the hub announces
// (`x-linked-size` / `x-linked-etag` for LFS files) before it is renamed into place. The hub sends those
// headers on its redirect to the CDN, not on the CDN's answer, so redirects are followed here, by hand (and
// never from HTTPS down to HTTP). No body may run past its announced size, or past a cap when none is announced.
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
  const files = partialFiles(dest);
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const watchdog = new IdleWatchdog(options.signal, options.idleTimeoutMs ?? 30_000);
  try {
    // A resume the server cannot honour (416, a range that starts elsewhere) discards the partial: one fresh start.
    const got = (await attempt(url, files, options, watchdog, await resumePoint(files))) ?? (await attempt(url, files, options, watchdog, undefined));
    if (!got) throw new EngineError('download', `${path.basename(dest)}: the server at ${url} keeps answering with a part of the file that was not asked for`);
    return got;
  } catch (error) {
    throw asEngineError(error, url, dest, options.signal, watchdog);
  } finally {
    watchdog.stop();
  }
}

/** `dest.partial` holds the bytes so far; `dest.partial.json` what identifies them (ETag, sha256), for a safe resume. */
interface PartialFiles {
  dest: string;
  partial: string;
  sidecar: string;
}

const partialFiles = (dest: string): PartialFiles => ({ dest, partial: `${dest}.partial`, sidecar: `${dest}.partial.json` });

interface ResumePoint {
  offset: number;
  /** The strong ETag of the response that started the partial, for If-Range. */
  etag?: string;
}

/**
 * Only a partial whose bytes can be told apart from a newer file's is resumed: with its ETag (If-Range makes the
 * server send the whole new file instead) or a sha256 (the checksum rejects a mix). Anything else starts over.
 */
async function resumePoint(files: PartialFiles): Promise<ResumePoint | undefined> {
  const offset = await sizeOf(files.partial);
  if (offset === 0) return undefined;
  const sidecar = await fs.promises.readFile(files.sidecar, 'utf8').then(JSON.parse, () => ({}));
  if (typeof sidecar.etag === 'string' || typeof sidecar.sha256 === 'string') return { offset, etag: sidecar.etag };
  await discard(files);
  return undefined;
}

/** One request; undefined when the server cannot continue the partial, which is then discarded. */
async function attempt(url: string, files: PartialFiles, options: DownloadOptions, watchdog: IdleWatchdog, resume: ResumePoint | undefined): Promise<DownloadedFile | undefined> {
  const headers: Record<string, string> = resume ? { Range: `bytes=${resume.offset}-`, ...(resume.etag ? { 'If-Range': resume.etag } : {}) } : {};
  const { response, announced } = await fetchFollowingRedirects(url, headers, watchdog.signal);
  const offset = writeOffset(response, resume?.offset ?? 0);
  if (offset === undefined) {
    await response.body?.cancel();
    await discard(files);
    return undefined;
  }
  if (!response.ok || !response.body) throw httpError(url, files.dest, response.status);
  const expected = expectedFile(response, offset, announced);
  if (offset === 0) await writeSidecar(files, response, expected);
  await receive(response.body, files, offset, expected, options, watchdog);
  const got = await verify(files, expected);
  await fs.promises.rename(files.partial, files.dest);
  await fs.promises.rm(files.sidecar, { force: true });
  return got;
}

/** Where the body goes in the partial file; undefined for an answer that does not continue it at `asked`. */
function writeOffset(response: Response, asked: number): number | undefined {
  if (response.status === 416) return undefined; // the partial is complete already, or longer than the file is now
  if (response.status !== 206) return 0;
  return contentRangeStart(response) === asked ? asked : undefined;
}

async function writeSidecar(files: PartialFiles, response: Response, expected: ExpectedFile): Promise<void> {
  const etag = response.headers.get('etag') ?? undefined;
  const strong = etag && !etag.startsWith('W/') ? etag : undefined; // If-Range allows only a strong validator
  await fs.promises.writeFile(files.sidecar, JSON.stringify({ etag: strong, sha256: expected.sha256 }));
}

async function discard(files: PartialFiles): Promise<void> {
  await fs.promises.rm(files.partial, { force: true });
  await fs.promises.rm(files.sidecar, { force: true });
}

/** Streams the body into the partial file, and stops at the first byte past what the file may hold. */
async function receive(body: ReadableStream, files: PartialFiles, offset: number, expected: ExpectedFile, options: DownloadOptions, watchdog: IdleWatchdog): Promise<void> {
  const limit = expected.size ?? capFor(files.dest);
  let loaded = offset;
  const progress = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      watchdog.keepAlive();
      loaded += chunk.length;
      if (loaded > limit) return done(new TooLarge(tooLargeMessage(files.dest, expected.size)));
      options.onProgress?.(loaded, expected.size ?? 0);
      done(null, chunk);
    },
  });
  try {
    // pipeline() surfaces write errors (a full disk) as a rejection and closes every stream.
    await pipeline(Readable.fromWeb(body as never), progress, fs.createWriteStream(files.partial, { flags: offset > 0 ? 'a' : 'w' }));
  } catch (error) {
    if (!(error instanceof TooLarge)) throw error;
    await discard(files);
    throw new EngineError('download', error.message);
  }
}

class TooLarge extends Error {}

/** Hub weights always announce their size; a file that does not gets a cap far above any real one of its kind. */
const capFor = (dest: string): number => (/\.json$/.test(dest) ? 64 * 2 ** 20 : 8 * 2 ** 30);

function tooLargeMessage(dest: string, announced: number | undefined): string {
  const name = path.basename(dest);
  if (announced !== undefined) return `${name}: the server sent more than the announced ${announced} bytes; the partial download was deleted and the next attempt starts over`;
  const cap = capFor(dest);
  const limit = cap >= 2 ** 30 ? `${cap / 2 ** 30} GiB` : `${cap / 2 ** 20} MB`;
  return `${name}: more than ${limit} with no announced size, far more than such a file holds; stopped, and the partial download was deleted. Check the hub URL setting`;
}

/** Gives up when no byte arrives for `ms`; the caller's own signal aborts too. */
class IdleWatchdog {
  readonly signal: AbortSignal;
  private readonly idle = new AbortController();
  private timer?: NodeJS.Timeout;

  constructor(
    outer: AbortSignal | undefined,
    readonly ms: number,
  ) {
    this.signal = outer ? AbortSignal.any([outer, this.idle.signal]) : this.idle.signal;
    this.keepAlive();
  }

  get timedOut(): boolean {
    return this.idle.signal.aborted;
  }

  keepAlive(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.idle.abort(), this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

function asEngineError(error: unknown, url: string, dest: string, signal: AbortSignal | undefined, watchdog: IdleWatchdog): unknown {
  const name = path.basename(dest);
  if (error instanceof EngineError) return error;
  if (watchdog.timedOut) return new EngineError('download', `${name}: no data from ${url} for ${watchdog.ms / 1000} s; the next attempt resumes`);
  if (signal?.aborted) return error;
  if (error instanceof RedirectRefused) return new EngineError('download', `${name}: ${error.message}`);
  if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return new EngineError('download', `${name}: disk full while downloading to ${path.dirname(dest)}`);
  return new EngineError('download', `${name}: download from ${url} failed (${causeOf(error)}); the next attempt resumes`);
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
    url = checkedRedirect(url, location);
  }
}

class RedirectRefused extends Error {}

/** An HTTPS hub that redirects to plain HTTP would hand the bytes to anyone on the way: not followed. */
function checkedRedirect(from: string, location: string): string {
  const to = new URL(location, from);
  if (new URL(from).protocol === 'https:' && to.protocol !== 'https:') {
    throw new RedirectRefused(`refusing the redirect from ${new URL(from).origin} to plain ${to.origin}: the download would not be encrypted. Use a hub or mirror that serves HTTPS throughout`);
  }
  return to.toString();
}

function expectedFile(response: Response, offset: number, announced: Announced): ExpectedFile {
  const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
  const length = response.headers.get('content-length');
  const size = Number(announced.linkedSize ?? total ?? (length === null ? NaN : Number(length) + offset));
  const etag = (announced.linkedEtag ?? '').replace(/^W\//, '').replaceAll('"', '').toLowerCase(); // some proxies send upper-case hex
  return { size: Number.isFinite(size) ? size : undefined, sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined };
}

/** Checks size and checksum; a file that fails is deleted, because resuming it would keep the bad bytes. */
async function verify(files: PartialFiles, expected: ExpectedFile): Promise<DownloadedFile> {
  const size = await sizeOf(files.partial);
  const sha256 = await sha256Of(files.partial);
  const name = path.basename(files.dest);
  if (expected.size !== undefined && size !== expected.size) {
    if (size > expected.size) await discard(files);
    throw new EngineError('download', `${name}: got ${size} of ${expected.size} bytes; the next attempt resumes`);
  }
  if (expected.sha256 && sha256 !== expected.sha256) {
    await discard(files);
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
