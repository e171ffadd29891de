// One cache folder per (model id, revision), and never one folder for two of them: two models sharing a
// folder would overwrite each other's files and vouch for each other's manifest.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isHubModelId, isRevision } from '../../src/core/modelId';
import { resolveModel, snapshotFolder } from '../../src/worker/store/modelStore';

const CACHE = path.join(path.sep, 'cache');

const TRICKY: [string, string][] = [
  ['a--b/c', 'main'],
  ['a/b--c', 'main'],
  ['a-/b', 'main'],
  ['a/-b', 'main'],
  ['a---b', 'main'],
  ['a/--b', 'main'],
  ['a-b/c', 'main'],
  ['a/b-c', 'main'],
  ['a', 'main'],
  ['models--a', 'main'],
  ['a/b', 'refs/pr/1'],
  ['a/b', 'refs_pr_1'],
  ['a/b', 'refs%2Fpr%2F1'],
  ['a/b', 'refs-pr-1'],
  ['a/b', 'v1.0'],
  ['a/b', 'v1_0'],
];

/** Deterministic, so a failure reproduces. */
function* randomStrings(seed: number, alphabet: string, count: number, maxLength: number): Generator<string> {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(next() * maxLength);
    yield Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  }
}

describe('model store: cache folders', () => {
  it('distinct (model id, revision) pairs never share a folder', () => {
    const ids = [...TRICKY.map(([id]) => id), ...randomStrings(1, 'ab-_./', 400, 7)].filter(isHubModelId);
    const revisions = [...TRICKY.map(([, rev]) => rev), ...randomStrings(2, 'ab-_./%', 400, 6)].filter(isRevision);
    assert.ok(ids.length > 100 && revisions.length > 100, `enough valid examples (${ids.length} ids, ${revisions.length} revisions)`);
    const owner = new Map<string, string>();
    for (const id of new Set(ids)) {
      for (const revision of new Set(revisions)) {
        const folder = snapshotFolder(CACHE, id, revision);
        const key = `${id}@${revision}`;
        assert.equal(owner.get(folder) ?? key, key, `${owner.get(folder)} and ${key} share ${folder}`);
        owner.set(folder, key);
        assert.ok(folder.startsWith(path.join(CACHE, 'models') + path.sep), folder);
        assert.equal(path.relative(path.join(CACHE, 'models'), folder).split(path.sep).length, 2, `one folder per model, one below it per revision: ${folder}`);
      }
    }
  });

  it('keeps the names of caches made before (plain ids and branch names)', () => {
    assert.equal(snapshotFolder(CACHE, 'Xenova/gpt2', 'main'), path.join(CACHE, 'models', 'models--Xenova--gpt2', 'main'));
    assert.equal(snapshotFolder(CACHE, 'onnx-community/tiny-gpt2', 'v1.0'), path.join(CACHE, 'models', 'models--onnx-community--tiny-gpt2', 'v1.0'));
  });

  it('refuses revisions that are not branch, tag or commit names', async () => {
    for (const revision of ['.', '..', '', 'a/../b', 'a/./b', '/main', 'main/', 'a//b', '.hidden', 'x.lock', 'v1.', 'a b', 'a\\b']) {
      assert.equal(isRevision(revision), false, JSON.stringify(revision));
      const source = { kind: 'hub' as const, modelId: 'a/b', revision, hubUrl: 'http://127.0.0.1:9', cacheDir: CACHE, offline: false };
      await assert.rejects(resolveModel(source, 'fp32'), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'bad-request', e.message);
        assert.match(e.message, /is not a branch, tag or commit name/);
        return true;
      });
    }
    for (const revision of ['main', 'v1.0', 'refs/pr/1', 'a'.repeat(40), 'release-2024_01']) assert.equal(isRevision(revision), true, revision);
  });
});
