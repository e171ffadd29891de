// One GPT-2 forward step over the lean graph, with the prompt-prefix KV reuse that makes
// keystroke-to-keystroke completions cheap: a new prompt only runs the tokens the cache lacks.
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { KvCache, type CacheShape } from './kvCache';
import { modelInputsOf, type ModelInputs } from './modelInputs';

export interface DecoderShape extends CacheShape {
  vocabSize: number;
}

/** Long prompts run in slices so that a cancel message is seen between them. */
const PREFILL_SLICE = 256;

/** What the sampling loop needs from a decoder; tests substitute one with crafted logits. */
export interface TokenDecoder {
  readonly shape: DecoderShape;
  readonly cache: { readonly length: number; truncate(length: number): void };
  prefill(ids: readonly number[], isCancelled?: () => boolean): Promise<{ logits: Float32Array; reused: number } | undefined>;
  forward(ids: readonly number[]): Promise<Float32Array>;
}

/** What a graph returns: a lean graph (leanGraph.ts) only the new positions' keys/values, a graph as shipped all of them. */
export interface GraphOutputs {
  lastLogitsOnly: boolean;
  present: 'present_new' | 'present';
}

export const LEAN_OUTPUTS = (lastLogitsOnly: boolean): GraphOutputs => ({ lastLogitsOnly, present: 'present_new' });
export const AS_SHIPPED: GraphOutputs = { lastLogitsOnly: false, present: 'present' };

export class Gpt2Decoder implements TokenDecoder {
  readonly cache: KvCache;
  private readonly outputNames: string[];
  private readonly inputs: ModelInputs;
  private logitsAtEnd?: Float32Array; // logits after the cache's last token, when known

  constructor(
    private readonly session: InferenceSession,
    readonly shape: DecoderShape,
    readonly graphOutputs: GraphOutputs,
  ) {
    this.inputs = modelInputsOf(session.inputNames);
    this.cache = new KvCache(shape, !this.inputs.positionIds);
    this.outputNames = ['logits'];
    for (let l = 0; l < shape.nLayer; l++) this.outputNames.push(`${graphOutputs.present}.${l}.key`, `${graphOutputs.present}.${l}.value`);
  }

  /**
   * Makes the cache hold exactly `ids` and returns the logits after the last one.
   * Reuses the longest common prefix with what the cache holds; `reused` says how many tokens that saved.
   */
  async prefill(ids: readonly number[], isCancelled: () => boolean = () => false): Promise<{ logits: Float32Array; reused: number } | undefined> {
    if (ids.length === 0) throw new Error('prefill needs at least one token');
    let reused = this.cache.commonPrefix(ids);
    if (reused === ids.length && reused === this.cache.length && this.logitsAtEnd) return { logits: this.logitsAtEnd, reused };
    reused = Math.min(reused, ids.length - 1); // the last token must run to produce its logits
    this.cache.truncate(reused);
    this.logitsAtEnd = undefined;
    let logits: Float32Array | undefined;
    for (let start = reused; start < ids.length; start += PREFILL_SLICE) {
      if (isCancelled()) return undefined;
      logits = await this.forward(ids.slice(start, start + PREFILL_SLICE));
    }
    return { logits: logits!, reused };
  }

  /** Runs `ids` after the cached tokens and returns the logits of the last position: [vocab]. */
  async forward(ids: readonly number[]): Promise<Float32Array> {
    const { useCacheBranch, positionIds } = this.inputs;
    const feeds = this.cache.feeds(ids.length);
    if (!positionIds) delete feeds.position_ids;
    if (useCacheBranch) feeds.use_cache_branch = new Tensor('bool', [this.cache.length > 0], [1]);
    feeds.input_ids = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const pastLength = Number(feeds['past_key_values.0.key'].dims[2]);
    const out = await this.session.run(feeds, this.outputNames);
    this.cache.append(ids, out, { prefix: this.graphOutputs.present, offset: this.graphOutputs.present === 'present' ? pastLength : 0 });
    const logits = out.logits.data as Float32Array; // [1, 1 | seq, vocab]
    const offset = this.graphOutputs.lastLogitsOnly ? 0 : (ids.length - 1) * this.shape.vocabSize;
    this.logitsAtEnd = logits.subarray(offset, offset + this.shape.vocabSize);
    return this.logitsAtEnd;
  }

  reset(): void {
    this.cache.clear();
    this.logitsAtEnd = undefined;
  }
}
