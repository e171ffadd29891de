// Token healing: which prompt tokens are backed up, and which vocabulary tokens may rewrite them.
import * as assert from 'node:assert/strict';
import type { GenerateOptions } from '../../src/protocol';
import type { TokenDecoder } from '../../src/worker/engine/decoder';
import { generate } from '../../src/worker/engine/generate';
import { loadModel, type LoadedModel } from '../../src/worker/engine/loadModel';
import { HealingConstraint, healPrompt } from '../../src/worker/engine/tokenHealing';
import { tinyModelDir } from '../support/tinyModel';

// A toy vocabulary: index = token id.
const VOCAB = ['a', 'b', 'c', 'e', 'u', 's', ' ', ' bec', 'a', 'ause', ' because', ' be', 'cause', '\uFFFD', 'x', '.', 'ca', 'Ω', '<|endoftext|>'];
const id = (text: string) => VOCAB.indexOf(text);

describe('token healing: the backed-up prompt', () => {
  it('removes the tokens of the word the prompt ends inside, leading space included', () => {
    const ids = [id('u'), id('s'), id('e'), id(' bec'), id('a')];
    assert.deepEqual(healPrompt(ids, VOCAB), { ids: [id('u'), id('s'), id('e')], removed: ' beca' });
  });

  it('leaves a prompt that ends at a word boundary alone', () => {
    for (const last of [' ', '.']) {
      const ids = [id('u'), id(last)];
      assert.deepEqual(healPrompt(ids, VOCAB), { ids, removed: '' }, JSON.stringify(last));
    }
  });

  it('stops at the word boundary: punctuation before the word stays', () => {
    const ids = [id('.'), id('c'), id('a')];
    assert.deepEqual(healPrompt(ids, VOCAB), { ids: [id('.')], removed: 'ca' });
  });

  it('backs up at most a few tokens of a long word', () => {
    const ids = [id(' '), ...[...'abcabc'].map(id)];
    const healed = healPrompt(ids, VOCAB);
    assert.equal(healed.removed, 'abc');
    assert.deepEqual(healed.ids, ids.slice(0, -3));
  });

  it('never backs up over a token that is only part of a character', () => {
    const ids = [id(' '), id('\uFFFD'), id('a')];
    assert.deepEqual(healPrompt(ids, VOCAB), { ids: ids.slice(0, -1), removed: 'a' });
  });

  it('heals non-ASCII letters too', () => {
    assert.deepEqual(healPrompt([id('.'), id(' '), id('Ω')], VOCAB), { ids: [id('.')], removed: ' Ω' });
  });
});

describe('token healing: the constraint on the first tokens', () => {
  it('allows only tokens that start with the removed text or are a prefix of it', () => {
    const constraint = new HealingConstraint(' beca', VOCAB);
    const logits = new Float32Array(VOCAB.length).fill(1);
    const masked = constraint.mask(logits);
    const allowed = VOCAB.filter((_, i) => masked[i] > -Infinity);
    assert.deepEqual(allowed, [' ', ' bec', ' because', ' be']);
    assert.deepEqual([...logits], Array(VOCAB.length).fill(1), 'the logits themselves are not touched');
  });

  it('a prefix token leaves the rest to the next token; a longer one ends the constraint', () => {
    const constraint = new HealingConstraint(' beca', VOCAB);
    assert.equal(constraint.advance(id(' be')), true, 'within the removed text');
    assert.equal(constraint.active, true);
    const masked = constraint.mask(new Float32Array(VOCAB.length));
    assert.deepEqual(VOCAB.filter((_, i) => masked[i] > -Infinity), ['c', 'cause', 'ca']);
    assert.equal(constraint.advance(id('cause')), false, 'reaches past the removed text');
    assert.equal(constraint.active, false);
  });

  it('no removed text means no constraint', () => {
    const constraint = new HealingConstraint('', VOCAB);
    assert.equal(constraint.active, false);
  });
});

