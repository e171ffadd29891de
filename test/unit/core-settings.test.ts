import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { samplingOptions } from '../../src/core/requests';
import { DEFAULT_SETTINGS, isLanguageEnabled, parseSettings, SETTING_KEYS, type Settings } from '../../src/core/settings';
import { needsModelReload, toLoadOptions } from '../../src/core/settingsToProtocol';

interface SchemaProperty {
  type: string;
  default: unknown;
  minimum?: number;
  maximum?: number;
  enum?: string[];
}

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const schema: Record<string, SchemaProperty> = Object.fromEntries(
  Object.entries(manifest.contributes.configuration.properties as Record<string, SchemaProperty>).map(
    ([name, property]) => [name.replace(/^localGpt2\./, ''), property],
  ),
);

function parseOne(key: string, value: unknown): { value: unknown; problems: string[] } {
  const { settings, problems } = parseSettings({ [key]: value });
  return { value: settings[key as keyof Settings], problems };
}

describe('core/settings', () => {
  describe('agreement with package.json', () => {
    it('knows exactly the settings the manifest declares', () => {
      assert.deepEqual([...SETTING_KEYS].sort(), Object.keys(schema).sort());
    });

    it('has the manifest defaults', () => {
      for (const key of SETTING_KEYS) assert.deepEqual(DEFAULT_SETTINGS[key], schema[key]!.default, key);
    });

    it('clamps to the manifest minimum and maximum', () => {
      for (const [key, property] of Object.entries(schema)) {
        if (property.minimum !== undefined) assert.equal(parseOne(key, property.minimum - 1).value, property.minimum, key);
        if (property.maximum !== undefined) assert.equal(parseOne(key, property.maximum + 1).value, property.maximum, key);
      }
    });

    it('accepts every enum value of the manifest and nothing else', () => {
      for (const [key, property] of Object.entries(schema)) {
        for (const allowed of property.enum ?? []) assert.deepEqual(parseOne(key, allowed), { value: allowed, problems: [] });
        if (property.enum) assert.equal(parseOne(key, 'fp16').problems.length, 1, key);
      }
    });
  });

  it('gives the defaults and no problems for an empty configuration', () => {
    assert.deepEqual(parseSettings({}), { settings: DEFAULT_SETTINGS, problems: [] });
  });

  it('keeps valid values as they are, without problems', () => {
    const raw = {
      enable: false, topK: 0, topP: 0.9, temperature: 0, minTokenProbability: 0.05, maxNewTokens: 64, generateMaxTokens: 1024,
      multiline: true, debounceMs: 0, latencyBudgetMs: 0, model: 'Xenova/distilgpt2', revision: 'refs/pr/1', dtype: 'fp32',
      localModelPath: '/models/gpt2', hubUrl: 'http://127.0.0.1:8080', device: 'gpu', threads: 64,
    };
    const { settings, problems } = parseSettings(raw);
    assert.deepEqual(problems, []);
    assert.deepEqual({ ...settings, languages: undefined }, { ...raw, languages: undefined });
  });

  describe('numbers', () => {
    it('clamps the latency budget to 0-10000 ms and names 0 as no budget', () => {
      assert.deepEqual(parseOne('latencyBudgetMs', 60_000), {
        value: 10_000,
        problems: ['localGpt2.latencyBudgetMs: 60000 is above the maximum 10000; using 10000'],
      });
      assert.deepEqual(parseOne('latencyBudgetMs', -5), {
        value: 0,
        problems: ['localGpt2.latencyBudgetMs: -5 is below the minimum 0; using 0 (no budget)'],
      });
    });

    it('clamps a huge topK with the documented message', () => {
      assert.deepEqual(parseOne('topK', 1_000_000_000), {
        value: 50257,
        problems: ['localGpt2.topK: 1000000000 is above the maximum 50257; using 50257'],
      });
    });

    it('spells out special values when it clamps onto them', () => {
      assert.deepEqual(parseOne('topK', -1).problems, ['localGpt2.topK: -1 is below the minimum 0; using 0 (no limit)']);
      assert.deepEqual(parseOne('temperature', -3).problems, [
        'localGpt2.temperature: -3 is below the minimum 0; using 0 (greedy)',
      ]);
      assert.deepEqual(parseOne('topP', 7).problems, ['localGpt2.topP: 7 is above the maximum 1; using 1 (off)']);
      assert.deepEqual(parseOne('threads', -2).problems, ['localGpt2.threads: -2 is below the minimum 0; using 0 (auto)']);
    });

    it('rounds integers and says so', () => {
      assert.deepEqual(parseOne('maxNewTokens', 3.7), {
        value: 4,
        problems: ['localGpt2.maxNewTokens: 3.7 is not a whole number; using 4'],
      });
    });

    it('reports a value that is both fractional and out of range once, as out of range', () => {
      assert.deepEqual(parseOne('debounceMs', 9999.5), {
        value: 5000,
        problems: ['localGpt2.debounceMs: 9999.5 is above the maximum 5000; using 5000'],
      });
    });

    it('keeps fractions where fractions are allowed', () => {
      assert.deepEqual(parseOne('topP', 0.55), { value: 0.55, problems: [] });
      assert.deepEqual(parseOne('temperature', 1.25), { value: 1.25, problems: [] });
    });

    it('clamps infinities and replaces NaN with the default', () => {
      assert.deepEqual(parseOne('maxNewTokens', Number.POSITIVE_INFINITY), {
        value: 256,
        problems: ['localGpt2.maxNewTokens: Infinity is above the maximum 256; using 256'],
      });
      assert.deepEqual(parseOne('topP', Number.NEGATIVE_INFINITY).value, 0.01);
      assert.deepEqual(parseOne('topK', Number.NaN), {
        value: 50,
        problems: ['localGpt2.topK: NaN is not a number; using 50'],
      });
    });

    it('replaces values of the wrong type with the default', () => {
      const cases: [unknown, string][] = [
        ['40', '"40"'], [null, 'null'], [true, 'true'], [{ k: 1 }, 'an object'], [[40], 'a list'],
      ];
      for (const [value, shown] of cases) {
        assert.deepEqual(parseOne('topK', value), {
          value: 50,
          problems: [`localGpt2.topK: ${shown} is not a number; using 50`],
        });
      }
    });
  });

  describe('booleans and enums', () => {
    it('replaces non-booleans with the default', () => {
      assert.deepEqual(parseOne('enable', 'yes'), {
        value: true,
        problems: ['localGpt2.enable: "yes" is not true or false; using true'],
      });
      assert.deepEqual(parseOne('multiline', 1).value, false);
    });

    it('replaces unknown enum values and names the allowed ones', () => {
      assert.deepEqual(parseOne('dtype', 'fp16'), {
        value: 'q8',
        problems: ['localGpt2.dtype: "fp16" is not one of fp32, q8, q4; using "q8"'],
      });
      assert.deepEqual(parseOne('device', 'GPU').value, 'cpu');
    });
  });

  describe('model source strings', () => {
    it('accepts hub ids with and without an owner', () => {
      for (const id of ['Xenova/gpt2', 'gpt2', 'my-org/gpt2_small.v2']) assert.deepEqual(parseOne('model', id), { value: id, problems: [] });
    });

    it('refuses ids that could walk a path or are not ids', () => {
      for (const id of ['../gpt2', 'owner/..', 'owner/gpt..2', 'a/b/c', '/abs', 'owner/', '', 'has space', 'x/../../etc', '..']) {
        const { value, problems } = parseOne('model', id);
        assert.equal(value, 'Xenova/gpt2', id);
        assert.equal(problems.length, 1, id);
        assert.match(problems[0]!, /^localGpt2\.model: .* is not a model id like "owner\/name"; using "Xenova\/gpt2"$/);
      }
    });

    it('accepts branch, tag, pr and commit revisions and refuses path tricks', () => {
      for (const revision of ['main', 'v1.0', 'refs/pr/12', 'a1b2c3d4e5f6']) assert.equal(parseOne('revision', revision).value, revision);
      for (const revision of ['../main', 'a b', '/main', 'main/', '', 'a//b']) {
        assert.equal(parseOne('revision', revision).value, 'main', revision);
      }
    });

    it('accepts http(s) hub URLs, trims them and drops trailing slashes', () => {
      assert.deepEqual(parseOne('hubUrl', '  https://hf-mirror.example/  '), { value: 'https://hf-mirror.example', problems: [] });
      assert.deepEqual(parseOne('hubUrl', 'http://127.0.0.1:41234/hub//'), { value: 'http://127.0.0.1:41234/hub', problems: [] });
    });

    it('refuses hub URLs that are not http(s)', () => {
      for (const url of ['ftp://example.com', 'file:///etc/passwd', 'huggingface.co', '', 'javascript:alert(1)',
        'https:///host', 'https://user:pw@host', 'https://host/?q=1', 'https://host/#x', 'https://ho st']) {
        assert.deepEqual(parseOne('hubUrl', url), {
          value: 'https://huggingface.co',
          problems: [`localGpt2.hubUrl: ${JSON.stringify(url)} is not an http(s) URL; using "https://huggingface.co"`],
        });
      }
    });

    it('takes any local model path, trimmed', () => {
      assert.deepEqual(parseOne('localModelPath', '  C:\\models\\gpt 2  '), { value: 'C:\\models\\gpt 2', problems: [] });
      assert.deepEqual(parseOne('localModelPath', 5), {
        value: '',
        problems: ['localGpt2.localModelPath: 5 is not a string; using ""'],
      });
    });

    it('shortens very long bad values in messages', () => {
      const [problem] = parseOne('model', `../${'x'.repeat(10_000)}`).problems;
      assert.ok(problem!.length < 200, problem);
    });
  });

  describe('languages', () => {
    it('lays the user map over the defaults', () => {
      const { settings, problems } = parseSettings({ languages: { python: false } });
      assert.deepEqual(problems, []);
      assert.deepEqual(settings.languages, { '*': true, scminput: false, python: false });
    });

    it('drops entries that are not booleans, one message each', () => {
      const { settings, problems } = parseSettings({ languages: { python: 'no', rust: false, go: null } });
      assert.deepEqual(settings.languages, { '*': true, scminput: false, rust: false });
      assert.deepEqual(problems, [
        'localGpt2.languages.python: "no" is not true or false; ignoring it',
        'localGpt2.languages.go: null is not true or false; ignoring it',
      ]);
    });

    it('uses the defaults when the map is not an object', () => {
      for (const value of [true, 'python', ['python'], null, 3]) {
        const { settings, problems } = parseSettings({ languages: value });
        assert.deepEqual(settings.languages, DEFAULT_SETTINGS.languages);
        assert.equal(problems.length, 1);
        assert.match(problems[0]!, /^localGpt2\.languages: .* is not an object of language ids to true\/false; using the defaults$/);
      }
    });

    it('decides per language with "*" as the default', () => {
      const { settings } = parseSettings({ languages: { '*': false, markdown: true } });
      assert.equal(isLanguageEnabled(settings, 'markdown'), true);
      assert.equal(isLanguageEnabled(settings, 'python'), false);
      assert.equal(isLanguageEnabled(DEFAULT_SETTINGS, 'python'), true);
      assert.equal(isLanguageEnabled(DEFAULT_SETTINGS, 'scminput'), false);
    });

    it('treats language ids that are Object.prototype names as ordinary ids', () => {
      const { settings } = parseSettings({ languages: JSON.parse('{"__proto__": false, "*": true}') });
      assert.equal(isLanguageEnabled(settings, '__proto__'), false);
      assert.equal(isLanguageEnabled(settings, 'constructor'), true);
      assert.equal(isLanguageEnabled(settings, 'toString'), true);
    });
  });

  it('never throws on input that is not an object at all', () => {
    for (const raw of [null, undefined, 42, 'x', []]) {
      assert.deepEqual(parseSettings(raw as unknown as Record<string, unknown>).settings, DEFAULT_SETTINGS);
    }
  });

  it('returns frozen settings so nothing downstream edits them by accident', () => {
    const { settings } = parseSettings({});
    assert.ok(Object.isFrozen(settings));
    assert.ok(Object.isFrozen(settings.languages));
  });

  describe('protocol pieces', () => {
    const environment = { cacheDir: '/cache', offline: true };

    it('maps sampling settings', () => {
      const { settings } = parseSettings({ topK: 0, topP: 0.5, temperature: 0 });
      assert.deepEqual(samplingOptions(settings), { topK: 0, topP: 0.5, temperature: 0 });
    });

    it('loads from the hub unless a local folder is set', () => {
      assert.deepEqual(toLoadOptions(DEFAULT_SETTINGS, environment), {
        source: {
          kind: 'hub', modelId: 'Xenova/gpt2', revision: 'main', hubUrl: 'https://huggingface.co', cacheDir: '/cache', offline: true,
        },
        dtype: 'q8',
        device: 'cpu',
        threads: 0,
        stateDir: '/cache',
      });
      const { settings } = parseSettings({ localModelPath: '/m', dtype: 'fp32', threads: 2 });
      assert.deepEqual(toLoadOptions(settings, environment), {
        source: { kind: 'folder', path: '/m' }, dtype: 'fp32', device: 'cpu', threads: 2, stateDir: '/cache',
      });
    });

    it('asks for a reload only when the model source or runtime changes', () => {
      const reloads = (raw: Record<string, unknown>): boolean => needsModelReload(DEFAULT_SETTINGS, parseSettings(raw).settings);
      assert.equal(reloads({ topK: 5, temperature: 0.2, multiline: true, debounceMs: 0, languages: { x: false } }), false);
      for (const raw of [{ model: 'gpt2' }, { revision: 'v2' }, { dtype: 'q4' }, { device: 'gpu' }, { threads: 2 },
        { hubUrl: 'http://localhost:1' }, { localModelPath: '/m' }]) {
        assert.equal(reloads(raw), true, JSON.stringify(raw));
      }
    });
  });
});
