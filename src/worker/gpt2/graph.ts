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
// logits = ln_f(x) @ wte^T. `dtype` picks the block linears: fp32 MatMul, q8 DynamicQuantizeLinear +
// MatMulInteger (int8 per-column weights), or q4 com.microsoft MatMulNBits (4-bit blocks of 32). q8 and q4
// both keep wte as one int8 per-row table used by the embedding Gather and by the lm_head.
import { onnx } from 'onnx-proto';
import type { Dtype } from '../../protocol';
import { headDim, validateConfig, type Gpt2Config } from './config';
import { quantizeInt8PerColumn, quantizeInt8PerRow, quantizeQ4, Q4_BLOCK } from './quantize';
import { isInt8, type Gpt2Weights, type Int8Matrix, type LayerNorm, type Linear, type Matrix } from './weights';

export type Gpt2Dtype = Dtype;

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

type Dim = number | string; // numeric or symbolic
type AttrValue = number | number[] | { float: number } | { string: string }; // plain numbers are INT attributes
const float = (v: number) => ({ float: v });

/** Collects nodes and initializers; every op returns the names of its fresh output tensors. */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private uid = 0;

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1, domain = ''): string[] {
    const id = this.uid++;
    const output = Array.from({ length: nOut }, (_, i) => `/${opType}_${id}/out${i}`);
    const attribute = Object.entries(attrs).map(([name, v]): onnx.IAttributeProto => {
      if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
      if (typeof v === 'number') return { name, type: AT.INT, i: v };
      if ('string' in v) return { name, type: AT.STRING, s: new TextEncoder().encode(v.string) };
      return { name, type: AT.FLOAT, f: v.float };
    });
    this.nodes.push({ opType, input: inputs, output, name: `/${opType}_${id}`, domain, attribute });
    return output;
  }

  /** Single-output op, the common case. */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.op(opType, inputs, attrs, 1, domain)[0];
  }

  /** Names a tensor: a graph output must be produced under its own name. */
  rename(from: string, to: string): string {
    this.nodes.push({ opType: 'Identity', input: [from], output: [to], name: `/Identity_${to}`, domain: '' });
    return to;
  }

  init(name: string, dataType: number, dims: number[], data: ArrayBufferView): string {
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dataType, dims, rawData });
    return name;
  }

  f32(name: string, dims: number[], data: Float32Array): string {
    return this.init(name, DT.FLOAT, dims, data);
  }

  i64(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.init(name, DT.INT64, dims, BigInt64Array.from(values, BigInt));
  }

  scalar(name: string, v: number): string {
    return this.init(name, DT.FLOAT, [], Float32Array.of(v));
  }
}

export function valueInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/**
 * y = x @ W + b for a Conv1D weight W [K, N], in the precision of the graph. x: [B, S, K] -> [B, S, N].
 * W is fp32, or int8 as a downloaded q8 export shipped it (q8 graphs only).
 */
export type LinearFn = (x: string, lin: Linear<Matrix>, K: number, N: number, name: string) => string;

function fp32Weight(m: Matrix, name: string): Float32Array {
  if (isInt8(m)) throw new Error(`${name}: an int8 weight needs a q8 graph`);
  return m;
}

function fp32Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const y = g.op1('MatMul', [x, g.f32(name + '.weight', [K, N], fp32Weight(lin.weight, name))]);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/**
 * onnxruntime's dynamic-quantization pattern: activations -> uint8 per tensor at run time,
 * weights int8 per output column, integer matmul, then rescale by (x_scale * w_scale[n]).
 */
function q8MatMul(g: GraphBuilder, x: string, wq: string, wScale: string, wZero?: string): string {
  const [xq, xScale, xZero] = g.op('DynamicQuantizeLinear', [x], {}, 3);
  const acc = g.op1('MatMulInteger', wZero ? [xq, wq, xZero, wZero] : [xq, wq, xZero]); // int32; ours are symmetric (no zero point)
  const scale = g.op1('Mul', [xScale, wScale]); // [N]
  return g.op1('Mul', [g.op1('Cast', [acc], { to: DT.FLOAT }), scale]);
}

