// A hub-shaped HTTP server on 127.0.0.1 for tests: serves a model folder at /{model}/resolve/{revision}/{file},
// and its file listing at /api/models/{model}/revision/{revision} (Hugging Face's JSON: `sha`, `siblings`),
// like huggingface.co: small files answer directly (ETag = git blob sha1); LFS files (weights) answer 302
// to a CDN path, with their size and sha256 only on that redirect (x-linked-size, x-linked-etag), and the
// CDN serves the bytes with Range support. Faults switch on where the bytes are served.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';

export type Fault =
  | 'truncate' // send the declared length's headers but close the connection half way
  | 'corrupt' // send the right number of bytes with some flipped
  | 'status500' // answer 500
  | 'stall' // send half the body, then nothing until the client gives up
  | 'shiftedRange' // answer a Range request with a 206 that starts 10 bytes before the asked offset
  | 'endless'; // a 200 without Content-Length whose body goes on and on

export interface HubRequest {
  method: string;
  file: string;
  range?: string;
  /** 'resolve': the hub URL (bytes of small files, a redirect for LFS files); 'cdn': LFS bytes after the redirect; 'api': the listing */
  step: 'resolve' | 'cdn' | 'api';
  ifRange?: string;
  /** bytes written for an 'endless' body before the client hung up */
  sent?: number;
}

const ENDLESS_BYTES = 200 * 1024 * 1024;

const LFS_FILE = /\.(onnx|onnx_data|safetensors|bin)$/;

export class LoopbackHub {
  readonly requests: HubRequest[] = [];
  /** Faults to inject, per file name; each is used once, then the file is served correctly. */
  readonly faults = new Map<string, Fault[]>();
  /** false: a plain mirror that serves files but has no /api/models endpoint (it answers 404). */
  api = true;
  /** Send x-linked-etag in upper-case hex, as some mirrors and proxies do. */
  upperCaseEtags = false;
  /** Pause this long between chunks of a body (20 chunks a file). */
  chunkDelayMs = 0;
  private server?: Server;
  private readonly sha256 = new Map<string, string>();

  /** @param models model id -> folder on disk holding config.json, tokenizer.json, onnx/... */
  constructor(private readonly models: Record<string, string>) {}

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  injectFault(file: string, fault: Fault): void {
    this.faults.set(file, [...(this.faults.get(file) ?? []), fault]);
  }

  private fileHash(file: string, algorithm: 'sha256' | 'sha1' | 'md5'): string {
    const { mtimeMs, size } = fs.statSync(file); // tests change served files
    const key = `${algorithm}:${file}:${mtimeMs}:${size}`;
    let hash = this.sha256.get(key);
    if (!hash) {
      hash = createHash(algorithm).update(fs.readFileSync(file)).digest('hex');
      this.sha256.set(key, hash);
    }
    return hash;
  }

  private list(model: string, revision: string, req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method ?? 'GET', file: '', step: 'api' });
    const folder = revision === 'main' ? this.models[model] : undefined;
    if (!this.api || !folder) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Repository not found"}');
    const files = (fs.readdirSync(folder, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(folder, f)).isFile());
    const siblings = files.map((f) => ({ rfilename: f.split(path.sep).join('/') })).sort((a, b) => a.rfilename.localeCompare(b.rfilename));
    const sha = createHash('sha1').update(JSON.stringify(siblings)).digest('hex');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: model, modelId: model, sha, siblings }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url);
    if (api) return this.list(api[1], api[2], req, res);
    const match = /^\/(.+?)\/(resolve|cdn)\/([^/]+)\/(.+)$/.exec(url);
    const [model, step, revision, file] = match ? [match[1], match[2] as HubRequest['step'], match[3], match[4]] : ['', 'resolve' as const, '', url];
    const folder = revision === 'main' ? this.models[model] : undefined; // one revision: main
    this.requests.push({ method: req.method ?? 'GET', file, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, step });
    if (!folder) return void res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end('Repository not found');
    const full = path.join(folder, file);
    if (!full.startsWith(folder + path.sep) || !fs.existsSync(full) || !fs.statSync(full).isFile()) {
      return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    }
    const lfs = LFS_FILE.test(file);
    if (lfs && step === 'resolve') {
      return void res
        .writeHead(302, {
          location: `/${model}/cdn/${revision}/${file}?X-Amz-Signature=${this.fileHash(full, 'md5')}`,
          'x-linked-etag': `"${this.upperCaseEtags ? this.fileHash(full, 'sha256').toUpperCase() : this.fileHash(full, 'sha256')}"`,
          'x-linked-size': fs.statSync(full).size,
        })
        .end();
    }
    this.serveBytes(req, res, full, lfs, this.faults.get(file)?.shift());
  }

  private serveBytes(req: IncomingMessage, res: ServerResponse, full: string, lfs: boolean, fault: Fault | undefined): void {
    if (fault === 'status500') return void res.writeHead(500).end('Internal error');
    if (fault === 'endless') return void this.endless(res);
    const body = fs.readFileSync(full);
    // The CDN's ETag is its own (an md5 here), a small file's is its git blob hash: neither is a sha256.
    const etag = `"${this.fileHash(full, lfs ? 'md5' : 'sha1')}"`;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag };
    let start = 0;
    let end = body.length - 1;
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null; // a changed file is sent whole
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start > end) return void res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      if (fault === 'shiftedRange') start -= Math.min(start, 10);
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
    }
    headers['content-length'] = end - start + 1;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    this.send(res, body.subarray(start, end + 1), fault);
  }

  private send(res: ServerResponse, payload: Buffer, fault: Fault | undefined): void {
    if (fault === 'corrupt') {
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i += 997) payload[i] ^= 0xff;
    }
    if (fault === 'truncate') {
      res.write(payload.subarray(0, payload.length >> 1));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    if (fault === 'stall') {
      res.write(payload.subarray(0, payload.length >> 1));
      return; // the client's timeout or abort ends it
    }
    if (this.chunkDelayMs > 0) return void this.trickle(res, payload);
    res.end(payload);
  }

  /** Slow enough that two clients' downloads overlap. */
  private async trickle(res: ServerResponse, payload: Buffer): Promise<void> {
    const step = Math.max(64 * 1024, Math.ceil(payload.length / 20));
    for (let at = 0; at < payload.length && !res.destroyed; at += step) {
      res.write(payload.subarray(at, at + step));
      await new Promise((resolve) => setTimeout(resolve, this.chunkDelayMs));
    }
    res.end();
  }

  /** A body with no length that goes on (up to ENDLESS_BYTES) until the client hangs up; counts what it wrote. */
  private async endless(res: ServerResponse): Promise<void> {
    const request = this.requests.at(-1)!;
    request.sent = 0;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    while (!res.destroyed && request.sent < ENDLESS_BYTES) {
      request.sent += chunk.length;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    res.end();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
