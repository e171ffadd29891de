// What a decode step cannot avoid, run alone through ONNX Runtime with the bench's threads, so that the
// engine's step can be split into "the kernels' own cost" and "everything else the engine could still remove":
//
//   linears:               every weight linear of the model and the tied lm_head, applied to one fixed row,
//                          built by the same functions as the model graph (graph.ts), so the same ORT kernels
//                          stream the same bytes; nothing else in the graph.
//   linears + attention:   the same, plus q.K^T and p.V over the KV cache laid out as the engine lays it out
//                          at that context (whole chunks of slots per head, fp32, fed zero-copy).
//
// Both read far more than any CPU cache holds (the weights alone are ~125 MB for q8), so every run streams
// from RAM as a real step does. Random weights: the kernels' speed does not depend on the values.
import { onnx } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { slotsFor } from '../src/worker/engine/kvCache';
import { headDim, type Gpt2Config } from '../src/worker/gpt2/config';
import { linearFor } from '../src/worker/gpt2/linears';
import { encodeModel, GraphBuilder, valueInfo } from '../src/worker/gpt2/onnxBuilder';
import { tokenTable } from '../src/worker/gpt2/tokenTable';
import type { Gpt2Weights } from '../src/worker/gpt2/weights';
import { randomWeights } from '../scripts/model/randomWeights';
import type { Dtype } from '../src/protocol';
import { summarize, type Summary } from './stats';

export interface DecodeBudget {
  context: number;
  /** Positions per head the engine's cache holds for a step at this context: what attention reads. */
  slots: number;
  linearsMs: Summary;
  linearsAndAttentionMs: Summary;
}

const { FLOAT, INT64 } = onnx.TensorProto.DataType;

