// The weights of a GPT-2 ONNX export as Hugging Face's exporter writes it (Optimum's merged decoder, or the
// current exporter's single model.onnx; fp32, or q8 from onnxruntime's quantize_dynamic), so the engine can
// run its own graph on them. Weights are found by where the network uses them, not by name: the exporter
// deduplicates equal tensors (every LayerNorm gain may be one initializer), aliases them through Identity
// nodes, turns some into Constant nodes, and renames them (`_merged_0`); only the order of the computation
// is fixed. Per block, in order: ln_1, c_attn, c_proj, ln_2, c_fc, mlp.c_proj; then ln_f and the lm_head.
import { onnx } from 'onnx-proto';
import type { Gpt2Config } from './config';
import { storedBytes } from './onnxBuilder';
import { isInt8, type Gpt2Block, type Gpt2Weights, type Int8Matrix, type LayerNorm, type Linear, type Matrix } from './weights';

const DT = onnx.TensorProto.DataType;

export interface ExportWeights {
  weights: Gpt2Weights<Matrix>;
  /** fp32 when every matrix is fp32, q8 when every block matrix is int8. */
  dtype: 'fp32' | 'q8';
  /** Rows of the export's position table (wpe): the most positions it can see. */
  positionRows: number;
}

interface FoundLinear {
  weight: Matrix; // [K, N]
  bias?: Float32Array; // [N]
  K: number;
  N: number;
  source: onnx.ITensorProto; // the stored weight, to tell a tied lm_head from wte
}

interface FoundLayerNorm extends LayerNorm {
  epsilon: number;
}

/** Throws an Error saying what could not be found; the caller then runs the export itself. */
export function weightsFromExport(model: onnx.IModelProto, c: Gpt2Config): ExportWeights {
  const scope = new Scope(model.graph!);
  const lns: FoundLayerNorm[] = [];
  const linears: FoundLinear[] = [];
  let wte: { table: onnx.ITensorProto; matrix: Matrix } | undefined;
  let wpe: Float32Array | undefined;
  for (const node of scope.nodes) {
    const ln = scope.layerNorm(node);
    if (ln) lns.push(ln);
    const linear = scope.linear(node);
    if (linear) linears.push(linear);
    const table = scope.embedding(node, c.nEmbd);
    if (table && Number(table.table.dims![0]) === c.vocabSize) wte ??= table;
    else if (table) wpe ??= isInt8(table.matrix) ? dequantize(table.matrix) : table.matrix;
  }
  const L = c.nLayer, E = c.nEmbd, V = c.vocabSize;
  if (!wte) throw new Error(`no token embedding table [${V}, ${E}] read by a Gather`);
  if (!wpe) throw new Error(`no position embedding table [n_positions, ${E}] read by a Gather`);
  if (lns.length !== 2 * L + 1) throw new Error(`found ${lns.length} LayerNorms, a ${L}-layer GPT-2 has ${2 * L + 1}`);
  const head = linears.length === 4 * L + 1 ? linears.pop()! : undefined;
  if (linears.length !== 4 * L) throw new Error(`found ${linears.length} weight matmuls, a ${L}-layer GPT-2 has ${4 * L} (+ lm_head)`);
  for (const ln of lns) {
    if (Math.abs(ln.epsilon - c.layerNormEpsilon) > 1e-3 * c.layerNormEpsilon) throw new Error(`a LayerNorm has epsilon ${ln.epsilon}, config.json says ${c.layerNormEpsilon}`);
  }
  const positionRows = wpe.length / E;
  if (c.nPositions > positionRows) throw new Error(`config.json: n_positions ${c.nPositions} is more than the ${positionRows} rows of the export's position table`);
  const h: Gpt2Block<Matrix>[] = [];
  for (let l = 0; l < L; l++) {
    const [cAttn, cProj, cFc, mProj] = linears.slice(4 * l, 4 * l + 4);
    h.push({
      ln_1: lns[2 * l],
      attn: { c_attn: expectLinear(cAttn, E, 3 * E, `h.${l}.attn.c_attn`), c_proj: expectLinear(cProj, E, E, `h.${l}.attn.c_proj`) },
      ln_2: lns[2 * l + 1],
      mlp: { c_fc: expectLinear(cFc, E, 4 * E, `h.${l}.mlp.c_fc`), c_proj: expectLinear(mProj, 4 * E, E, `h.${l}.mlp.c_proj`) },
    });
  }
  if (head && (head.K !== E || head.N !== V || head.bias)) throw new Error(`the last matmul is not an lm_head [${E}, ${V}] without bias`);
  const lmHead = head && head.source !== wte.table ? head.weight : undefined; // a Gemm(transB) on wte itself is the tied head
  const matrices = [...linears.map((x) => x.weight), ...(lmHead ? [lmHead] : [])];
  const dtype = matrices.every(isInt8) ? 'q8' : matrices.some(isInt8) ? undefined : 'fp32';
  if (!dtype) throw new Error('some weight matmuls are int8 and some fp32');
  if (dtype === 'fp32' && isInt8(wte.matrix)) throw new Error('an int8 token table with fp32 matmuls');
  return { weights: { wte: wte.matrix, wpe: wpe.subarray(0, c.nPositions * E), h, ln_f: lns[2 * L], lmHead }, dtype, positionRows };
}

