// The per-system summary that the request scenarios (cold request, typing session) share.
import { summarize, type Summary } from '../stats';
import type { RequestTiming } from '../systems/completionSystem';

export interface RequestStats {
  ms: Summary;
  firstTokenMs: Summary;
  /** Tokens actually generated, min..max over the requests: must equal the requested count to compare. */
  newTokens: { min: number; max: number };
  requests: RequestTiming[];
}

export function requestStats(requests: RequestTiming[]): RequestStats {
  const generated = requests.map((r) => r.newTokens);
  return {
    ms: summarize(requests.map((r) => r.ms)),
    firstTokenMs: summarize(requests.map((r) => r.firstTokenMs)),
    newTokens: { min: Math.min(...generated), max: Math.max(...generated) },
    requests,
  };
}
