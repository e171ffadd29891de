// Drives parseSettings with thousands of random values and checks what must always hold:
// it never throws, every field is usable, and every correction is reported exactly once.

import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, parseSettings, SETTING_KEYS, type Settings } from '../../src/core/settings';
import { mulberry32 } from '../../src/worker/rng';

/** Seeded so a failure reproduces. */
const seededRandom = mulberry32;

const NUMBER_LIMITS: Partial<Record<keyof Settings, { min: number; max: number; integer: boolean }>> = {
  topK: { min: 0, max: 50257, integer: true },
  topP: { min: 0.01, max: 1, integer: false },
  temperature: { min: 0, max: 2, integer: false },
  maxNewTokens: { min: 1, max: 256, integer: true },
  generateMaxTokens: { min: 1, max: 1024, integer: true },
  debounceMs: { min: 0, max: 5000, integer: true },
  threads: { min: 0, max: 64, integer: true },
};

const INTERESTING = [
  undefined, null, true, false, 0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, Number.NaN, Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER, '', ' ', '0', '50', 'NaN', 'true', 'q8', 'gpu', 'gpt2',
  'Xenova/gpt2', '../etc', 'https://huggingface.co/', 'http://[::1]:8080', 'ftp://x', '\u0000', '💥', [], [1], {},
  { '*': false }, { python: 'yes' }, { __proto__: null, x: true },
];

function randomValue(random: () => number, depth = 0): unknown {
  const pick = random();
  if (pick < 0.3) return INTERESTING[Math.floor(random() * INTERESTING.length)];
  if (pick < 0.55) return (random() - 0.5) * 10 ** Math.floor(random() * 12);
  if (pick < 0.65) return Math.round((random() - 0.3) * 300);
  if (pick < 0.85) return randomString(random);
  if (depth > 1) return null;
  const entries = Array.from({ length: Math.floor(random() * 4) }, () => [randomString(random), randomValue(random, depth + 1)]);
  return random() < 0.5 ? Object.fromEntries(entries) : entries.map(([, v]) => v);
}

function randomString(random: () => number): string {
  const alphabet = 'abcXYZ019 ./:-_\\\n\t"{}?#@%é💥';
  const chars = Array.from({ length: Math.floor(random() * 24) }, () => alphabet[Math.floor(random() * alphabet.length)]);
  return (random() < 0.3 ? 'https://' : '') + chars.join('');
}

function checkField(key: keyof Settings, value: unknown): void {
  const limits = NUMBER_LIMITS[key];
  if (limits) {
    assert.equal(typeof value, 'number');
    const n = value as number;
    assert.ok(Number.isFinite(n) && n >= limits.min && n <= limits.max, `${key}=${n}`);
    if (limits.integer) assert.ok(Number.isInteger(n), `${key}=${n}`);
    return;
  }
  if (key === 'languages') {
    for (const enabled of Object.values(value as object)) assert.equal(typeof enabled, 'boolean');
    return;
  }
  assert.equal(typeof value, typeof DEFAULT_SETTINGS[key], key);
  if (key === 'dtype') assert.ok(['fp32', 'q8', 'q4'].includes(value as string));
  if (key === 'device') assert.ok(['cpu', 'gpu'].includes(value as string));
  if (key === 'hubUrl') assert.match(value as string, /^https?:\/\/[^/]/);
  if (key === 'model') assert.ok(!(value as string).includes('..') && (value as string).split('/').length <= 2);
}

/** What the field would be if the raw value were accepted as is (strings are trimmed, URLs lose trailing slashes). */
function acceptedForm(key: keyof Settings, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const trimmed = raw.trim();
  return key === 'hubUrl' ? trimmed.replace(/\/+$/, '') : trimmed;
}

describe('core/settings fuzz', () => {
  it('survives 3000 random configurations: usable values, one message per correction', () => {
    const random = seededRandom(20240607);
    for (let round = 0; round < 3000; round++) {
      const raw: Record<string, unknown> = {};
      for (const key of SETTING_KEYS) if (random() < 0.7) raw[key] = randomValue(random);
      try {
        checkRound(raw);
      } catch (error) {
        throw new Error(`round ${round} with ${JSON.stringify(raw)}: ${(error as Error).message}`);
      }
    }
  });
});

function checkRound(raw: Record<string, unknown>): void {
  const { settings, problems } = parseSettings(raw);
  for (const key of SETTING_KEYS) {
    checkField(key, settings[key]);
    if (key === 'languages') continue;
    const own = problems.filter((p) => p.startsWith(`localGpt2.${key}: `));
    const corrected = raw[key] !== undefined && settings[key] !== acceptedForm(key, raw[key]);
    assert.equal(own.length, corrected ? 1 : 0, `${key}: ${own.join(' | ')}`);
    if (corrected) assert.match(own[0]!, /; using .+$/);
    if (raw[key] === undefined) assert.deepEqual(settings[key], DEFAULT_SETTINGS[key]);
  }
  assert.ok(problems.every((p) => p.startsWith('localGpt2.')));
}
