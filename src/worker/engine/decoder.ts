// One GPT-2 forward step over the lean graph, with the prompt-prefix KV reuse that makes
// keystroke-to-keystroke completions cheap: a new prompt only runs the tokens the cache lacks.
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { BatchKvCache } from './batchKvCache';
import { KvCache, type CacheShape } from './kvCache';
import { LOGITS_FROM } from './leanGraph';
import { modelInputsOf, type ModelInputs } from './modelInputs';
import { readTokenRows, TOKEN_ROWS, type TokenTableInFile } from './tokenRows';

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
  /**
   * Like forward, but returns the logits after each of `ids`: [vocab] each, valid until the next call (absent: the
   * decoder cannot; it may also throw when the graph cannot). For verifying drafted tokens in one pass.
   */
  forwardAll?(ids: readonly number[]): Promise<Float32Array[]>;
  /**
   * `rows` continuations of what the cache holds, decoded as one batch (absent: the decoder cannot batch).
   * `positions`: how long the rows may grow, for the layout. The single-row cache is left as it is.
   */
  batch?(rows: number, positions: number): BatchDecoder;
}

/** B rows that continue the same tokens, one token per row per step. */
export interface BatchDecoder {
  readonly rows: number;
  /** Feeds one token per row and returns each row's logits after it: [vocab] each, valid until the next call. */
  forward(tokens: readonly number[]): Promise<Float32Array[]>;
  /** Row `row` leaves the batch; the last row takes its index. */
  drop(row: number): void;
}

/** What a graph returns: a lean graph (leanGraph.ts) only the new positions' keys/values, a graph as shipped all of them. */
export interface GraphOutputs {
  lastLogitsOnly: boolean;
  present: 'present_new' | 'present';
  /**
   * The graph attends to the past and the new keys as two blocks (graph.ts), so B rows can share one past of
   * batch 1 (batchKvCache.ts). Graphs that concatenate them first (exports) refuse a past of another batch size.
   */
  rowsSharePast: boolean;
}

export const LEAN_OUTPUTS = (lastLogitsOnly: boolean): GraphOutputs => ({ lastLogitsOnly, present: 'present_new', rowsSharePast: false });
/** The engine's own graph (graph.ts), made lean. */
export const ENGINE_OUTPUTS: GraphOutputs = { lastLogitsOnly: true, present: 'present_new', rowsSharePast: true };
export const AS_SHIPPED: GraphOutputs = { lastLogitsOnly: false, present: 'present', rowsSharePast: false };

export class Gpt2Decoder implements TokenDecoder {
  readonly cache: KvCache;
  private readonly outputNames: string[];
  private readonly inputs: ModelInputs;
  private logitsAtEnd?: Float32Array; // logits after the cache's last token, when known
  private logitsLength = 0; // how many tokens the cache held when logitsAtEnd was computed (truncate() does not say)
  private batchCache?: BatchKvCache; // kept between requests, so its memory is faulted in once

  constructor(
    private readonly session: InferenceSession,
    readonly shape: DecoderShape,
    readonly graphOutputs: GraphOutputs,
    /** Where the rows of `token_rows` are read from, for a graph that takes them (tokenRows.ts). */
    readonly tokenTable?: TokenTableInFile,
  ) {
    this.inputs = modelInputsOf(session.inputNames);
    if (this.inputs.tokenRows && !tokenTable) throw new Error(`the graph takes ${TOKEN_ROWS}, but no token table to read them from was given`);
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
    if (reused === ids.length && reused === this.cache.length && this.logitsAtEnd && this.logitsLength === reused) return { logits: this.logitsAtEnd, reused };
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
    const logits = await this.run(ids, false);
    return logits[logits.length - 1];
  }

  /** Runs `ids` after the cached tokens and returns the logits after each of them: [vocab] each. */
  async forwardAll(ids: readonly number[]): Promise<Float32Array[]> {
    return this.run(ids, true);
  }

