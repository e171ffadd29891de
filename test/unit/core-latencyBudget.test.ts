// localGpt2.latencyBudgetMs: ghost text shows what is ready when the budget is spent, cut where it decodes cleanly, and
// the same generation goes on in the background into the cache. Everything runs on a fake clock against a fake model
// that streams one piece of text per "token" on a schedule, so the tests say exactly when what is shown.
import assert from 'node:assert/strict';
import { AbortError } from '../../src/core/abortable';
import { readyText } from '../../src/core/latencyBudget';
import { CompletionPipeline, LIVE_GRACE_MS, type CompletionRequest } from '../../src/core/pipeline';
import { parseSettings, type Settings } from '../../src/core/settings';
import type { GenerateOptions, GenerationResult } from '../../src/protocol';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timers that fire only when the test advances time. */
class FakeClock {
  now = 0;
  private timers: { at: number; fire: () => void }[] = [];

  readonly sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new AbortError());
      const timer = {
        at: this.now + ms,
        fire: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(new AbortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });

  /** Fires every timer due up to now + ms, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.at;
      due.fire();
    }
    this.now = end;
    await flush();
  }

  async to(time: number): Promise<void> {
    await this.advance(time - this.now);
  }
}

interface ModelCall {
  options: GenerateOptions;
  signal: AbortSignal;
  streamed: string;
  ended?: 'done' | 'cancelled';
}

/** A model that sends `pieces[i]` (one token's text) every `msPerToken` after the request, as the worker streams. */
class StreamingModel {
  readonly calls: ModelCall[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly pieces: string[],
    private readonly msPerToken: number,
  ) {}

  readonly generate = async (options: GenerateOptions, signal: AbortSignal, _trigger?: unknown, onText?: (text: string) => void): Promise<GenerationResult> => {
    const call: ModelCall = { options, signal, streamed: '' };
    this.calls.push(call);
    try {
      for (const piece of this.pieces) {
        await this.clock.sleep(this.msPerToken, signal);
        call.streamed += piece;
        if (options.stream) onText?.(piece);
      }
    } catch (error) {
      call.ended = 'cancelled';
      throw error; // the worker client rejects a cancelled request with an AbortError
    }
    call.ended = 'done';
    const timings = { prefillMs: 0, decodeMs: 0, totalMs: 0 };
    return { texts: [call.streamed], stopReasons: ['length'], promptTokens: 5, reusedTokens: 0, newTokens: this.pieces.length, timings };
  };
}

/** Settles a promise into a box, so a test can look at whether it has resolved at a given time. */
function watch<T>(promise: Promise<T>): { value?: T; settled: boolean } {
  const box: { value?: T; settled: boolean } = { settled: false };
  void promise.then((value) => Object.assign(box, { value, settled: true }));
  return box;
}

const PROMPT = 'The quick brown fox';
// " jumps over the lazy dog and ran away quickly" as GPT-2 might tokenize it.
const PIECES = [' jumps', ' over', ' the', ' la', 'zy', ' dog', ' and', ' ran', ' away', ' quick', 'ly'];

function setup(settings: Record<string, unknown>, pieces = PIECES, msPerToken = 90) {
  const clock = new FakeClock();
  const model = new StreamingModel(clock, pieces, msPerToken);
  const current: { settings: Settings } = { settings: parseSettings({ debounceMs: 200, ...settings }).settings };
  const log: string[] = [];
  const pipeline = new CompletionPipeline({
    generate: model.generate,
    settings: () => current.settings,
    sleep: clock.sleep,
    log: (line) => log.push(line),
    promptMaxChars: 1000,
  });
  const complete = (prefix: string, signal = new AbortController().signal, overrides: Partial<CompletionRequest> = {}) =>
    pipeline.complete({ languageId: 'plaintext', prefix, lineSuffix: '', trigger: 'automatic', ...overrides }, signal);
  return { clock, model, pipeline, complete, log, current };
}

