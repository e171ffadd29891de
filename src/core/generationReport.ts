// What Generate continuation tells the user: the token count in its notification, and one log line saying how it
// ended (and, when cancelled, by what), with what was written.
import type { StopReason } from '../protocol';

/** What stopped a run before the model did. */
export type StopCause = 'Escape' | 'edit' | 'cursor moved' | 'editor closed' | 'notification cancel' | 'shutdown';

interface Written {
  tokens: number;
  characters: number;
  ms: number;
}

export type GenerationEnding = Written &
  (
    | { kind: 'done'; reason: StopReason; promptTokens: number; reusedTokens: number }
    | { kind: 'cancelled'; cause: StopCause }
    | { kind: 'error'; message: string }
  );

export function progressMessage(tokens: number): string {
  return `${tokens} ${tokens === 1 ? 'token' : 'tokens'}`;
}

export function describeEnding(ending: GenerationEnding): string {
  const written = `${progressMessage(ending.tokens)}, ${ending.characters} characters written in ${Math.round(ending.ms)} ms`;
  switch (ending.kind) {
    case 'done':
      return `Generate continuation ended: ${ending.reason}; ${written} (${ending.promptTokens} prompt tokens, ${ending.reusedTokens} reused)`;
    case 'cancelled':
      return `Generate continuation ended: cancelled by ${ending.cause}; ${written}`;
    case 'error':
      return `Generate continuation ended: error (${ending.message}); ${written}`;
  }
}