  private async run(ids: readonly number[], everyPosition: boolean): Promise<Float32Array[]> {
    const { useCacheBranch, positionIds, logitsFrom } = this.inputs;
    const { vocabSize } = this.shape;
    const feeds = this.cache.feeds(ids.length);
    if (!positionIds) delete feeds.position_ids;
    if (useCacheBranch) feeds.use_cache_branch = new Tensor('bool', [this.cache.length > 0], [1]);
    // A lean graph slices the last position before its lm_head; from 0 it returns them all (leanGraph.ts).
    if (logitsFrom) feeds[LOGITS_FROM] = new Tensor('int64', [everyPosition ? 0n : -1n], [1]);
    feeds.input_ids = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    if (this.inputs.tokenRows) feeds[TOKEN_ROWS] = readTokenRows(this.tokenTable!, ids, [1, ids.length]);
    const pastLength = Number(feeds['past_key_values.0.key'].dims[2]);
    const out = await this.session.run(feeds, this.outputNames);
    const logits = out.logits.data as Float32Array; // [1, 1 | seq, vocab]
    const positions = logits.length / vocabSize;
    if (everyPosition && positions !== ids.length) throw new Error(`the graph returned logits for ${positions} of ${ids.length} positions`);
    this.cache.append(ids, out, { prefix: this.graphOutputs.present, offset: this.graphOutputs.present === 'present' ? pastLength : 0 });
    const from = everyPosition ? 0 : positions - 1;
    const all = Array.from({ length: positions - from }, (_, i) => logits.subarray((from + i) * vocabSize, (from + i + 1) * vocabSize));
    this.logitsAtEnd = all[all.length - 1];
    this.logitsLength = this.cache.length;
    return all;
  }

  /**
   * Decodes `rows` continuations of the cache in batched steps: input_ids [B, 1], attention_mask [B, T],
   * position_ids [B, 1], and one past [1, nHead, P, headDim] that all rows share (batchKvCache.ts). Throws for
   * graphs whose attention cannot share it; their samples decode one after another.
   */
  batch(rows: number, positions: number): BatchDecoder {
    if (!this.graphOutputs.rowsSharePast) throw new Error('the graph concatenates the past and the new keys, so its rows cannot share the prompt\'s cache (only the engine\'s own graph can)');
    if (!this.inputs.positionIds) throw new Error('the graph has no position_ids input');
    if (this.cache.length === 0) throw new Error('batch() continues the cached tokens; the cache is empty');
    const cache = (this.batchCache ??= new BatchKvCache(this.shape));
    cache.start(this.cache, rows, positions);
    const { vocabSize } = this.shape;
    return {
      get rows() {
        return cache.rows;
      },
      forward: async (tokens) => {
        if (tokens.length !== cache.rows) throw new Error(`${tokens.length} tokens for ${cache.rows} rows`);
        const feeds = cache.feeds();
        if (this.inputs.useCacheBranch) feeds.use_cache_branch = new Tensor('bool', [true], [1]);
        if (this.inputs.logitsFrom) feeds[LOGITS_FROM] = new Tensor('int64', [-1n], [1]);
        feeds.input_ids = new Tensor('int64', BigInt64Array.from(tokens, BigInt), [tokens.length, 1]);
        if (this.inputs.tokenRows) feeds[TOKEN_ROWS] = readTokenRows(this.tokenTable!, tokens, [tokens.length, 1]);
        const out = await this.session.run(feeds, this.outputNames);
        const logits = out.logits.data as Float32Array; // [B, 1, vocab]
        if (logits.length !== tokens.length * vocabSize) throw new Error(`logits have ${logits.length} values for ${tokens.length} rows`);
        cache.append(out);
        return tokens.map((_, r) => logits.subarray(r * vocabSize, (r + 1) * vocabSize));
      },
      drop: (row) => cache.drop(row),
    };
  }

  reset(): void {
    this.cache.clear();
    this.logitsAtEnd = undefined;
  }
}
