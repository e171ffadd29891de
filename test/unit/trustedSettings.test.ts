import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOAD_KEYS } from '../../src/core/settingsToProtocol';
import { effectiveSettings, RESTRICTED_SETTINGS } from '../../src/core/trustedSettings';

describe('settings in untrusted workspaces', () => {
  const layers = {
    model: { defaultValue: 'Xenova/gpt2', globalValue: 'Xenova/distilgpt2', workspaceValue: 'evil/model' },
    localModelPath: { defaultValue: '', workspaceValue: '/tmp/attacker' },
    hubUrl: { defaultValue: 'https://huggingface.co', workspaceFolderValue: 'http://attacker.invalid' },
    topK: { defaultValue: 50, workspaceValue: 5 },
  };

  it('ignores workspace values of the model source, keeps the user\'s own', () => {
    const raw = effectiveSettings(layers, false);
    assert.equal(raw.model, 'Xenova/distilgpt2');
    assert.equal(raw.localModelPath, '');
    assert.equal(raw.hubUrl, 'https://huggingface.co');
    assert.equal(raw.topK, 5, 'sampling settings still follow the workspace');
  });

  it('ignores workspace values of the resource settings (threads, debounce), keeps the user\'s own', () => {
    const resources = {
      threads: { defaultValue: 0, globalValue: 2, workspaceValue: 64 },
      debounceMs: { defaultValue: 200, workspaceFolderValue: 0 },
    };
    const untrusted = effectiveSettings(resources, false);
    assert.equal(untrusted.threads, 2);
    assert.equal(untrusted.debounceMs, 200);
    const trusted = effectiveSettings(resources, true);
    assert.equal(trusted.threads, 64);
    assert.equal(trusted.debounceMs, 0);
  });

  it('uses every layer once the workspace is trusted', () => {
    const raw = effectiveSettings(layers, true);
    assert.equal(raw.model, 'evil/model');
    assert.equal(raw.localModelPath, '/tmp/attacker');
    assert.equal(raw.hubUrl, 'http://attacker.invalid');
  });

  it('restricts every setting that decides what loads, plus debounceMs, and nothing that only shapes the output', () => {
    for (const key of LOAD_KEYS) assert.ok(RESTRICTED_SETTINGS.includes(key), key);
    assert.deepEqual([...RESTRICTED_SETTINGS].sort(), [...LOAD_KEYS, 'debounceMs'].sort());
    assert.deepEqual([...LOAD_KEYS].sort(), ['device', 'dtype', 'hubUrl', 'localModelPath', 'model', 'revision', 'threads']);
  });

  it('matches the restrictedConfigurations declared in package.json', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
    const declared: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
    assert.deepEqual([...declared].sort(), RESTRICTED_SETTINGS.map((key) => `localGpt2.${key}`).sort());
  });
});