/** An int8 matrix as initializers: quantized values, scale and (when not all zero) zero point. */
function int8Initializers(g: GraphBuilder, m: Int8Matrix, dims: number[], name: string) {
  const type = m.q instanceof Int8Array ? DT.INT8 : DT.UINT8;
  const wq = g.init(name + '_quantized', type, dims, m.q);
  const scale = g.f32(name + '_scale', m.scale.length === 1 ? [] : [m.scale.length], m.scale);
  const zero = m.zeroPoint.some((z) => z !== 0) ? g.init(name + '_zero_point', type, m.zeroPoint.length === 1 ? [] : [m.zeroPoint.length], m.zeroPoint) : undefined;
  return { wq, scale, zero };
}

function q8Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const w = isInt8(lin.weight) ? lin.weight : { ...quantizeInt8PerColumn(lin.weight, K, N), zeroPoint: new Int8Array(1) };
    const { wq, scale, zero } = int8Initializers(g, w, [K, N], name + '.weight');
    const y = q8MatMul(g, x, wq, scale, zero);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/** com.microsoft MatMulNBits: 4-bit weights in blocks of 32 along K, one fp32 scale and 4-bit zero point per block. */
function q4MatMul(g: GraphBuilder, x: string, at: (n: number, k: number) => number, K: number, N: number, name: string) {
  const { packed, scales, zeroPoints, nBlocks } = quantizeQ4(at, K, N);
  const wq = g.init(name + '.weight_q4', DT.UINT8, [N, nBlocks, Q4_BLOCK / 2], packed);
  const ws = g.f32(name + '.weight_scales', [N * nBlocks], scales);
  const wz = g.init(name + '.weight_zero_points', DT.UINT8, [zeroPoints.length], zeroPoints);
  // accuracy_level 4: int8 activations inside the kernel; the fast CPU path.
  const attrs = { K, N, bits: 4, block_size: Q4_BLOCK, accuracy_level: 4 };
  return g.op1('MatMulNBits', [x, wq, ws, wz], attrs, 'com.microsoft');
}

function q4Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const w = fp32Weight(lin.weight, name); // [K, N]
    const y = q4MatMul(g, x, (n, k) => w[k * N + n], K, N, name);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/** The block linears in the precision of the graph. */
export function linearFor(g: GraphBuilder, dtype: Gpt2Dtype): LinearFn {
  if (dtype === 'fp32') return fp32Linear(g);
  if (dtype === 'q8') return q8Linear(g);
  if (dtype === 'q4') return q4Linear(g);
  throw new Error(`unknown dtype ${String(dtype)} (expected fp32, q8 or q4)`);
}

/** Token embedding (Gather) and the lm_head (x @ wte^T, or the export's own [E, V] copy). */
export function embeddings(g: GraphBuilder, w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Gpt2Dtype) {
  const V = c.vocabSize, E = c.nEmbd;
  if (isInt8(w.wte) || w.lmHead) return exportedEmbeddings(g, w.wte, w.lmHead, c);
  if (dtype === 'fp32') {
    const wte = g.f32('transformer.wte.weight', [V, E], w.wte);
    const embed = g.op1('Gather', [wte, 'input_ids'], { axis: 0 }); // [B, S, E]
    const lmHead = (h: string) => {
      // Gemm(transB) reads wte as stored; a MatMul would need a transposed copy of the biggest tensor.
      const flat = g.op1('Reshape', [h, g.i64('lm_head.flat_shape', [-1, E])]); // [B*S, E]
      const logits = g.op1('Gemm', [flat, wte], { transB: 1 }); // [B*S, V]
      // [B, S] from h itself, not from input_ids: the engine slices h to the last position before lm_head.
      const batchSeq = g.op1('Slice', [g.op1('Shape', [h]), g.i64('lm_head.shape_start', [0]), g.i64('lm_head.shape_end', [2])]);
      const outShape = g.op1('Concat', [batchSeq, g.i64('lm_head.vocab', [V])], { axis: 0 });
      return g.op1('Reshape', [logits, outShape]); // [B, S, V]
    };
    return { embed, lmHead };
  }
  // int8 table with one scale per token: Gather rows, then dequantize only the gathered rows.
  const { q, scale } = quantizeInt8PerRow(w.wte, V, E);
  const wq = g.init('transformer.wte.weight_quantized', DT.INT8, [V, E], q);
  const ws = g.f32('transformer.wte.weight_scale', [V], scale);
  const rows = g.op1('Cast', [g.op1('Gather', [wq, 'input_ids'], { axis: 0 })], { to: DT.FLOAT }); // [B, S, E]
  const rowScale = g.op1('Unsqueeze', [g.op1('Gather', [ws, 'input_ids'], { axis: 0 }), g.i64('axes_last', [-1])]);
  const embed = g.op1('Mul', [rows, rowScale]);
  // lm_head reuses the same int8 table (per-row scale of wte == per-column scale of wte^T); ORT folds the
  // Transpose at load. Also for q4: 4-bit logits cost more accuracy than the ~24 MB they would save.
  const wqT = g.op1('Transpose', [wq], { perm: [1, 0] }); // [E, V]
  return { embed, lmHead: (h: string) => q8MatMul(g, h, wqT, ws) };
}