describe('latency budget (localGpt2.latencyBudgetMs)', () => {
  describe('readyText: what of a streamed text can be shown while more is coming', () => {
    it('cuts off a word that the next token may still continue', () => {
      assert.equal(readyText(' jumps over the la'), ' jumps over the ');
      assert.equal(readyText(' jumps over the'), ' jumps over ');
      assert.equal(readyText(' jumps over '), ' jumps over ');
      assert.equal(readyText(' Suppo'), ' ');
      assert.equal(readyText('foo(bar, ba'), 'foo(bar, ');
      assert.equal(readyText('x = 12'), 'x = ');
      assert.equal(readyText(' héllo wörl'), ' héllo ');
      assert.equal(readyText(''), '');
    });

    it('never ends in a partial character', () => {
      assert.equal(readyText('ok \uFFFD'), 'ok ');
      assert.equal(readyText('ok, \uD83D'), 'ok, '); // the first half of a surrogate pair
      assert.equal(readyText('ok, 😀'), 'ok, 😀');
    });

    it('treats each Han or kana character as a word: those scripts put no spaces between words', () => {
      assert.equal(readyText('你好世'), '你好世');
      assert.equal(readyText('こんにちは'), 'こんにちは');
    });
  });

  it('shows what is ready when the budget is spent, cut at a word boundary, and generation goes on', async () => {
    const { clock, model, complete, log } = setup({ latencyBudgetMs: 300 });
    const shown = watch(complete(PROMPT));
    // Debounce 200 ms, then the request is sent (t=200); tokens arrive at 290, 380, 470, 560, ...
    await clock.to(499);
    assert.equal(shown.settled, false, 'nothing is shown before the budget is spent');
    await clock.to(500); // " jumps over the la" is streamed: the half word "la" and "the" (maybe "theory") wait
    assert.deepEqual(shown.value, [' jumps over']);
    assert.equal(model.calls.length, 1);
    assert.equal(model.calls[0]!.options.stream, true);
    assert.equal(model.calls[0]!.signal.aborted, false, 'the generation goes on in the background');
    assert.ok(log.some((line) => /latency budget/.test(line)), log.join('\n'));
    await clock.advance(10_000);
    assert.equal(model.calls[0]!.ended, 'done');
  });

  it('typing through the shown text after the generation ended serves the rest from the cache', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300 });
    const shown = watch(complete(PROMPT));
    await clock.advance(10_000);
    assert.deepEqual(shown.value, [' jumps over']);
    const rest = watch(complete(`${PROMPT} jumps over`));
    await clock.advance(200);
    assert.deepEqual(rest.value, [' the lazy dog and ran away quickly']);
    assert.equal(model.calls.length, 1, 'no new request');
  });

  it('typing through the shown text while it is still generating waits for the same generation, no new request', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300 }, PIECES, 90);
    const first = watch(complete(PROMPT));
    await clock.to(500);
    assert.deepEqual(first.value, [' jumps over']);
    // The user accepts the first word at t=510; its request is answered after its debounce, at t=710, from what is
    // streamed by then (" jumps over the lazy"), because the budget of that generation is already spent.
    await clock.to(510);
    const second = watch(complete(`${PROMPT} jumps`));
    await clock.to(709);
    assert.equal(second.settled, false);
    await clock.to(710);
    assert.deepEqual(second.value, [' over the']);
    assert.equal(model.calls.length, 1);
    assert.equal(model.calls[0]!.signal.aborted, false);
    // And once it has ended, the longer completion is what typing through gets.
    await clock.advance(10_000);
    const third = watch(complete(`${PROMPT} jumps over the`));
    await clock.advance(200);
    assert.deepEqual(third.value, [' lazy dog and ran away quickly']);
    assert.equal(model.calls.length, 1);
  });

  it('typing on before the budget, inside what is streamed, keeps the generation for the new prefix', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300, debounceMs: 150 });
    const typing = new AbortController();
    const first = watch(complete(PROMPT, typing.signal));
    // Sent at t=150, " jumps" arrives at 240. The user types " j" at 250: the editor cancels the first request.
    await clock.to(250);
    typing.abort();
    const second = watch(complete(`${PROMPT} j`));
    await clock.to(260);
    assert.deepEqual(first.value, [], 'the cancelled request shows nothing');
    assert.equal(model.calls[0]!.signal.aborted, false, 'the generation serves the new prefix, so it goes on');
    // Its budget is spent at 450 (150 + 300); by then " jumps over the" is streamed.
    await clock.to(449);
    assert.equal(second.settled, false);
    await clock.to(450);
    assert.deepEqual(second.value, ['umps over']);
    assert.equal(model.calls.length, 1);
  });

  it('typing something else cancels the background generation at once, before the new debounce', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300 });
    const typing = new AbortController();
    void complete(PROMPT, typing.signal);
    await clock.to(600);
    typing.abort();
    void complete(`${PROMPT} sat`);
    await flush();
    assert.equal(model.calls[0]!.signal.aborted, true);
    await clock.advance(10_000);
    assert.equal(model.calls[0]!.ended, 'cancelled');
    assert.equal(model.calls.length, 2, 'the new prefix gets its own request');
  });

  it('a cancelled request that nobody follows stops the background generation after a grace period', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300 }, PIECES, 500);
    const editor = new AbortController();
    const shown = watch(complete(PROMPT, editor.signal));
    await clock.to(300);
    editor.abort(); // e.g. the editor closed: no request follows
    await clock.advance(LIVE_GRACE_MS - 1);
    assert.deepEqual(shown.value, []);
    assert.equal(model.calls[0]!.signal.aborted, false);
    await clock.advance(1);
    assert.equal(model.calls[0]!.signal.aborted, true);
  });

  it('a generation whose ghost text is shown is not stopped by time: it is what typing through needs', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 300 }, PIECES, 500);
    const shown = watch(complete(PROMPT));
    await clock.advance(LIVE_GRACE_MS * 10);
    assert.deepEqual(shown.value?.length, 1);
    assert.equal(model.calls[0]!.ended, 'done');
  });

  it('with nothing ready at the budget, waits for the first useful piece instead of showing nothing', async () => {
    const pieces = [' Suppo', 'se', ' that', ' we', ' do'];
    const { clock, complete } = setup({ latencyBudgetMs: 100 }, pieces, 100);
    const shown = watch(complete(PROMPT));
    // Sent at 200; budget spent at 300 with " Suppo" (half a word), 400: " Suppose" (maybe "Supposed"), 500: " Suppose that".
    await clock.to(499);
    assert.equal(shown.settled, false);
    await clock.to(500);
    assert.deepEqual(shown.value, [' Suppose']);
  });

  it('a generation that ends before the budget shows its whole text at once', async () => {
    const { clock, complete } = setup({ latencyBudgetMs: 300 }, [' jumps', ' over', ' the', ' la'], 40);
    const shown = watch(complete(PROMPT));
    await clock.to(360);
    assert.deepEqual(shown.value, [' jumps over the la']);
  });

  it('a generation that ends with nothing useful shows nothing, and remembers it', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 100 }, ['   '], 500);
    const shown = watch(complete(PROMPT));
    await clock.advance(1000);
    assert.deepEqual(shown.value, []);
    const again = watch(complete(PROMPT));
    await clock.advance(1000);
    assert.deepEqual(again.value, []);
    assert.equal(model.calls.length, 1);
  });

  it('0 means no budget: one request with the editor signal, no streaming, the whole text', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 0 });
    const shown = watch(complete(PROMPT));
    await clock.to(5000);
    assert.deepEqual(shown.value, [' jumps over the lazy dog and ran away quickly']);
    assert.equal(model.calls[0]!.options.stream, false);
  });

  it('an explicit request (Alt+\\) waits for its three whole samples: they are cycled through, not typed through', async () => {
    const { clock, model, complete } = setup({ latencyBudgetMs: 100 });
    const shown = watch(complete(PROMPT, undefined, { trigger: 'invoke' }));
    await clock.advance(5000);
    assert.equal(model.calls[0]!.options.stream, false);
    assert.deepEqual(shown.value, [' jumps over the lazy dog and ran away quickly']);
  });

  it('clearCache (settings changed) stops a background generation', async () => {
    const { clock, model, complete, pipeline } = setup({ latencyBudgetMs: 300 });
    void complete(PROMPT);
    await clock.to(600);
    pipeline.clearCache();
    assert.equal(model.calls[0]!.signal.aborted, true);
  });

  it('a model failure reaches the request that is waiting for it', async () => {
    const clock = new FakeClock();
    const pipeline = new CompletionPipeline({
      generate: async (_options, signal) => {
        await clock.sleep(100, signal);
        throw new Error('onnx runtime exploded');
      },
      settings: () => parseSettings({ latencyBudgetMs: 300 }).settings,
      sleep: clock.sleep,
    });
    const failed = pipeline.complete({ languageId: 'plaintext', prefix: PROMPT, lineSuffix: '', trigger: 'automatic' }, new AbortController().signal);
    const assertion = assert.rejects(failed, /onnx runtime exploded/);
    await clock.advance(1000);
    await assertion;
  });
});
