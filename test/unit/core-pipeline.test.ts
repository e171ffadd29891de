import assert from 'node:assert/strict';
import { AbortError } from '../../src/core/abortable';
import { CompletionCache } from '../../src/core/completionCache';
import { CompletionPipeline, type CompletionRequest, type PipelineDependencies } from '../../src/core/pipeline';
import { DEFAULT_SETTINGS, parseSettings, type Settings } from '../../src/core/settings';
import type { GenerateOptions, GenerationResult, StopReason } from '../../src/protocol';

function result(texts: string[], stopReasons: StopReason[] = texts.map(() => 'length')): GenerationResult {
  return {
    texts,
    stopReasons,
    promptTokens: 10,
    reusedTokens: 0,
    newTokens: texts.length,
    timings: { prefillMs: 1, decodeMs: 1, totalMs: 2 },
  };
}

/** Records every step it sees, in order, so tests can check what ran and what did not. */
class Harness {
  readonly events: string[] = [];
  readonly generated: GenerateOptions[] = [];
  // No latency budget: its streaming path has its own tests (core-latencyBudget.test.ts), on a fake clock.
  settings: Settings = parseSettings({ debounceMs: 150, latencyBudgetMs: 0 }).settings;
  outputs: string[] = ['world'];
  generateImpl: (options: GenerateOptions, signal: AbortSignal) => Promise<GenerationResult> = async () =>
    result(this.outputs);
  sleepImpl: (ms: number, signal: AbortSignal) => Promise<void> = async () => undefined;

  readonly cache = new (class extends CompletionCache {
    constructor(private readonly events: string[]) {
      super();
    }
    override get(prefix: string): string[] | undefined {
      const hit = super.get(prefix);
      this.events.push(hit === undefined ? 'cache miss' : 'cache hit');
      return hit;
    }
    override put(prefix: string, completions: readonly string[]): void {
      this.events.push('cache put');
      super.put(prefix, completions);
    }
  })(this.events);

  readonly pipeline = new CompletionPipeline(this.dependencies());

  private dependencies(): PipelineDependencies {
    return {
      generate: (options, signal) => {
        this.events.push('generate');
        this.generated.push(options);
        return this.generateImpl(options, signal);
      },
      settings: () => this.settings,
      sleep: (ms, signal) => {
        this.events.push(`debounce ${ms}`);
        return this.sleepImpl(ms, signal);
      },
      cache: this.cache,
      promptMaxChars: 1000,
    };
  }

  complete(overrides: Partial<CompletionRequest> = {}, signal = new AbortController().signal): Promise<string[]> {
    const request: CompletionRequest = { languageId: 'plaintext', prefix: 'Hello ', lineSuffix: '', trigger: 'automatic', ...overrides };
    return this.pipeline.complete(request, signal);
  }
}

