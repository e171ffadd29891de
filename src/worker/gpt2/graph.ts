// GPT-2 written directly as an ONNX graph (opset 20), in the Optimum "decoder_model_merged" layout
// that transformers.js v4 runs:
//
//   inputs : input_ids      int64 [B, S]
//            attention_mask int64 [B, T]            T = P + S, 0 = ignore this key slot
//            position_ids   int64 [B, S]
//            past_key_values.{l}.key/value float32 [B, nHead, P, headDim]   (P = 0 on the first call)
//   outputs: logits         float32 [B, S, vocab]
//            present.{l}.key/value     float32 [B, nHead, T, headDim]
//
// The network, minGPT style: x = wte[ids] + wpe[pos]; nLayer x { x += attn(ln_1(x)); x += mlp(ln_2(x)) };
// logits = ln_f(x) @ wte^T. `dtype` picks the block linears (linears.ts) and how wte is stored (tokenTable.ts).
import { onnx } from 'onnx-proto';
import type { Dtype } from '../../protocol';
import { headDim, validateConfig, type Gpt2Config } from './config';
import { linearFor, type LinearFn } from './linears';
import { float, GraphBuilder, modelOf, valueInfo } from './onnxBuilder';
import { tokenTable } from './tokenTable';
import type { Gpt2Block, Gpt2Weights, LayerNorm, Matrix } from './weights';

export type Gpt2Dtype = Dtype;

const DT = onnx.TensorProto.DataType;

/** The constants the blocks share, created once; each field is the name of its initializer. */
function constants(g: GraphBuilder, c: Gpt2Config) {
  const E = c.nEmbd, H = c.nHead, D = headDim(c);
  return {
    i0: g.i64('const.i0', [0], []), i1: g.i64('const.i1', [1], []), i2: g.i64('const.i2', [2], []),
    i0_1d: g.i64('const.i0_1d', [0]), i2_1d: g.i64('const.i2_1d', [2]), i3_1d: g.i64('const.i3_1d', [3]),
    end: g.i64('const.big_1d', [2 ** 31 - 1]), // "to the end" for Slice
    splitQkv: g.i64('const.split_qkv', [E, E, E]),
    headsShape: g.i64('const.shape_heads', [0, 0, H, D]), // [B, S, E] -> [B, S, H, D]
    mergedShape: g.i64('const.shape_merge', [0, 0, E]), // [B, S, H, D] -> [B, S, E]
    zero: g.scalar('const.zero', 0),
    masked: g.scalar('const.neg_big', -1e9),
    attnScale: g.scalar('const.attn_scale', 1 / Math.sqrt(D)),
  };
}
type Consts = ReturnType<typeof constants>;

interface Ctx {
  g: GraphBuilder;
  k: Consts;
  linear: LinearFn;
  E: number;
  eps: number;
}

function layerNorm({ g, E, eps }: Ctx, x: string, ln: LayerNorm, name: string): string {
  return g.op1('LayerNormalization', [x, g.f32(name + '.weight', [E], ln.weight), g.f32(name + '.bias', [E], ln.bias)], { axis: -1, epsilon: float(eps) });
}

interface AttentionMask {
  bias: string; // [B, 1, S, T]
  pastLength: string; // [1]: P, where the new keys start on the key axis
}

/**
 * Additive attention bias [B, 1, S, T]: 0 where query i (absolute position P + i) may look at key j,
 * -1e9 elsewhere. A key is visible when it is not in the future (j <= P + i) AND attention_mask[b, j] = 1,
 * so padded or dropped past slots are ignored. -1e9 rather than -inf: a fully masked row (a padding
 * query) then softmaxes to uniform weights instead of NaN.
 */
function attentionMask({ g, k }: Ctx): AttentionMask {
  const S = g.op1('Gather', [g.op1('Shape', ['input_ids']), k.i1], { axis: 0 });
  const pastShape = g.op1('Shape', ['past_key_values.0.key']);
  const P = g.op1('Gather', [pastShape, k.i2], { axis: 0 });
  const T = g.op1('Add', [P, S]);
  const qPos = g.op1('Unsqueeze', [g.op1('Range', [P, T, k.i1]), g.i64('axes_1', [1])]); // [S, 1]
  const kPos = g.op1('Unsqueeze', [g.op1('Range', [k.i0, T, k.i1]), g.i64('axes_0', [0])]); // [1, T]
  const causal = g.op1('LessOrEqual', [kPos, qPos]); // [S, T]
  const keep = g.op1('Unsqueeze', [g.op1('Cast', ['attention_mask'], { to: DT.BOOL }), g.i64('axes_1_2', [1, 2])]); // [B, 1, 1, T]
  const bias = g.op1('Where', [g.op1('And', [causal, keep]), k.zero, k.masked]); // [B, 1, S, T]
  return { bias, pastLength: g.op1('Slice', [pastShape, k.i2_1d, k.i3_1d]) };
}

/**
 * Multi-head causal self-attention with a KV cache. x: [B, S, E] -> [B, S, E].
 * Attends to [past | new] as two blocks instead of one concatenation: present.* still holds the
 * concatenation (the Optimum layout), but nothing else reads it, so an engine that keeps the cache
 * itself and drops present.* (leanGraph) never copies the whole cache in a decode step.
 */
