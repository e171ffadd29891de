import assert from 'node:assert/strict';
import { describeEnding, progressMessage } from '../../src/core/generationReport';

describe('generationReport: how a Generate continuation ended, in words', () => {
  it('counts tokens while streaming', () => {
    assert.equal(progressMessage(0), '0 tokens');
    assert.equal(progressMessage(1), '1 token');
    assert.equal(progressMessage(57), '57 tokens');
  });

  it('a run to its end gives the stop reason, what was written and the prompt', () => {
    const line = describeEnding({ kind: 'done', reason: 'length', tokens: 200, characters: 812, ms: 1234.4, promptTokens: 12, reusedTokens: 3 });
    assert.equal(line, 'Generate continuation ended: length; 200 tokens, 812 characters written in 1234 ms (12 prompt tokens, 3 reused)');
  });

  it('a cancelled run says by what', () => {
    for (const cause of ['Escape', 'edit', 'cursor moved', 'editor closed', 'notification cancel'] as const) {
      const line = describeEnding({ kind: 'cancelled', cause, tokens: 5, characters: 20, ms: 10 });
      assert.equal(line, `Generate continuation ended: cancelled by ${cause}; 5 tokens, 20 characters written in 10 ms`);
    }
  });

  it('an error keeps its message and what was written before it', () => {
    const line = describeEnding({ kind: 'error', message: 'the model worker crashed', tokens: 3, characters: 9, ms: 7 });
    assert.equal(line, 'Generate continuation ended: error (the model worker crashed); 3 tokens, 9 characters written in 7 ms');
  });
});
