// Downloads that go wrong on the wire: stale or oversized partial files, files that change between two attempts,
// servers that send too much or mislabel what they send. Nothing wrong may be accepted, and nothing may be left
// that makes the next attempt fail too.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelSource } from '../../src/protocol';
import { downloadFile } from '../../src/worker/store/download';
import { resolveModel, snapshotFolder } from '../../src/worker/store/modelStore';
import { LoopbackHub } from '../support/loopbackHub';
import { TLS_CERT, TLS_KEY } from '../support/store-tls';
import { tinyModelDir } from '../support/tinyModel';

const MODEL = 'local/tiny';
const ONNX = 'onnx/decoder_model_merged.onnx';

describe('model store: downloads that go wrong', function () {
  this.timeout(60_000);
  let hub: LoopbackHub;
  let work: string;
  let repo: string; // a copy of models/tiny that tests may change
  let cacheDir: string;
  let snapshot: string;
  const source = (over: Partial<Extract<ModelSource, { kind: 'hub' }>> = {}): ModelSource => ({
    kind: 'hub',
    modelId: MODEL,
    revision: 'main',
    hubUrl: hub.url,
    cacheDir,
    offline: false,
    ...over,
  });
  const upstream = (file: string) => fs.readFileSync(path.join(repo, file));
  const cached = (file: string) => fs.readFileSync(path.join(snapshot, file));
  const requestsFor = (file: string) => hub.requests.filter((r) => r.file === file);
  const leftovers = () => (fs.readdirSync(snapshot, { recursive: true }) as string[]).filter((f) => /partial|lock|tmp/.test(f));

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-download-'));
    repo = path.join(work, 'repo');
    fs.cpSync(await tinyModelDir(), repo, { recursive: true });
    hub = await new LoopbackHub({ [MODEL]: repo }).start();
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    cacheDir = fs.mkdtempSync(path.join(work, 'cache-'));
    snapshot = snapshotFolder(cacheDir, MODEL, 'main');
    hub.requests.length = 0;
    hub.faults.clear();
    hub.upperCaseEtags = false;
  });

  it('a partial file that is already complete (the server answers 416) is finished, not stuck', async () => {
    fs.mkdirSync(path.join(snapshot, 'onnx'), { recursive: true });
    fs.copyFileSync(path.join(repo, ONNX), path.join(snapshot, ONNX + '.partial'));
    await resolveModel(source(), 'fp32');
    assert.ok(cached(ONNX).equals(upstream(ONNX)));
    assert.deepEqual(leftovers(), []);
  });

  it('a partial file larger than the file upstream (416) is dropped and the file fetched again', async () => {
    fs.mkdirSync(snapshot, { recursive: true });
    fs.writeFileSync(path.join(snapshot, 'config.json.partial'), Buffer.concat([upstream('config.json'), Buffer.from('\n'.repeat(5000))]));
    await resolveModel(source(), 'fp32');
    assert.ok(cached('config.json').equals(upstream('config.json')));
    assert.deepEqual(leftovers(), []);
  });

  it('a small file that changed upstream between two attempts is not pieced together from both', async () => {
    hub.injectFault('config.json', 'truncate');
    hub.injectFault('config.json', 'truncate');
    await assert.rejects(resolveModel(source(), 'fp32'), /config\.json: .*the next attempt resumes/);
    const before = upstream('config.json');
    const changed = Buffer.from(before.toString('latin1').replace(/"(\w+)"/g, (_, word: string) => `"${word.toUpperCase()}"`), 'latin1');
    assert.equal(changed.length, before.length);
    assert.notDeepEqual(changed.subarray(before.length >> 1), before.subarray(before.length >> 1), 'the change is in the part not downloaded yet');
    fs.writeFileSync(path.join(repo, 'config.json'), changed);
    try {
      await resolveModel(source(), 'fp32');
      assert.ok(cached('config.json').equals(changed), 'the new file, whole');
      assert.ok(requestsFor('config.json').at(-1)!.ifRange, 'the resume was conditional (If-Range)');
    } finally {
      fs.writeFileSync(path.join(repo, 'config.json'), before);
    }
  });

  it('a 206 that starts at another byte than asked is never written into the file', async () => {
    hub.injectFault('config.json', 'truncate');
    hub.injectFault('config.json', 'shiftedRange');
    await resolveModel(source(), 'fp32');
    assert.ok(cached('config.json').equals(upstream('config.json')));
    assert.deepEqual(leftovers(), []);
  });

  it('stops as soon as a body passes the announced size, and keeps none of it', async () => {
    hub.injectFault(ONNX, 'endless');
    const log: string[] = [];
    await resolveModel(source(), 'fp32', { log: (m) => log.push(m) });
    assert.ok(log.some((m) => /decoder_model_merged\.onnx: the server sent more than the announced \d+ bytes/.test(m)), log.join('\n'));
    const sent = hub.requests.find((r) => r.sent !== undefined)!.sent!;
    assert.ok(sent < upstream(ONNX).length + 32 * 1024 * 1024, `the client hung up early (the server wrote ${sent} bytes)`);
    assert.ok(cached(ONNX).equals(upstream(ONNX)));
  });

  it('caps a file that announces no size (64 MB for a json file) and keeps none of it', async () => {
    hub.injectFault('config.json', 'endless');
    const dest = path.join(work, 'capped', 'config.json');
    await assert.rejects(downloadFile(`${hub.url}/${MODEL}/resolve/main/config.json`, dest), /config\.json: more than 64 MB with no announced size.*deleted/);
    assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
  });

  it('an upper-case sha256 in x-linked-etag is still checked', async () => {
    hub.upperCaseEtags = true;
    hub.injectFault(ONNX, 'corrupt');
    await resolveModel(source(), 'fp32');
    assert.ok(cached(ONNX).equals(upstream(ONNX)), 'the corrupted body was caught and fetched again');
  });

  describe('an HTTPS hub', () => {
    let https: Server;
    let emitWarning: typeof process.emitWarning;
    let rejectUnauthorized: string | undefined;
    before(async () => {
      rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      // Node warns on stderr when this is set; that warning says nothing about the test, which sets it on purpose.
      emitWarning = process.emitWarning;
      process.emitWarning = ((warning: string | Error, ...rest: never[]) => {
        if (!String(warning).includes('NODE_TLS_REJECT_UNAUTHORIZED')) emitWarning.call(process, warning, ...rest);
      }) as typeof process.emitWarning;
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the test certificate is self-signed
      https = createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => res.writeHead(302, { location: `${hub.url}${req.url}` }).end());
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      process.emitWarning = emitWarning;
      if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
    });

    it('that redirects to plain HTTP is not followed', async () => {
      const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
      await assert.rejects(resolveModel(source({ hubUrl: url }), 'fp32'), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'download');
        assert.match(e.message, /config\.json: refusing the redirect from https:\/\/127\.0\.0\.1:\d+ to plain http:\/\/127\.0\.0\.1:\d+/);
        return true;
      });
      assert.deepEqual(hub.requests.filter((r) => r.step !== 'api'), [], 'nothing was fetched over plain HTTP');
    });
  });
});
