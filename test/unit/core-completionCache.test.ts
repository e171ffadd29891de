import assert from 'node:assert/strict';
import { CompletionCache } from '../../src/core/completionCache';

describe('core/completionCache', () => {
  it('returns what was stored for the same prefix, and undefined for a miss', () => {
    const cache = new CompletionCache();
    cache.put('const x = ', ['1;', '2;']);
    assert.deepEqual(cache.get('const x = '), ['1;', '2;']);
    assert.equal(cache.get('let y = '), undefined);
  });

  it('remembers "nothing to suggest" as [] rather than a miss', () => {
    const cache = new CompletionCache();
    cache.put('prefix', []);
    assert.deepEqual(cache.get('prefix'), []);
  });

  describe('typing through', () => {
    it('returns the rest of a suggestion whose start the user typed', () => {
      const cache = new CompletionCache();
      cache.put('console.', ['log("hi")']);
      assert.deepEqual(cache.get('console.l'), ['og("hi")']);
      assert.deepEqual(cache.get('console.log("'), ['hi")']);
    });

    it('keeps only the samples that match what was typed', () => {
      const cache = new CompletionCache();
      cache.put('x = ', ['foo()', 'bar()', 'fizz']);
      assert.deepEqual(cache.get('x = f'), ['oo()', 'izz']);
      assert.deepEqual(cache.get('x = fo'), ['o()']);
    });

    it('misses when the typed text leaves the suggestion or uses all of it', () => {
      const cache = new CompletionCache();
      cache.put('x = ', ['foo']);
      assert.equal(cache.get('x = fa'), undefined);
      assert.equal(cache.get('x = foo'), undefined);
      assert.equal(cache.get('x = food'), undefined);
      assert.equal(cache.get('y = f'), undefined);
    });

    it('prefers the longest cached prefix', () => {
      const cache = new CompletionCache();
      cache.put('a', ['bcdef']);
      cache.put('abc', ['dXYZ']);
      cache.put('ab', ['cdQQ']);
      assert.deepEqual(cache.get('abcd'), ['XYZ']);
    });

    it('falls back to a shorter prefix whose suggestion still matches', () => {
      const cache = new CompletionCache();
      cache.put('a', ['bcdef']);
      cache.put('abc', ['Z']);
      assert.deepEqual(cache.get('abcd'), ['ef']);
    });
  });

  describe('bounds', () => {
    it('evicts the least recently used entry beyond the entry limit', () => {
      const cache = new CompletionCache({ maxEntries: 2 });
      cache.put('a', ['1']);
      cache.put('b', ['2']);
      cache.get('a'); // a is now more recent than b
      cache.put('c', ['3']);
      assert.equal(cache.size, 2);
      assert.deepEqual(cache.get('a'), ['1']);
      assert.equal(cache.get('b'), undefined);
      assert.deepEqual(cache.get('c'), ['3']);
    });

    it('a typing-through hit also counts as a use', () => {
      const cache = new CompletionCache({ maxEntries: 2 });
      cache.put('a', ['xyz']);
      cache.put('b', ['2']);
      assert.deepEqual(cache.get('ax'), ['yz']);
      cache.put('c', ['3']);
      assert.equal(cache.get('b'), undefined);
      assert.deepEqual(cache.get('a'), ['xyz']);
    });

    it('keeps the characters of keys and completions under the limit', () => {
      const cache = new CompletionCache({ maxChars: 100 });
      for (let i = 0; i < 50; i++) cache.put(`key${i}`.padEnd(20, '.'), ['x'.repeat(20)]);
      assert.ok(cache.totalChars <= 100, String(cache.totalChars));
      assert.equal(cache.size, 2);
      assert.deepEqual(cache.get('key49'.padEnd(20, '.')), ['x'.repeat(20)]);
    });

    it('does not store an entry larger than the whole budget, nor evict others for it', () => {
      const cache = new CompletionCache({ maxChars: 100 });
      cache.put('small', ['s']);
      cache.put('big', ['x'.repeat(500)]);
      assert.equal(cache.get('big'), undefined);
      assert.deepEqual(cache.get('small'), ['s']);
    });

    it('accounts for replaced entries', () => {
      const cache = new CompletionCache();
      cache.put('key', ['0123456789']);
      cache.put('key', ['01']);
      assert.equal(cache.totalChars, 5);
      assert.equal(cache.size, 1);
      cache.clear();
      assert.equal(cache.totalChars, 0);
      assert.equal(cache.get('key'), undefined);
    });

    it('falls back to the default limits for nonsense limits', () => {
      const cache = new CompletionCache({ maxEntries: 0, maxChars: Number.NaN });
      for (let i = 0; i < 10; i++) cache.put(String(i), ['x']);
      assert.equal(cache.size, 10);
    });
  });

  it('hands out copies, so callers cannot edit what is cached', () => {
    const cache = new CompletionCache();
    const stored = ['a'];
    cache.put('p', stored);
    stored.push('b');
    cache.get('p')!.push('c');
    assert.deepEqual(cache.get('p'), ['a']);
  });
});