describe('core/pipeline', () => {
  it('runs debounce, cache lookup, generate, postprocess and cache put, in that order', async () => {
    const h = new Harness();
    h.outputs = [' world.  \nmore'];
    assert.deepEqual(await h.complete(), ['world.']);
    assert.deepEqual(h.events, ['debounce 150', 'cache miss', 'cache miss', 'generate', 'cache put']);
  });

  it('asks the model with the settings, the windowed prompt and a single-line stop rule', async () => {
    const h = new Harness();
    h.settings = parseSettings({ topK: 0, topP: 0.9, temperature: 0.5, maxNewTokens: 20 }).settings;
    const prefix = 'x'.repeat(5000);
    await h.complete({ prefix, cursorOffset: 5000 });
    const [options] = h.generated;
    assert.ok(options!.prompt.length <= 1000 && prefix.endsWith(options!.prompt));
    assert.deepEqual({ ...options, prompt: undefined }, {
      prompt: undefined,
      maxNewTokens: 20,
      sampling: { topK: 0, topP: 0.9, temperature: 0.5 },
      stop: { atNewline: true, strings: [] },
      stream: true, // the default latency budget streams, to show what is ready when it is spent
      samples: 1,
      heal: true,
      minTokenProbability: 0,
    });
  });

  it('heals the word being typed and passes the confidence threshold on', async () => {
    const h = new Harness();
    h.settings = parseSettings({ minTokenProbability: 0.05 }).settings;
    await h.complete({ prefix: 'Local models are useful beca' });
    assert.equal(h.generated[0]!.heal, true);
    assert.equal(h.generated[0]!.minTokenProbability, 0.05);
  });

  it('lets the model write several lines only when multiline is on and nothing follows the cursor', async () => {
    const atNewline = async (multiline: boolean, lineSuffix: string): Promise<boolean> => {
      const h = new Harness();
      h.settings = parseSettings({ multiline }).settings;
      await h.complete({ lineSuffix });
      return h.generated[0]!.stop.atNewline;
    };
    assert.equal(await atNewline(true, ''), false);
    assert.equal(await atNewline(true, '  '), false);
    assert.equal(await atNewline(true, ');'), true);
    assert.equal(await atNewline(false, ''), true);
    // Only the cursor's line counts: text on the next lines does not follow the cursor.
    assert.equal(await atNewline(true, '\nreturn x;'), false);
    assert.equal(await atNewline(true, ');\nreturn x;'), true);
  });

  describe('triggers', () => {
    it('an explicit request skips the debounce and asks for 3 samples to cycle through', async () => {
      const h = new Harness();
      h.outputs = ['one', 'two', 'three'];
      assert.deepEqual(await h.complete({ trigger: 'invoke' }), ['one', 'two', 'three']);
      assert.deepEqual(h.events, ['cache miss', 'generate', 'cache put']);
      assert.equal(h.generated[0]!.samples, 3);
    });

    it('an explicit request does not settle for the one sample of an automatic one', async () => {
      const h = new Harness();
      await h.complete();
      await h.complete({ trigger: 'invoke' });
      assert.equal(h.generated.length, 2);
    });

    it('an automatic request reuses the samples of an explicit one', async () => {
      const h = new Harness();
      h.outputs = ['one', 'two', 'three'];
      await h.complete({ trigger: 'invoke' });
      assert.deepEqual(await h.complete(), ['one', 'two', 'three']);
      assert.equal(h.generated.length, 1);
    });
  });

  describe('prefilter', () => {
    it('does not call the model for a disabled language', async () => {
      const h = new Harness();
      h.settings = parseSettings({ languages: { markdown: false } }).settings;
      assert.deepEqual(await h.complete({ languageId: 'markdown' }), []);
      assert.equal(h.generated.length, 0);
      assert.deepEqual(await h.complete({ languageId: 'scminput' }), []);
      assert.equal(h.generated.length, 0);
    });

    it('does not call the model when completions are switched off', async () => {
      const h = new Harness();
      h.settings = parseSettings({ enable: false }).settings;
      assert.deepEqual(await h.complete(), []);
      assert.equal(h.generated.length, 0);
    });

    it('answers an explicit request even when switched off or the language is off', async () => {
      const h = new Harness();
      h.settings = parseSettings({ enable: false, languages: { '*': false } }).settings;
      assert.deepEqual(await h.complete({ trigger: 'invoke' }), ['world']);
    });

    it('does not call the model with an empty or blank prompt', async () => {
      const h = new Harness();
      for (const prefix of ['', '   \n\t ']) {
        assert.deepEqual(await h.complete({ prefix }), []);
        assert.deepEqual(await h.complete({ prefix, trigger: 'invoke' }), []);
      }
      assert.equal(h.generated.length, 0);
    });

    it('reads the settings after the debounce, so a change during the wait counts', async () => {
      const h = new Harness();
      h.sleepImpl = async () => {
        h.settings = parseSettings({ enable: false }).settings;
      };
      assert.deepEqual(await h.complete(), []);
      assert.equal(h.generated.length, 0);
    });
  });

  describe('cache', () => {
    it('answers the same request again from the cache', async () => {
      const h = new Harness();
      await h.complete();
      assert.deepEqual(await h.complete(), ['world']);
      assert.equal(h.generated.length, 1);
    });

    it('serves the rest of a suggestion the user is typing through', async () => {
      const h = new Harness();
      await h.complete({ prefix: 'Hello ' });
      assert.deepEqual(await h.complete({ prefix: 'Hello wo' }), ['rld']);
      assert.equal(h.generated.length, 1);
    });

    it('cleans typed-through remainders again for the new cursor position', async () => {
      const h = new Harness();
      h.outputs = ['big  world'];
      await h.complete({ prefix: 'Hello ' });
      // After "Hello big " the rest " world" would leave two spaces.
      assert.deepEqual(await h.complete({ prefix: 'Hello big ' }), ['world']);
      assert.equal(h.generated.length, 1);
    });

    it('does not reuse results made for different text after the cursor or different settings', async () => {
      const h = new Harness();
      await h.complete({ lineSuffix: '' });
      await h.complete({ lineSuffix: ')' });
      h.settings = parseSettings({ temperature: 0 }).settings;
      await h.complete({ lineSuffix: '' });
      h.settings = parseSettings({ temperature: 0, minTokenProbability: 0.1 }).settings;
      await h.complete({ lineSuffix: '' });
      assert.equal(h.generated.length, 4);
    });

    it('remembers that there was nothing to suggest', async () => {
      const h = new Harness();
      h.outputs = ['   '];
      assert.deepEqual(await h.complete(), []);
      assert.deepEqual(await h.complete(), []);
      assert.equal(h.generated.length, 1);
    });

    it('forgets everything on clearCache', async () => {
      const h = new Harness();
      await h.complete();
      h.pipeline.clearCache();
      await h.complete();
      assert.equal(h.generated.length, 2);
    });
  });

  describe('cancellation', () => {
    it('an abort during the debounce returns [] and never calls generate', async () => {
      const h = new Harness();
      const pipeline = new CompletionPipeline({
        generate: async (options) => {
          h.generated.push(options);
          return result(['x']);
        },
        settings: () => DEFAULT_SETTINGS, // real 200 ms debounce with the real sleep
      });
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 20);
      const request: CompletionRequest = { languageId: 'plaintext', prefix: 'Hi', lineSuffix: '', trigger: 'automatic' };
      assert.deepEqual(await pipeline.complete(request, controller.signal), []);
      assert.ok(performance.now() - started < 150, 'waited for the whole debounce');
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(h.generated.length, 0);
    });

    it('a clock that ignores the signal still cannot let an aborted request reach the model', async () => {
      const h = new Harness();
      const controller = new AbortController();
      h.sleepImpl = async () => controller.abort();
      assert.deepEqual(await h.complete({}, controller.signal), []);
      assert.equal(h.generated.length, 0);
    });

    it('an already aborted request does nothing at all', async () => {
      const h = new Harness();
      assert.deepEqual(await h.complete({}, AbortSignal.abort()), []);
      assert.deepEqual(h.events, []);
      assert.deepEqual(await h.complete({ trigger: 'invoke' }, AbortSignal.abort()), []);
      assert.deepEqual(h.events, []);
    });

    it('an abort while the model runs returns [] (generate gets the same signal)', async () => {
      const h = new Harness();
      const controller = new AbortController();
      h.generateImpl = (_options, signal) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new AbortError())));
      const pending = h.complete({}, controller.signal);
      setTimeout(() => controller.abort(), 5);
      assert.deepEqual(await pending, []);
    });

    it('a result that arrives after the abort is not shown, but is kept for typing through', async () => {
      const h = new Harness();
      const controller = new AbortController();
      h.generateImpl = async () => {
        controller.abort(); // the user typed "w" while the model was running
        return result(['world']);
      };
      assert.deepEqual(await h.complete({ prefix: 'Hello ' }, controller.signal), []);
      assert.deepEqual(await h.complete({ prefix: 'Hello w' }), ['orld']);
      assert.equal(h.generated.length, 1);
    });

    it('a generation cut short by cancellation is not cached', async () => {
      const h = new Harness();
      h.generateImpl = async () => result(['wor'], ['cancelled']);
      await h.complete();
      await h.complete();
      assert.equal(h.generated.length, 2);
    });

    it('any failure of an aborted request counts as the cancellation, not as an error', async () => {
      const h = new Harness();
      const controller = new AbortController();
      h.generateImpl = async () => {
        controller.abort();
        throw new Error('worker: request 7 was cancelled');
      };
      assert.deepEqual(await h.complete({}, controller.signal), []);
    });

    it('a model run cancelled elsewhere (worker restart) counts as a cancellation too', async () => {
      const h = new Harness();
      h.generateImpl = async () => {
        throw new AbortError();
      };
      assert.deepEqual(await h.complete(), []);
    });

    it('model failures that are not cancellations reach the caller', async () => {
      const h = new Harness();
      h.generateImpl = async () => {
        throw new Error('onnx runtime exploded');
      };
      await assert.rejects(h.complete(), /onnx runtime exploded/);
    });
  });

  it('logs each generation with its numbers', async () => {
    const lines: string[] = [];
    const pipeline = new CompletionPipeline({
      generate: async () => result(['a', 'a', '']),
      settings: () => DEFAULT_SETTINGS,
      sleep: async () => undefined,
      log: (line) => lines.push(line),
    });
    await pipeline.complete({ languageId: 'x', prefix: 'p', lineSuffix: '', trigger: 'invoke', documentVersion: 7 }, new AbortController().signal);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /invoke, v7\): 1\/3 kept, 10 prompt tokens \(0 reused\)/);
  });

  it('logs where a sample was cut for low confidence', async () => {
    const lines: string[] = [];
    const cut: GenerationResult = { ...result(['abc'], ['low-confidence']), confidenceCuts: [{ sample: 0, token: 3, probability: 0.0123 }] };
    const pipeline = new CompletionPipeline({ generate: async () => cut, settings: () => DEFAULT_SETTINGS, sleep: async () => undefined, log: (line) => lines.push(line) });
    await pipeline.complete({ languageId: 'x', prefix: 'p', lineSuffix: '', trigger: 'automatic' }, new AbortController().signal);
    assert.match(lines[0]!, /cut for low confidence at new token 3 \(p=0\.012\)/);
  });
});
