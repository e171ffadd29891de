// Switch model: the list marks what is really in use and says before the pick which setting a choice clears.
import * as assert from 'node:assert/strict';
import { modelChoices } from '../../src/core/modelChoices';
import { DEFAULT_SETTINGS, type Settings } from '../../src/core/settings';

const settings = (over: Partial<Settings>): Settings => ({ ...DEFAULT_SETTINGS, ...over });
const inUse = (s: Settings) => modelChoices(s).filter((c) => /in use/.test(c.description ?? ''));

describe('modelChoices', () => {
  it('with a local folder set, the folder is in use, not the hub id, and an entry clears the folder', () => {
    const choices = modelChoices(settings({ localModelPath: '/models/mine' }));
    assert.deepEqual(inUse(settings({ localModelPath: '/models/mine' })).map((c) => c.action), [{ kind: 'keep' }]);
    assert.match(choices[0].label, /\/models\/mine/);
    const clear = choices.find((c) => c.action.kind === 'clear-folder');
    assert.ok(clear, 'no entry to stop using the folder');
    assert.match(clear.description ?? '', /localGpt2\.localModelPath/);
    assert.match(clear.description ?? '', /Xenova\/gpt2/);
  });

  it('with a local folder set, every hub model says that picking it clears the folder setting', () => {
    const hub = modelChoices(settings({ localModelPath: '/models/mine' })).filter((c) => c.action.kind === 'hub');
    assert.ok(hub.length >= 3);
    for (const c of hub) assert.match(c.detail ?? '', /clears localGpt2\.localModelPath \(\/models\/mine\)/, c.label);
  });

  it('without a folder, the hub id is in use, and nothing offers to clear a folder', () => {
    const s = settings({ model: 'Xenova/distilgpt2' });
    assert.deepEqual(inUse(s).map((c) => c.action), [{ kind: 'hub', model: 'Xenova/distilgpt2' }]);
    assert.ok(!modelChoices(s).some((c) => c.action.kind === 'clear-folder' || c.detail));
  });

  it('a model id outside the known list is listed, in use', () => {
    const s = settings({ model: 'someone/gpt2-code' });
    assert.deepEqual(inUse(s).map((c) => c.label), ['someone/gpt2-code']);
  });

  it('always offers another hub id and a local folder', () => {
    const kinds = modelChoices(DEFAULT_SETTINGS).map((c) => c.action.kind);
    assert.ok(kinds.includes('other-hub') && kinds.includes('pick-folder'));
  });
});
