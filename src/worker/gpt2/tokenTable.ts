// GPT-2's token table, read twice: by the embedding (a Gather of rows) and by the lm_head (x @ wte^T), in the
// precision of the graph, or as a downloaded export stores them (its own int8 table and lm_head matrix).
import { onnx } from 'onnx-proto';
import type { Dtype } from '../../protocol';
import type { Gpt2Config } from './config';
import { int8Initializers, q8MatMul } from './linears';
import { GraphBuilder } from './onnxBuilder';
import { quantizeInt8PerRow } from './quantize';
import { isInt8, type Gpt2Weights, type Matrix } from './weights';

const DT = onnx.TensorProto.DataType;

/** Token embedding (Gather) and the lm_head (x @ wte^T, or the export's own [E, V] copy). */
export function tokenTable(g: GraphBuilder, w: Gpt2Weights<Matrix>, c: Gpt2Config, dtype: Dtype) {
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