describe('token healing on the tiny model', function () {
  this.timeout(120_000);
  let model: LoadedModel;
  before(async () => {
    model = await loadModel({ folder: await tinyModelDir(), name: 'tiny', dtype: 'fp32', device: 'cpu', threads: 1 });
  });
  after(async () => model?.dispose());

  /** Generates while recording every token fed back to the model (all generated tokens but the last). */
  async function run(prompt: string, over: Partial<GenerateOptions>) {
    const fedBack: number[] = [];
    const real = model.decoder;
    const decoder: TokenDecoder = {
      shape: real.shape,
      cache: real.cache,
      prefill: (ids, c) => real.prefill(ids, c),
      forward: (ids) => (fedBack.push(...ids), real.forward(ids)),
    };
    let streamed = '';
    const options: GenerateOptions = { prompt, maxNewTokens: 8, sampling: { topK: 50, topP: 1, temperature: 1, seed: 1 }, stop: { atNewline: false, strings: [] }, stream: true, samples: 1, ...over };
    const result = await generate(decoder, model.codec, options, { isCancelled: () => false, onText: (_s, t) => (streamed += t) });
    return { result, fedBack, streamed };
  }

  const PROMPTS = ['Local models are useful beca', 'def fooBar(x): retu', 'x = 1\nprin', 'The café is ope', 'count = 12'];

  it('the first token starts with the removed text, or the removed text is spelled exactly; the ghost text follows it', async () => {
    const vocabulary = model.codec.vocabulary!();
    for (const prompt of PROMPTS) {
      const { removed } = healPrompt(model.codec.encode(prompt), vocabulary);
      assert.ok(removed.length > 0, `${JSON.stringify(prompt)} ends inside a word`);
      for (let seed = 1; seed <= 5; seed++) {
        const { result, fedBack, streamed } = await run(prompt, { heal: true, sampling: { topK: 50, topP: 1, temperature: 1, seed } });
        const first = vocabulary[fedBack[0]];
        assert.ok(first.startsWith(removed) || removed.startsWith(first), `${JSON.stringify(prompt)} seed ${seed}: first token ${JSON.stringify(first)}`);
        const generated = model.codec.decode(fedBack);
        assert.ok(generated.startsWith(removed), `${JSON.stringify(prompt)} seed ${seed}: ${JSON.stringify(generated)} spells ${JSON.stringify(removed)} first`);
        assert.ok((removed + result.texts[0]).startsWith(generated.replace(/\uFFFD+$/, '')), `the ghost text is what follows the cursor: ${JSON.stringify(result.texts[0])}`);
        assert.equal(streamed, result.texts[0], 'streamed exactly the shown text, not the healed part');
      }
    }
  });

  it('greedy output on a prompt that ends at a word boundary is unchanged, token for token', async () => {
    for (const prompt of ['The quick brown fox ', 'x = foo(', 'Hello.\n', 'a, b, ']) {
      const greedy = { topK: 1, topP: 1, temperature: 0 };
      const off = await run(prompt, { heal: false, sampling: greedy });
      const on = await run(prompt, { heal: true, sampling: greedy });
      assert.deepEqual(on.fedBack, off.fedBack, JSON.stringify(prompt));
      assert.deepEqual(on.result.texts, off.result.texts);
      assert.equal(on.result.promptTokens, off.result.promptTokens);
    }
  });

  it('the backed-up prompt keeps the KV cache of the next keystroke', async () => {
    const first = await run('Local models are useful beca', { heal: true });
    const next = await run('Local models are useful becau', { heal: true });
    assert.equal(next.result.promptTokens, first.result.promptTokens);
    // The last prompt token always runs again: its logits were overwritten by the tokens generated after it.
    assert.equal(next.result.reusedTokens, next.result.promptTokens - 1, 'the backed-up prompt came from the cache');
  });
});
