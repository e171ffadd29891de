// How many bytes of weights one decode step must read: the numerator of the bandwidth floor.
// Read from the ONNX file itself (its initializers), so it is right for every dtype without a formula.
//   - every linear weight (int8 for q8, 4-bit blocks + scales for q4, fp32 for fp32), bias, LayerNorm and scale
//   - the whole token-embedding table once: the tied lm_head multiplies by all of it (the embedding Gather
//     reads one row of the same table, already inside that count)
//   - of the position-embedding table (wpe) only the row of the current position: the other 1023 rows are
//     never touched by the step, so counting them would inflate the floor by ~3 MB
import * as fs from 'node:fs/promises';
import { onnx } from 'onnx-proto';

export interface WeightBytes {
  file: string;
  /** Bytes a decode step reads from the weights (the definition above). */
  perToken: number;
  /** All initializer bytes in the file, for reference. */
  allInitializers: number;
  /** The biggest contributors, so a reader can check the sum. */
  groups: { name: string; bytes: number }[];
}

const POSITION_TABLE = 'transformer.wpe.weight';

const ELEMENT_BYTES: Partial<Record<onnx.TensorProto.DataType, number>> = {
  [onnx.TensorProto.DataType.FLOAT]: 4,
  [onnx.TensorProto.DataType.INT64]: 8,
  [onnx.TensorProto.DataType.INT32]: 4,
  [onnx.TensorProto.DataType.INT8]: 1,
  [onnx.TensorProto.DataType.UINT8]: 1,
};

function tensorBytes(t: onnx.ITensorProto): number {
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  const elements = (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1);
  const size = ELEMENT_BYTES[t.dataType as onnx.TensorProto.DataType];
  if (size === undefined) throw new Error(`initializer ${t.name}: unhandled data type ${t.dataType}`);
  return elements * size;
}

/** "transformer.h.3.mlp.c_fc.weight_quantized" -> "mlp.c_fc.weight_quantized", so the 12 blocks add up in one line. */
function groupName(name: string): string {
  return name.replace(/^transformer\.h\.\d+\./, 'h.*.');
}

export async function weightBytesPerToken(file: string): Promise<WeightBytes> {
  const model = onnx.ModelProto.decode(await fs.readFile(file));
  let perToken = 0;
  let allInitializers = 0;
  const groups = new Map<string, number>();
  for (const t of model.graph?.initializer ?? []) {
    const bytes = tensorBytes(t);
    allInitializers += bytes;
    const read = t.name === POSITION_TABLE ? bytes / Number(t.dims![0]) : bytes; // one row of wpe
    perToken += read;
    const group = t.name === POSITION_TABLE ? `${t.name} (1 row of ${t.dims![0]})` : groupName(t.name!);
    groups.set(group, (groups.get(group) ?? 0) + read);
  }
  const sorted = [...groups].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
  const top = sorted.slice(0, 8);
  const rest = sorted.slice(8).reduce((n, g) => n + g.bytes, 0);
  if (rest > 0) top.push({ name: `${sorted.length - 8} smaller groups (biases, LayerNorms, scales, constants)`, bytes: rest });
  return { file, perToken, allInitializers, groups: top };
}
