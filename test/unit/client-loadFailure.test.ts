// What the user is told when a model does not load: the worker's error code (not its wording) decides the kind,
// and a hub that is out of reach is said in words, naming the hub and the model.
import * as assert from 'node:assert/strict';
import { describeLoadFailure } from '../../src/client/loadFailure';
import { WorkerError } from '../../src/client/workerClient';
import type { ModelSource } from '../../src/protocol';

const hub: ModelSource = { kind: 'hub', modelId: 'Xenova/gpt2', revision: 'main', hubUrl: 'https://huggingface.co', cacheDir: '/c', offline: false };
const folder: ModelSource = { kind: 'folder', path: '/models/mine' };
const downloadError = (cause: string) =>
  new WorkerError('download', `config.json: download from https://huggingface.co/Xenova/gpt2/resolve/main/config.json failed (fetch failed: ${cause}); the next attempt resumes`);

describe('describeLoadFailure', () => {
  for (const cause of ['getaddrinfo ENOTFOUND huggingface.co', 'getaddrinfo EAI_AGAIN huggingface.co', 'connect ECONNREFUSED 127.0.0.1:45123', 'connect ETIMEDOUT 1.2.3.4:443', 'read ECONNRESET', 'connect ENETUNREACH 1.2.3.4:443', 'self-signed certificate in certificate chain', 'Connect Timeout Error']) {
    it(`a hub out of reach (${cause}) is said in words, with the raw error kept for the log`, () => {
      const error = downloadError(cause);
      const failure = describeLoadFailure(error, hub);
      assert.equal(failure.kind, 'unreachable');
      assert.equal(failure.message, 'Could not reach https://huggingface.co to download Xenova/gpt2 (no network or a proxy?)');
      assert.equal(failure.detail, error.message);
      assert.equal(failure.hubRemedies, true);
    });
  }

  it('a download that stalled counts as out of reach', () => {
    const failure = describeLoadFailure(new WorkerError('download', 'onnx/model.onnx: no data from https://h/x for 30 s; the next attempt resumes'), hub);
    assert.equal(failure.kind, 'unreachable');
  });

  it('a server that answered with an error is a download failure that names the hub, the model and what it said', () => {
    const error = new WorkerError('download', 'config.json: the server answered 500 for https://huggingface.co/Xenova/gpt2/resolve/main/config.json');
    const failure = describeLoadFailure(error, hub);
    assert.equal(failure.kind, 'download');
    assert.equal(failure.message, `Downloading Xenova/gpt2 from https://huggingface.co failed: ${error.message}`);
    assert.equal(failure.hubRemedies, true);
  });

  it('a revision other than main is named', () => {
    const failure = describeLoadFailure(downloadError('getaddrinfo ENOTFOUND huggingface.co'), { ...hub, revision: 'v2' });
    assert.match(failure.message, /download Xenova\/gpt2@v2 /);
  });

  it('offline mode without the files keeps the worker\'s words and offers the hub remedies', () => {
    const error = new WorkerError('offline', 'Xenova/gpt2@main is not fully downloaded (missing config.json) and offline mode is on');
    const failure = describeLoadFailure(error, hub);
    assert.deepEqual([failure.kind, failure.message, failure.hubRemedies], ['offline', error.message, true]);
  });

  it('bad model files keep the worker\'s words', () => {
    const error = new WorkerError('model-files', 'model folder /models/mine does not exist');
    const failure = describeLoadFailure(error, folder);
    assert.deepEqual([failure.kind, failure.message, failure.hubRemedies], ['model-files', error.message, false]);
  });

  it('a network-looking message from a local folder is not blamed on the hub', () => {
    const failure = describeLoadFailure(new WorkerError('runtime', 'connect ECONNREFUSED'), folder);
    assert.deepEqual([failure.kind, failure.hubRemedies], ['other', false]);
  });

  it('anything else, even a plain Error, keeps its message', () => {
    assert.deepEqual(describeLoadFailure(new Error('boom'), hub), { kind: 'other', message: 'boom', detail: 'boom', hubRemedies: false });
    assert.equal(describeLoadFailure('text', hub).message, 'text');
  });

  it('trailing whitespace and line breaks never reach a message (each log line stays one line)', () => {
    const failure = describeLoadFailure(new WorkerError('runtime', 'Load model failed:Protobuf parsing failed.\n'), folder);
    assert.equal(failure.message, 'Load model failed:Protobuf parsing failed.');
    assert.equal(failure.detail, 'Load model failed:Protobuf parsing failed.');
  });
});