function expectLinear(found: FoundLinear, K: number, N: number, name: string): Linear<Matrix> {
  if (found.K !== K || found.N !== N) throw new Error(`${name}: expected a [${K}, ${N}] matmul, found [${found.K}, ${found.N}] in its place`);
  return { weight: found.weight, bias: found.bias ?? new Float32Array(N) };
}

/** The nodes of the network (inside the with-past branch of a merged decoder) and the constants they read. */
class Scope {
  readonly nodes: onnx.INodeProto[];
  private readonly initializers = new Map<string, onnx.ITensorProto>();
  private readonly producers = new Map<string, onnx.INodeProto>();
  private readonly consumers = new Map<string, onnx.INodeProto[]>();

  constructor(graph: onnx.IGraphProto) {
    const branching = graph.node!.find((n) => n.opType === 'If' && n.output!.includes('logits'));
    const branches = branching ? branching.attribute!.flatMap((a) => (a.g ? [a.g] : [])) : [];
    const body = branches.find((b) => readsPast(b)) ?? graph;
    for (const g of body === graph ? [graph] : [graph, body]) {
      for (const t of g.initializer ?? []) this.initializers.set(t.name!, t);
      for (const n of g.node ?? []) {
        for (const o of n.output ?? []) this.producers.set(o, n);
        for (const i of n.input ?? []) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
      }
    }
    this.nodes = body.node!;
  }

  /** The constant tensor behind a name: an initializer or a Constant node, through Identity aliases. */
  constant(name: string): onnx.ITensorProto | undefined {
    for (let depth = 0; depth < 16; depth++) {
      const t = this.initializers.get(name);
      if (t) return t;
      const node = this.producers.get(name);
      if (node?.opType === 'Constant') return node.attribute!.find((a) => a.name === 'value')?.t ?? undefined;
      if (node?.opType !== 'Identity') return undefined;
      name = node.input![0];
    }
    return undefined;
  }

  private only(name: string, opType: string): onnx.INodeProto | undefined {
    const next = this.consumers.get(name) ?? [];
    return next.length === 1 && next[0].opType === opType ? next[0] : undefined;
  }

  /** A constant operand of `node` other than `input`, as fp32 values. */
  private otherConstant(node: onnx.INodeProto | undefined, input: string): Float32Array | undefined {
    const other = node?.input!.find((i) => i !== input);
    const t = other === undefined ? undefined : this.constant(other);
    return t && t.dataType === DT.FLOAT ? floatsOf(t) : undefined;
  }

  layerNorm(node: onnx.INodeProto): FoundLayerNorm | undefined {
    if (node.opType === 'LayerNormalization') {
      const [, scale, bias] = node.input!.map((i) => this.constant(i));
      if (!scale) return undefined;
      const epsilon = node.attribute!.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
      return { weight: floatsOf(scale), bias: bias ? floatsOf(bias) : new Float32Array(floatsOf(scale).length), epsilon };
    }
    return this.decomposedLayerNorm(node);
  }