function attention(ctx: Ctx, x: string, attn: Gpt2Block<Matrix>['attn'], l: number, mask: AttentionMask): string {
  const { g, k, linear, E } = ctx, p = `transformer.h.${l}.attn`;
  const [q, key, v] = g.op('Split', [linear(x, attn.c_attn, E, 3 * E, p + '.c_attn'), k.splitQkv], { axis: 2 }, 3); // 3 x [B, S, E]
  const heads = (t: string) => g.op1('Transpose', [g.op1('Reshape', [t, k.headsShape])], { perm: [0, 2, 1, 3] }); // [B, H, S, D]
  const kPast = `past_key_values.${l}.key`, vPast = `past_key_values.${l}.value`; // [B, H, P, D]
  const kNew = heads(key), vNew = heads(v);
  g.rename(g.op1('Concat', [kPast, kNew], { axis: 2 }), `present.${l}.key`); // [B, H, T, D]
  g.rename(g.op1('Concat', [vPast, vNew], { axis: 2 }), `present.${l}.value`);
  const qScaled = g.op1('Mul', [heads(q), k.attnScale]); // scale q (S rows) rather than scores (S x T)
  const scoresOf = (keys: string) => g.op1('MatMul', [qScaled, g.op1('Transpose', [keys], { perm: [0, 1, 3, 2] })]);
  const scores = g.op1('Concat', [scoresOf(kPast), scoresOf(kNew)], { axis: 3 }); // [B, H, S, P] | [B, H, S, S]
  const probs = g.op1('Softmax', [g.op1('Add', [scores, mask.bias])], { axis: -1 }); // [B, H, S, T]
  const probsPast = g.op1('Slice', [probs, k.i0_1d, mask.pastLength, k.i3_1d]); // [B, H, S, P]
  const probsNew = g.op1('Slice', [probs, mask.pastLength, k.end, k.i3_1d]); // [B, H, S, S]
  const y = g.op1('Add', [g.op1('MatMul', [probsPast, vPast]), g.op1('MatMul', [probsNew, vNew])]); // [B, H, S, D]
  const merged = g.op1('Reshape', [g.op1('Transpose', [y], { perm: [0, 2, 1, 3] }), k.mergedShape]); // [B, S, E]
  return linear(merged, attn.c_proj, E, E, p + '.c_proj');
}

/**
 * gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), the tanh approximation GPT-2 was trained
 * with. ONNX's Gelu (opset 20) with approximate='tanh' is exactly that, in one kernel instead of eight.
 */
function mlp({ g, linear, E }: Ctx, x: string, mlpWeights: Gpt2Block<Matrix>['mlp'], l: number): string {
  const p = `transformer.h.${l}.mlp`;
  const hidden = g.op1('Gelu', [linear(x, mlpWeights.c_fc, E, 4 * E, p + '.c_fc')], { approximate: { string: 'tanh' } }); // [B, S, 4E]
  return linear(hidden, mlpWeights.c_proj, 4 * E, E, p + '.c_proj'); // [B, S, E]
}

function block(ctx: Ctx, x: string, b: Gpt2Block<Matrix>, l: number, mask: AttentionMask): string {
  const p = `transformer.h.${l}`;
  x = ctx.g.op1('Add', [x, attention(ctx, layerNorm(ctx, x, b.ln_1, p + '.ln_1'), b.attn, l, mask)]);
  return ctx.g.op1('Add', [x, mlp(ctx, layerNorm(ctx, x, b.ln_2, p + '.ln_2'), b.mlp, l)]);
}

/** Serialized ONNX model (ModelProto bytes) of GPT-2 with the given weights, ready for InferenceSession.create. */
export function buildGpt2Onnx(w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Gpt2Dtype): Uint8Array {
  return onnx.ModelProto.encode(gpt2Model(w, c, dtype)).finish();
}

/** GPT-2 with the given weights as a ModelProto (for rewriting before it is encoded once). */
export function gpt2Model(w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Gpt2Dtype): onnx.ModelProto {
  validateConfig(c);
  if (w.h.length !== c.nLayer) throw new Error(`weights have ${w.h.length} blocks, config says nLayer=${c.nLayer}`);
  const g = new GraphBuilder();
  const ctx: Ctx = { g, k: constants(g, c), linear: linearFor(g, dtype), E: c.nEmbd, eps: c.layerNormEpsilon };
  const { embed, lmHead } = tokenTable(g, w, c, dtype);
  const wpe = g.f32('transformer.wpe.weight', [c.nPositions, c.nEmbd], w.wpe);
  let x = g.op1('Add', [embed, g.op1('Gather', [wpe, 'position_ids'], { axis: 0 })]); // [B, S, E]
  const mask = attentionMask(ctx);
  w.h.forEach((b, l) => (x = block(ctx, x, b, l, mask)));
  g.rename(lmHead(layerNorm(ctx, x, w.ln_f, 'transformer.ln_f')), 'logits'); // [B, S, V]
  return modelOf(g, `gpt2-${dtype}`, ...signature(c));
}

/** The Optimum decoder's inputs and outputs; numeric H and D: transformers.js sizes the empty first past from them. */
function signature(c: Gpt2Config): [onnx.IValueInfoProto[], onnx.IValueInfoProto[]] {
  const inputs = [
    valueInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', DT.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', DT.FLOAT, ['batch_size', 'sequence_length', c.vocabSize])];
  for (let l = 0; l < c.nLayer; l++) {
    for (const kv of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${l}.${kv}`, DT.FLOAT, ['batch_size', c.nHead, 'past_sequence_length', headDim(c)]));
      outputs.push(valueInfo(`present.${l}.${kv}`, DT.FLOAT, ['batch_size', c.nHead, 'total_sequence_length', headDim(c)]));
    }
  }
  return [inputs, outputs];
}
