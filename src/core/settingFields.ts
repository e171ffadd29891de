// Checks for one setting value each. Settings come from hand-edited JSON, so any value can show
// up; every check returns something usable and, when it had to correct the value, one sentence
// that names the setting, the bad value and what is used instead.

export interface Checked<T> {
  value: T;
  problems: string[];
}

/** `name` is the full setting name as the user sees it, e.g. `localGpt2.topK`. */
export type FieldCheck<T> = (raw: unknown, name: string) => Checked<T>;

const SHOWN_STRING_CHARS = 60;

/** Shows a bad value the way the user typed it in settings.json, shortened so a message stays one line. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const json = JSON.stringify(value);
    return json.length <= SHOWN_STRING_CHARS ? json : `${json.slice(0, SHOWN_STRING_CHARS - 2)}…"`;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

function ok<T>(value: T): Checked<T> {
  return { value, problems: [] };
}

function corrected<T>(name: string, raw: unknown, reason: string, value: T, shown: string): Checked<T> {
  return { value, problems: [`${name}: ${describeValue(raw)} ${reason}; using ${shown}`] };
}

export function booleanField(fallback: boolean): FieldCheck<boolean> {
  return (raw, name) =>
    typeof raw === 'boolean' ? ok(raw) : corrected(name, raw, 'is not true or false', fallback, String(fallback));
}

export interface NumberRule {
  min: number;
  max: number;
  integer: boolean;
  fallback: number;
  /** Values with a special meaning, spelled out in messages so a clamp to 0 does not look like a bug. */
  meanings?: Readonly<Record<number, string>>;
}

export function numberField(rule: NumberRule): FieldCheck<number> {
  const shown = (n: number): string => (rule.meanings?.[n] ? `${n} (${rule.meanings[n]})` : String(n));
  return (raw, name) => {
    if (typeof raw !== 'number' || Number.isNaN(raw)) {
      return corrected(name, raw, 'is not a number', rule.fallback, shown(rule.fallback));
    }
    // Infinity is not rounded: it is simply out of range and clamps below.
    const rounded = rule.integer && Number.isFinite(raw) ? Math.round(raw) : raw;
    const clamped = Math.min(rule.max, Math.max(rule.min, rounded));
    if (clamped > rounded) return corrected(name, raw, `is below the minimum ${rule.min}`, clamped, shown(clamped));
    if (clamped < rounded) return corrected(name, raw, `is above the maximum ${rule.max}`, clamped, shown(clamped));
    if (clamped !== raw) return corrected(name, raw, 'is not a whole number', clamped, shown(clamped));
    return ok(clamped);
  };
}

export function enumField<T extends string>(allowed: readonly T[], fallback: T): FieldCheck<T> {
  const isAllowed = (raw: unknown): raw is T => typeof raw === 'string' && (allowed as readonly string[]).includes(raw);
  return (raw, name) =>
    isAllowed(raw)
      ? ok(raw)
      : corrected(name, raw, `is not one of ${allowed.join(', ')}`, fallback, JSON.stringify(fallback));
}

export interface TextRule {
  fallback: string;
  /** Returns why a trimmed value is unusable, or undefined when it is fine. */
  reject?: (trimmed: string) => string | undefined;
  /** Tidies an accepted value without reporting it (e.g. a trailing slash). */
  normalize?: (trimmed: string) => string;
}

export function textField(rule: TextRule): FieldCheck<string> {
  const shown = JSON.stringify(rule.fallback);
  return (raw, name) => {
    if (typeof raw !== 'string') return corrected(name, raw, 'is not a string', rule.fallback, shown);
    const trimmed = raw.trim();
    const reason = rule.reject?.(trimmed);
    if (reason !== undefined) return corrected(name, raw, reason, rule.fallback, shown);
    return ok(rule.normalize ? rule.normalize(trimmed) : trimmed);
  };
}

export type LanguageMap = Readonly<Record<string, boolean>>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The user's entries are laid over the defaults, as VS Code does for object settings, so a map
 * that only says `{"python": false}` keeps `"*"` and the other defaults. Bad entries are dropped
 * one by one rather than discarding the whole map.
 */
export function languagesField(defaults: LanguageMap): FieldCheck<LanguageMap> {
  return (raw, name) => {
    if (!isPlainObject(raw)) {
      return corrected(name, raw, 'is not an object of language ids to true/false', defaults, 'the defaults');
    }
    const entries: [string, boolean][] = Object.entries(defaults);
    const problems: string[] = [];
    for (const [languageId, enabled] of Object.entries(raw)) {
      if (typeof enabled === 'boolean') entries.push([languageId, enabled]);
      else problems.push(`${name}.${languageId}: ${describeValue(enabled)} is not true or false; ignoring it`);
    }
    // fromEntries defines own properties, so ids like "__proto__" or "constructor" are plain keys.
    return { value: Object.freeze(Object.fromEntries(entries)), problems };
  };
}