  /**
   * Exports below opset 17 spell LayerNorm out: (x - mean) / Sqrt(var + eps) * gain + bias.
   * Found from its Sqrt(Add(ReduceMean(...), eps)), then Div -> Mul(gain) -> Add(bias).
   */
  private decomposedLayerNorm(node: onnx.INodeProto): FoundLayerNorm | undefined {
    if (node.opType !== 'Sqrt') return undefined;
    const add = this.producers.get(node.input![0]);
    const variance = add?.opType === 'Add' ? add.input!.find((i) => this.producers.get(i)?.opType === 'ReduceMean') : undefined;
    const eps = variance === undefined ? undefined : this.otherConstant(add, variance);
    const div = this.only(node.output![0], 'Div');
    const mul = div && this.only(div.output![0], 'Mul');
    const gain = mul && this.otherConstant(mul, div!.output![0]);
    const addBias = mul && this.only(mul.output![0], 'Add');
    const bias = addBias && this.otherConstant(addBias, mul!.output![0]);
    if (!eps || eps.length !== 1 || !gain || !bias) return undefined;
    return { weight: gain, bias, epsilon: eps[0] };
  }

  /** A matmul by a constant weight (MatMul, Gemm or onnxruntime's MatMulInteger pattern) and its bias. */
  linear(node: onnx.INodeProto): FoundLinear | undefined {
    if (node.opType === 'MatMul' || node.opType === 'Gemm') return this.floatLinear(node);
    if (node.opType === 'MatMulInteger') return this.int8Linear(node);
    if (node.opType === 'DynamicQuantizeMatMul') return this.fusedInt8Linear(node);
    return undefined;
  }

  /**
   * onnxruntime's optimizer fuses the quantizer's pattern into com.microsoft DynamicQuantizeMatMul(x, W_q, W_scale,
   * W_zero_point?, bias?): the same weights, stored the same way.
   */
  private fusedInt8Linear(node: onnx.INodeProto): FoundLinear | undefined {
    const [, weight, scale, zero, bias] = node.input!.map((i) => (i ? this.constant(i) : undefined));
    if (!weight || weight.dims!.length !== 2 || !scale) return undefined;
    const [K, N] = weight.dims!.map(Number);
    const scales = floatsOf(scale);
    const matrix: Int8Matrix = { q: intsOf(weight), scale: scales, zeroPoint: zero ? intsOf(zero) : new Int8Array(scales.length) };
    const after = bias ? floatsOf(bias) : this.otherConstant(this.only(node.output![0], 'Add'), node.output![0]);
    return { weight: matrix, bias: after?.length === N ? after : undefined, K, N, source: weight };
  }

  private floatLinear(node: onnx.INodeProto): FoundLinear | undefined {
    const source = this.constant(node.input![1]);
    if (!source || source.dims!.length !== 2 || source.dataType !== DT.FLOAT) return undefined;
    const attr = (name: string, fallback: number) => {
      const a = node.attribute!.find((x) => x.name === name);
      return a ? Number(a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f : a.i) : fallback;
    };
    if (attr('transA', 0) !== 0 || attr('alpha', 1) !== 1 || attr('beta', 1) !== 1) throw new Error(`${node.name}: a Gemm with transA/alpha/beta is not a GPT-2 linear`);
    let [K, N] = source.dims!.map(Number);
    let weight = floatsOf(source);
    if (attr('transB', 0) === 1) [weight, K, N] = [transpose(weight, K, N), N, K];
    const c = node.opType === 'Gemm' && node.input![2] ? this.constant(node.input![2]) : undefined;
    const bias = c ? floatsOf(c) : this.otherConstant(this.only(node.output![0], 'Add'), node.output![0]);
    return { weight, bias: bias?.length === N ? bias : undefined, K, N, source };
  }