/** [rows, 1, E] -> every linear of every block, and the lm_head; with `slots`, attention over a cache too. */
function skeletonOnnx(w: Gpt2Weights, c: Gpt2Config, dtype: Dtype, slots: number | undefined, rows = 1): Uint8Array {
  const E = c.nEmbd, H = c.nHead, D = headDim(c);
  const g = new GraphBuilder();
  const linear = linearFor(g, dtype);
  const inputs = [valueInfo('x', FLOAT, [rows, 1, E]), valueInfo('x4', FLOAT, [rows, 1, 4 * E]), valueInfo('input_ids', INT64, [1, 1])];
  const results: string[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}`;
    results.push(
      linear('x', w.h[l].attn.c_attn, E, 3 * E, p + '.attn.c_attn'),
      linear('x', w.h[l].attn.c_proj, E, E, p + '.attn.c_proj'),
      linear('x', w.h[l].mlp.c_fc, E, 4 * E, p + '.mlp.c_fc'),
      linear('x4', w.h[l].mlp.c_proj, 4 * E, E, p + '.mlp.c_proj'),
    );
    if (slots !== undefined) {
      // The two matmuls of the model's attention over its past (graph.ts attention()): [1,H,1,D] x [1,H,D,slots], [1,H,1,slots] x [1,H,slots,D]
      const keys = g.op1('Transpose', [`past.${l}.key`], { perm: [0, 1, 3, 2] });
      results.push(g.op1('MatMul', ['q', keys]), g.op1('MatMul', ['probs', `past.${l}.value`]));
      inputs.push(valueInfo(`past.${l}.key`, FLOAT, [1, H, slots, D]), valueInfo(`past.${l}.value`, FLOAT, [1, H, slots, D]));
    }
  }
  if (slots !== undefined) inputs.push(valueInfo('q', FLOAT, [1, H, 1, D]), valueInfo('probs', FLOAT, [1, H, 1, slots]));
  const { embed, lmHead } = tokenTable(g, w, c, dtype); // the step's embedding row too: a few KB
  results.push(embed, lmHead('x'));
  // One scalar out, so ONNX Runtime must compute every result and only 4 bytes cross back to JS.
  const total = g.op1('Sum', results.map((r) => g.op1('ReduceSum', [r], { keepdims: 0 })));
  return encodeModel(g, `decode-budget-${dtype}`, inputs, [valueInfo(total, FLOAT, [])]);
}

function feedsFor(c: Gpt2Config, slots: number | undefined, rows = 1): Record<string, Tensor> {
  const E = c.nEmbd, H = c.nHead, D = headDim(c);
  const row = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const feeds: Record<string, Tensor> = {
    x: new Tensor('float32', row(rows * E), [rows, 1, E]),
    x4: new Tensor('float32', row(rows * 4 * E), [rows, 1, 4 * E]),
    input_ids: new Tensor('int64', BigInt64Array.of(198n), [1, 1]),
  };
  if (slots === undefined) return feeds;
  feeds.q = new Tensor('float32', row(H * D), [1, H, 1, D]);
  feeds.probs = new Tensor('float32', new Float32Array(H * slots).fill(1 / slots), [1, H, 1, slots]);
  for (let l = 0; l < c.nLayer; l++) {
    for (const kind of ['key', 'value']) feeds[`past.${l}.${kind}`] = new Tensor('float32', row(H * slots * D), [1, H, slots, D]);
  }
  return feeds;
}

async function timeRuns(session: InferenceSession, feeds: Record<string, Tensor>, repetitions: number): Promise<number[]> {
  for (let i = 0; i < 3; i++) await session.run(feeds); // thread pool start, arena growth
  const ms: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const started = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - started);
  }
  return ms;
}

export async function measureDecodeBudget(c: Gpt2Config, options: { dtype: Dtype; threads: number; context: number; repetitions: number }): Promise<DecodeBudget> {
  const slots = slotsFor(options.context + 1, c.nPositions); // the cache's layout for a step after `context` tokens
  const weights = randomWeights(c, 1);
  const sessionOptions: InferenceSession.SessionOptions = { intraOpNumThreads: options.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const result: Partial<DecodeBudget> = { context: options.context, slots };
  // One session at a time: an idle session's spinning thread pool slows the other one on 2 cores.
  for (const [key, withSlots] of [['linearsMs', undefined], ['linearsAndAttentionMs', slots]] as const) {
    const session = await InferenceSession.create(skeletonOnnx(weights, c, options.dtype, withSlots), sessionOptions);
    try {
      result[key] = summarize(await timeRuns(session, feedsFor(c, withSlots), options.repetitions));
    } finally {
      await session.release();
    }
  }
  return result as DecodeBudget;
}

/**
 * The linears alone for `rows` rows at once against one row: what a batched step of `rows` samples cannot go
 * below, since the weights are read once either way and the rest is arithmetic per row.
 */
export interface LinearsPerRows {
  rows: number;
  oneRowMs: Summary;
  rowsMs: Summary;
  ratio: number; // rows / one row, of medians
}

export async function measureLinearsPerRows(c: Gpt2Config, options: { dtype: Dtype; threads: number; rows: number; repetitions: number }): Promise<LinearsPerRows> {
  const weights = randomWeights(c, 1);
  const sessionOptions: InferenceSession.SessionOptions = { intraOpNumThreads: options.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  // Rounds alternate between the two (one session at a time), so that the machine's load and the first session's
  // start-up costs hit both alike.
  const times: [number[], number[]] = [[], []];
  const rounds = 3;
  for (let round = 0; round < rounds; round++) {
    for (const [i, rows] of [1, options.rows].entries()) {
      const session = await InferenceSession.create(skeletonOnnx(weights, c, options.dtype, undefined, rows), sessionOptions);
      try {
        times[i].push(...(await timeRuns(session, feedsFor(c, undefined, rows), Math.ceil(options.repetitions / rounds))));
      } finally {
        await session.release();
      }
    }
  }
  const [one, many] = times.map(summarize);
  return { rows: options.rows, oneRowMs: one, rowsMs: many, ratio: many.median / one.median };
}
