// Which files a hub repository has, from Hugging Face's `GET /api/models/{id}/revision/{rev}` (`siblings`), so
// that the store asks only for ONNX files that exist and can say which ones do. A mirror that serves files but
// not this endpoint gets undefined, and the store falls back to trying file names in order.
import { errorMessage } from '../errors';
import { fetchFollowingRedirects } from './download';

const MAX_LISTING_BYTES = 16 * 1024 * 1024; // a repository with thousands of files lists in well under 1 MB
const LISTING_TIMEOUT_MS = 30_000;

export function listingUrl(hubUrl: string, modelId: string, revision: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/api/models/${modelId}/revision/${encodeURIComponent(revision)}`;
}

/** The repository's file paths ('/'-separated), or undefined when the hub gives no usable listing. */
export async function listRepoFiles(url: string, hooks: { signal?: AbortSignal; log?(message: string): void }): Promise<string[] | undefined> {
  const timeout = AbortSignal.timeout(LISTING_TIMEOUT_MS);
  try {
    const { response } = await fetchFollowingRedirects(url, { accept: 'application/json' }, hooks.signal ? AbortSignal.any([hooks.signal, timeout]) : timeout);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const files = siblingsOf(JSON.parse(await readCapped(response.body)));
    if (!files) throw new Error('no "siblings" in the answer');
    return files;
  } catch (error) {
    if (hooks.signal?.aborted) throw error;
    hooks.log?.(`no file listing at ${url} (${errorMessage(error)}); trying the ONNX file names in order`);
    return undefined;
  }
}

function siblingsOf(json: unknown): string[] | undefined {
  const siblings = (json as { siblings?: unknown } | null)?.siblings;
  if (!Array.isArray(siblings)) return undefined;
  return siblings.map((s: { rfilename?: unknown } | null) => s?.rfilename).filter((name): name is string => typeof name === 'string');
}

async function readCapped(body: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_LISTING_BYTES) throw new Error(`listing larger than ${MAX_LISTING_BYTES / 1024 / 1024} MB`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