  /** DynamicQuantizeLinear -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast -> Mul(x_scale * W_scale) -> Add(bias). */
  private int8Linear(node: onnx.INodeProto): FoundLinear | undefined {
    const source = this.constant(node.input![1]);
    if (!source || source.dims!.length !== 2) return undefined;
    const [K, N] = source.dims!.map(Number);
    const cast = this.only(node.output![0], 'Cast');
    const rescale = cast && this.only(cast.output![0], 'Mul');
    const scales = rescale && this.producers.get(rescale.input!.find((i) => i !== cast!.output![0])!);
    const wScale = scales?.opType === 'Mul' ? scales.input!.map((i) => this.constant(i)).find((t) => t) : undefined;
    if (!wScale) throw new Error(`${node.name}: MatMulInteger without the quantizer's weight scale`);
    const zero = node.input![3] ? this.constant(node.input![3]) : undefined;
    const weight: Int8Matrix = { q: intsOf(source), scale: floatsOf(wScale), zeroPoint: zero ? intsOf(zero) : new Int8Array(floatsOf(wScale).length) };
    const bias = this.otherConstant(this.only(rescale!.output![0], 'Add'), rescale!.output![0]);
    return { weight, bias: bias?.length === N ? bias : undefined, K, N, source };
  }

  /** A Gather of a constant [rows, nEmbd] table: int8 tables come with the DequantizeLinear that follows. */
  embedding(node: onnx.INodeProto, nEmbd: number): { table: onnx.ITensorProto; matrix: Matrix } | undefined {
    if (node.opType !== 'Gather') return undefined;
    const table = this.constant(node.input![0]) ?? this.dequantizedTable(node.input![0]);
    if (!table || table.dims!.length !== 2 || Number(table.dims![1]) !== nEmbd) return undefined;
    if (table.dataType === DT.FLOAT) return { table, matrix: floatsOf(table) };
    const dq = this.only(node.output![0], 'DequantizeLinear');
    const [scale, zero] = (dq?.input ?? []).slice(1).map((i) => this.constant(i));
    if (!scale) throw new Error(`${node.name}: an int8 table without DequantizeLinear`);
    return { table, matrix: { q: intsOf(table), scale: floatsOf(scale), zeroPoint: zero ? intsOf(zero) : new Int8Array(1) } };
  }

  /** DequantizeLinear(constant int8 table) before the Gather: dequantized here, once. */
  private dequantizedTable(name: string): onnx.ITensorProto | undefined {
    const dq = this.producers.get(name);
    if (dq?.opType !== 'DequantizeLinear') return undefined;
    const [q, scale, zero] = dq.input!.map((i) => this.constant(i));
    if (!q || !scale || floatsOf(scale).length !== 1) return undefined;
    const values = dequantize({ q: intsOf(q), scale: floatsOf(scale), zeroPoint: zero ? intsOf(zero) : new Int8Array(1) });
    return { name, dims: q.dims, dataType: DT.FLOAT, rawData: new Uint8Array(values.buffer) };
  }
}

function readsPast(g: onnx.IGraphProto): boolean {
  return (g.node ?? []).some((n) => n.input!.some((i) => i.startsWith('past_key_values.')));
}

function rawOf(t: onnx.ITensorProto): Uint8Array | undefined {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new Error(`${t.name}: weights in external data are not mapped`);
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

function floatsOf(t: onnx.ITensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`${t.name}: expected float32 values, found data type ${t.dataType}`);
  const raw = rawOf(t);
  if (!raw) return Float32Array.from(t.floatData ?? []);
  const values = new Float32Array(copyOf(raw).buffer);
  storedBytes.set(values, raw); // a graph built from the copy refers to the file's own bytes (onnxBuilder.ts)
  return values;
}

function intsOf(t: onnx.ITensorProto): Int8Array | Uint8Array {
  const raw = rawOf(t);
  // Bytes need no alignment: a view of the file's own memory, so mapping a q8 export copies none of its weights.
  if (t.dataType === DT.INT8) return raw ? new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength) : Int8Array.from(t.int32Data ?? []);
  if (t.dataType === DT.UINT8) return raw ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) : Uint8Array.from(t.int32Data ?? []);
  throw new Error(`${t.name}: expected int8 or uint8 values, found data type ${t.dataType}`);
}

/** An aligned copy of its own (Float32Array views need 4-byte alignment, which a protobuf field does not have). */
function copyOf(raw: Uint8Array): Uint8Array {
  return new Uint8Array(raw);
}

function dequantize(m: Int8Matrix): Float32Array {
  const perColumn = m.scale.length;
  return Float32Array.from(m.q, (q, i) => (q - m.zeroPoint[i % perColumn]) * m.scale[i % perColumn]);
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}
