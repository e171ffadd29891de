// What a failed model load means for the user. The worker's error code says what kind of failure it was; only
// for 'download' does its wording decide more, because "the hub is out of reach" (no network, a proxy) wants
// different words and remedies than "the hub answered 500", and both arrive with that one code.
import type { ErrorCode, ModelSource } from '../protocol';

export type LoadFailureKind = 'unreachable' | 'download' | 'offline' | 'model-files' | 'other';

export interface LoadFailure {
  kind: LoadFailureKind;
  /** One line for a notification. */
  message: string;
  /** The worker's own words, for the log. */
  detail: string;
  /** A local model folder or another hub URL could get the user going. */
  hubRemedies: boolean;
}

/** Node's errors for a connection that never got an answer, TLS refused by an intercepting proxy, and the store's idle timeout. */
const OUT_OF_REACH = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|UND_ERR_CONNECT_TIMEOUT)\b|Connect Timeout Error|certificate|no data from \S+ for \d+ s/i;

export function describeLoadFailure(error: unknown, source: ModelSource): LoadFailure {
  const detail = (error instanceof Error ? error.message : String(error)).trim();
  const code = (error as { code?: unknown } | undefined)?.code as ErrorCode | undefined;
  const other: LoadFailure = { kind: 'other', message: detail, detail, hubRemedies: false };
  if (code === 'model-files') return { ...other, kind: 'model-files' };
  if (source.kind !== 'hub') return other;
  const model = source.revision === 'main' ? source.modelId : `${source.modelId}@${source.revision}`;
  if (code === 'offline') return { kind: 'offline', message: detail, detail, hubRemedies: true };
  if (code !== 'download') return other;
  if (OUT_OF_REACH.test(detail)) {
    return { kind: 'unreachable', message: `Could not reach ${source.hubUrl} to download ${model} (no network or a proxy?)`, detail, hubRemedies: true };
  }
  return { kind: 'download', message: `Downloading ${model} from ${source.hubUrl} failed: ${detail}`, detail, hubRemedies: true };
}
