// localGpt2.minTokenProbability: parsed and clamped like the other numbers, and reaching the worker's request.
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, parseSettings } from '../../src/core/settings';

describe('core/settings: minTokenProbability', () => {
  it('defaults to 0, which is off', () => {
    assert.equal(DEFAULT_SETTINGS.minTokenProbability, 0);
  });

  it('keeps a probability between 0 and 1', () => {
    assert.deepEqual(parseSettings({ minTokenProbability: 0.05 }), { settings: { ...DEFAULT_SETTINGS, minTokenProbability: 0.05 }, problems: [] });
  });

  it('clamps values outside 0..1 and says what it uses instead', () => {
    assert.deepEqual(parseSettings({ minTokenProbability: 1.5 }).problems, ['localGpt2.minTokenProbability: 1.5 is above the maximum 1; using 1']);
    const below = parseSettings({ minTokenProbability: -0.2 });
    assert.equal(below.settings.minTokenProbability, 0);
    assert.deepEqual(below.problems, ['localGpt2.minTokenProbability: -0.2 is below the minimum 0; using 0 (off)']);
  });

  it('replaces a value that is not a number with the default', () => {
    assert.deepEqual(parseSettings({ minTokenProbability: '10%' }).problems, ['localGpt2.minTokenProbability: "10%" is not a number; using 0 (off)']);
  });
});