/**
 * An export's tables as it stores them: wte fp32, or int8 with one scale for the whole table (Gather the int8
 * rows, then DequantizeLinear, as onnxruntime's quantizer writes it); the lm_head as its own [E, V] matrix.
 */
function exportedEmbeddings(g: GraphBuilder, wte: Matrix, lmHead: Matrix | undefined, c: Gpt2Config) {
  const V = c.vocabSize, E = c.nEmbd;
  let embed: string;
  if (isInt8(wte)) {
    if (wte.scale.length !== 1) throw new Error('wte: an int8 table needs one scale for the whole table');
    const table = int8Initializers(g, wte, [V, E], 'transformer.wte.weight');
    const rows = g.op1('Gather', [table.wq, 'input_ids'], { axis: 0 }); // [B, S, E] int8
    const zero = table.zero ?? g.init('transformer.wte.weight_zero_point', wte.q instanceof Int8Array ? DT.INT8 : DT.UINT8, [], wte.zeroPoint);
    embed = g.op1('DequantizeLinear', [rows, table.scale, zero]);
  } else {
    embed = g.op1('Gather', [g.f32('transformer.wte.weight', [V, E], wte), 'input_ids'], { axis: 0 });
  }
  if (!lmHead) throw new Error('lm_head: an export with an int8 token table needs its own lm_head matrix');
  if (!isInt8(lmHead)) return { embed, lmHead: (h: string) => g.op1('MatMul', [h, g.f32('lm_head.weight', [E, V], lmHead)]) };
  const head = int8Initializers(g, lmHead, [E, V], 'lm_head.weight');
  return { embed, lmHead: (h: string) => q8MatMul(g, h, head.wq, head.scale, head.zero) };
}

function layerNorm(g: GraphBuilder, x: string, ln: LayerNorm, E: number, name: string, eps: number): string {
  const gain = g.f32(name + '.weight', [E], ln.weight);
  const bias = g.f32(name + '.bias', [E], ln.bias);
  return g.op1('LayerNormalization', [x, gain, bias], { axis: -1, epsilon: float(eps) });
}

/**
 * gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), the tanh approximation GPT-2 was trained
 * with. ONNX's Gelu (opset 20) with approximate='tanh' is exactly that, in one kernel instead of eight.
 */
