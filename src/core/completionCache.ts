// Remembers recent completions by the prompt they were generated for.
//
// Besides exact hits it serves "typing through": when the user types the first characters of a
// suggestion, the new prompt is the old one plus those characters, and the rest of the same
// suggestion is still right, so it is returned without asking the model again.

export interface CompletionCacheLimits {
  maxEntries: number;
  /** Characters of keys plus completions, all entries together. */
  maxChars: number;
}

export const DEFAULT_CACHE_LIMITS: CompletionCacheLimits = Object.freeze({ maxEntries: 100, maxChars: 1_000_000 });

export class CompletionCache {
  // Map keeps insertion order: the first key is the least recently used.
  private readonly entries = new Map<string, readonly string[]>();
  private chars = 0;
  private readonly limits: CompletionCacheLimits;

  constructor(limits: Partial<CompletionCacheLimits> = {}) {
    this.limits = {
      maxEntries: atLeastOne(limits.maxEntries, DEFAULT_CACHE_LIMITS.maxEntries),
      maxChars: atLeastOne(limits.maxChars, DEFAULT_CACHE_LIMITS.maxChars),
    };
  }

  get size(): number {
    return this.entries.size;
  }

  get totalChars(): number {
    return this.chars;
  }

  /**
   * The completions stored for `prefix`, or the unseen rest of the completions of the longest
   * cached prefix that the user has typed through. `[]` is a remembered "nothing to suggest";
   * undefined is a miss.
   */
  get(prefix: string): string[] | undefined {
    const exact = this.entries.get(prefix);
    if (exact !== undefined) {
      this.touch(prefix, exact);
      return [...exact];
    }
    return this.typedThrough(prefix);
  }

  put(prefix: string, completions: readonly string[]): void {
    this.remove(prefix);
    const size = entrySize(prefix, completions);
    if (size > this.limits.maxChars) return; // would evict everything else and still not fit
    this.entries.set(prefix, Object.freeze([...completions]));
    this.chars += size;
    this.evictOverflow();
  }

  clear(): void {
    this.entries.clear();
    this.chars = 0;
  }

  private typedThrough(prefix: string): string[] | undefined {
    let bestKey: string | undefined;
    let bestRest: string[] = [];
    for (const [key, completions] of this.entries) {
      if (key.length >= prefix.length || (bestKey !== undefined && key.length <= bestKey.length)) continue;
      if (!prefix.startsWith(key)) continue;
      const typed = prefix.slice(key.length);
      const rest = completions
        .filter((completion) => completion.length > typed.length && completion.startsWith(typed))
        .map((completion) => completion.slice(typed.length));
      if (rest.length > 0) [bestKey, bestRest] = [key, rest];
    }
    if (bestKey === undefined) return undefined;
    this.touch(bestKey, this.entries.get(bestKey)!);
    return bestRest;
  }

  private touch(key: string, completions: readonly string[]): void {
    this.entries.delete(key);
    this.entries.set(key, completions);
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.chars -= entrySize(key, old);
  }

  private evictOverflow(): void {
    while (this.entries.size > this.limits.maxEntries || this.chars > this.limits.maxChars) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
    }
  }
}

/** What an entry counts against maxChars: its key and every completion. */
function entrySize(key: string, completions: readonly string[]): number {
  return key.length + completions.reduce((sum, completion) => sum + completion.length, 0);
}

function atLeastOne(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}