function gelu(g: GraphBuilder, x: string): string {
  return g.op1('Gelu', [x], { approximate: { string: 'tanh' } });
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
function attentionMask(g: GraphBuilder): AttentionMask {
  const S = g.op1('Gather', [g.op1('Shape', ['input_ids']), 'const.i1'], { axis: 0 });
  const pastShape = g.op1('Shape', ['past_key_values.0.key']);
  const P = g.op1('Gather', [pastShape, 'const.i2'], { axis: 0 });
  const T = g.op1('Add', [P, S]);
  const qPos = g.op1('Unsqueeze', [g.op1('Range', [P, T, 'const.i1']), g.i64('axes_1', [1])]); // [S, 1]
  const kPos = g.op1('Unsqueeze', [g.op1('Range', ['const.i0', T, 'const.i1']), g.i64('axes_0', [0])]); // [1, T]
  const causal = g.op1('LessOrEqual', [kPos, qPos]); // [S, T]
  const keep = g.op1('Cast', ['attention_mask'], { to: DT.BOOL }); // [B, T]
  const keep4 = g.op1('Unsqueeze', [keep, g.i64('axes_1_2', [1, 2])]); // [B, 1, 1, T]
  const allowed = g.op1('And', [causal, keep4]); // [B, 1, S, T]
  const bias = g.op1('Where', [allowed, 'const.zero', 'const.neg_big']);
  const pastLength = g.op1('Slice', [pastShape, 'const.i2_1d', 'const.i3_1d']);
  return { bias, pastLength };
}

/**
 * Multi-head causal self-attention with a KV cache. x: [B, S, E] -> [B, S, E].
 * Attends to [past | new] as two blocks instead of one concatenation: present.* still holds the
 * concatenation (the Optimum layout), but nothing else reads it, so an engine that keeps the cache
 * itself and drops present.* (leanGraph) never copies the whole cache in a decode step.
 */
function attention(g: GraphBuilder, x: string, l: number, w: Gpt2Weights<Matrix>, c: Gpt2Config, linear: LinearFn, mask: AttentionMask) {
  const E = c.nEmbd, p = `transformer.h.${l}.attn`;
  const qkv = linear(x, w.h[l].attn.c_attn, E, 3 * E, p + '.c_attn'); // [B, S, 3E]
  const [q, k, v] = g.op('Split', [qkv, 'const.split_qkv'], { axis: 2 }, 3); // 3 x [B, S, E]
  // [B, S, E] -> [B, S, H, D] -> [B, H, S, D]
  const heads = (t: string) => g.op1('Transpose', [g.op1('Reshape', [t, 'const.shape_heads'])], { perm: [0, 2, 1, 3] });
  const kPast = `past_key_values.${l}.key`, vPast = `past_key_values.${l}.value`; // [B, H, P, D]
  const kNew = heads(k), vNew = heads(v); // [B, H, S, D]
  g.rename(g.op1('Concat', [kPast, kNew], { axis: 2 }), `present.${l}.key`); // [B, H, T, D]
  g.rename(g.op1('Concat', [vPast, vNew], { axis: 2 }), `present.${l}.value`);
  const qScaled = g.op1('Mul', [heads(q), 'const.attn_scale']); // scale q (S rows) rather than scores (S x T)
  const scoresOf = (keys: string) => g.op1('MatMul', [qScaled, g.op1('Transpose', [keys], { perm: [0, 1, 3, 2] })]);
  const scores = g.op1('Concat', [scoresOf(kPast), scoresOf(kNew)], { axis: 3 }); // [B, H, S, P] | [B, H, S, S]
  const probs = g.op1('Softmax', [g.op1('Add', [scores, mask.bias])], { axis: -1 }); // [B, H, S, T]
  const probsPast = g.op1('Slice', [probs, 'const.i0_1d', mask.pastLength, 'const.i3_1d']); // [B, H, S, P]
  const probsNew = g.op1('Slice', [probs, mask.pastLength, 'const.big_1d', 'const.i3_1d']); // [B, H, S, S]
  const ctx = g.op1('Add', [g.op1('MatMul', [probsPast, vPast]), g.op1('MatMul', [probsNew, vNew])]); // [B, H, S, D]
  const merged = g.op1('Reshape', [g.op1('Transpose', [ctx], { perm: [0, 2, 1, 3] }), 'const.shape_merge']); // [B, S, E]
  return linear(merged, w.h[l].attn.c_proj, E, E, p + '.c_proj');
}

function mlp(g: GraphBuilder, x: string, l: number, w: Gpt2Weights<Matrix>, c: Gpt2Config, linear: LinearFn): string {
  const E = c.nEmbd, p = `transformer.h.${l}.mlp`;
  const hidden = gelu(g, linear(x, w.h[l].mlp.c_fc, E, 4 * E, p + '.c_fc')); // [B, S, 4E]
  return linear(hidden, w.h[l].mlp.c_proj, 4 * E, E, p + '.c_proj'); // [B, S, E]
}

/** producerName of every graph this project writes: the loader runs those without mapping their weights. */
export const GRAPH_PRODUCER = 'local-gpt2';

/** Serialized ONNX model (ModelProto bytes) of GPT-2 with the given weights, ready for InferenceSession.create. */
export function buildGpt2Onnx(w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Gpt2Dtype): Uint8Array {
  return onnx.ModelProto.encode(gpt2Model(w, c, dtype)).finish();
}

/** GPT-2 with the given weights as a ModelProto (for rewriting before it is encoded once). */
export function gpt2Model(w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Gpt2Dtype): onnx.ModelProto {
  validateConfig(c);
  if (w.h.length !== c.nLayer) throw new Error(`weights have ${w.h.length} blocks, config says nLayer=${c.nLayer}`);
  const E = c.nEmbd, H = c.nHead, D = headDim(c), eps = c.layerNormEpsilon;
  const g = new GraphBuilder();
  const linear = linearFor(g, dtype);

  // Shared constants, referenced by name.
  g.i64('const.i0', [0], []);
  g.i64('const.i1', [1], []);
  g.i64('const.i2', [2], []);
  g.i64('const.i0_1d', [0]);
  g.i64('const.i2_1d', [2]);
  g.i64('const.i3_1d', [3]);
  g.i64('const.big_1d', [2 ** 31 - 1]);
  g.i64('const.split_qkv', [E, E, E]);
  g.i64('const.shape_heads', [0, 0, H, D]);
  g.i64('const.shape_merge', [0, 0, E]);
  g.scalar('const.zero', 0);
  g.scalar('const.neg_big', -1e9);
  g.scalar('const.attn_scale', 1 / Math.sqrt(D));

  const { embed, lmHead } = embeddings(g, w, c, dtype);
  const wpe = g.f32('transformer.wpe.weight', [c.nPositions, E], w.wpe);
  let x = g.op1('Add', [embed, g.op1('Gather', [wpe, 'position_ids'], { axis: 0 })]); // [B, S, E]
  const mask = attentionMask(g);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}`;
    x = g.op1('Add', [x, attention(g, layerNorm(g, x, w.h[l].ln_1, E, p + '.ln_1', eps), l, w, c, linear, mask)]);
    x = g.op1('Add', [x, mlp(g, layerNorm(g, x, w.h[l].ln_2, E, p + '.ln_2', eps), l, w, c, linear)]);
  }
  g.rename(lmHead(layerNorm(g, x, w.ln_f, E, 'transformer.ln_f', eps)), 'logits');

  const inputs = [
    valueInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', DT.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', DT.FLOAT, ['batch_size', 'sequence_length', c.vocabSize])];
  for (let l = 0; l < c.nLayer; l++) {
    for (const kv of ['key', 'value']) {
      // Numeric H and D: transformers.js sizes the empty first-step past from these dims.
      inputs.push(valueInfo(`past_key_values.${l}.${kv}`, DT.FLOAT, ['batch_size', H, 'past_sequence_length', D]));
      outputs.push(valueInfo(`present.${l}.${kv}`, DT.FLOAT, ['batch_size', H, 'total_sequence_length', D]));
    }
  }
  return modelOf(g, `gpt2-${dtype}`, inputs, outputs);
}

/** The collected graph as a ModelProto; imports com.microsoft when a node uses it (MatMulNBits). */
export function modelOf(g: GraphBuilder, name: string, input: onnx.IValueInfoProto[], output: onnx.IValueInfoProto[]): onnx.ModelProto {
  const opsetImport = [{ domain: '', version: 20 }];
  if (g.nodes.some((n) => n.domain === 'com.microsoft')) opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: GRAPH_PRODUCER,
    opsetImport,
    graph: { name, node: g.nodes, initializer: g.initializers, input, output },
  });
}

/** ModelProto bytes of the collected graph. */
export function encodeModel(g: GraphBuilder, name: string, input: onnx.IValueInfoProto[], output: onnx.IValueInfoProto[]): Uint8Array {
  return onnx.ModelProto.encode(modelOf(g, name, input, output)).finish();
}
