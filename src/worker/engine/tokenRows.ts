// The token table, once. GPT-2's lm_head reads the embedding's table (tied weights), and onnxruntime packs its own
// copy of that matrix for the lm_head's matmul; with the embedding's Gather in the graph as well, the unpacked table
// stayed too: 0.3x the weights of a 124M model held a second time. So the engine's graph takes the embedding's rows
// as an input, `token_rows` [B, S, E], which the decoder reads from the model file for the tokens it feeds (a few KB
// per token, from the page cache), and the table is, for onnxruntime, only the lm_head's weight: packed once, its
// unpacked bytes never held (externalWeights.ts). An export whose lm_head has its own matrix no longer loads the
// embedding's table at all.
//
// The file is opened for each read (~25 us a decode step, 0.5% of one) rather than held open, which on Windows would
// keep the store and the user from replacing or deleting it, and checked against what was loaded: a model file
// replaced or rewritten since fails the request with a message that says so, rather than feeding another model's rows.
import * as fs from 'node:fs';
import { onnx } from 'onnx-proto';
import { Tensor } from 'onnxruntime-node';
import { EngineError } from '../errors';
import { isViewOf, type ModelFile } from './externalWeights';
import { fingerprintOf } from './shippedGraph';

/** The graph input that replaces the embedding's Gather: the table's rows for input_ids, in the table's type. */
export const TOKEN_ROWS = 'token_rows';

const DT = onnx.TensorProto.DataType;
const ELEMENT: Partial<Record<number, { type: 'float32' | 'int8' | 'uint8'; bytes: number }>> = {
  [DT.FLOAT]: { type: 'float32', bytes: 4 },
  [DT.INT8]: { type: 'int8', bytes: 1 },
  [DT.UINT8]: { type: 'uint8', bytes: 1 },
};

/** Where the table lies in the model file, and the file as it was when the graph was built from it. */
export interface TokenTableInFile {
  file: string;
  offset: number; // of row 0
  rows: number;
  width: number; // values per row (n_embd)
  type: 'float32' | 'int8' | 'uint8';
  bytesPerValue: number;
  fingerprint: string;
}

/**
 * Rewrites, in place, the main graph's embedding lookup `Gather(table, input_ids)` into the input `token_rows`, when
 * the table's bytes are a view of `file.bytes` (so the decoder can read its rows from the file). Returns where the
 * table lies, or undefined when the graph has no such lookup (it then stays as it is).
 */
export function takeTokenRowsFromFile(model: onnx.IModelProto, file: ModelFile): TokenTableInFile | undefined {
  const graph = model.graph!;
  const tables = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  // Rows of a matrix; a per-token scale vector (the engine's q8 table) is gathered too, and stays in the graph.
  const lookups = graph.node!.filter((n) => n.opType === 'Gather' && n.input![1] === 'input_ids' && Number(n.attribute?.find((a) => a.name === 'axis')?.i ?? 0) === 0 && tables.get(n.input![0])?.dims?.length === 2);
  if (lookups.length !== 1) return undefined;
  const [lookup] = lookups;
  const table = tables.get(lookup.input![0])!;
  const element = ELEMENT[table.dataType!];
  const raw = table.rawData;
  if (!element || !raw || !isViewOf(raw, file.bytes)) return undefined;
  const [rows, width] = table.dims!.map(Number);
  if (raw.byteLength !== rows * width * element.bytes) return undefined;
  const rowsName = lookup.output![0];
  if ((graph.output ?? []).some((o) => o.name === rowsName)) return undefined;
  graph.node = graph.node!.filter((n) => n !== lookup);
  for (const n of graph.node) n.input = n.input!.map((input) => (input === rowsName ? TOKEN_ROWS : input));
  const ids = graph.input!.find((i) => i.name === 'input_ids')!;
  const idDims = ids.type?.tensorType?.shape?.dim ?? [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }];
  graph.input!.push(onnx.ValueInfoProto.create({ name: TOKEN_ROWS, type: { tensorType: { elemType: table.dataType, shape: { dim: [...idDims, { dimValue: width }] } } } }));
  return { file: file.path, offset: raw.byteOffset - file.bytes.byteOffset, rows, width, type: element.type, bytesPerValue: element.bytes, fingerprint: fingerprintOf(fs.statSync(file.path)) };
}

/** `token_rows` for ids laid out as `dims` ([B, S]): each id's row of the table, read from the model file. */
export function readTokenRows(table: TokenTableInFile, ids: readonly number[], dims: readonly number[]): Tensor {
  const rowBytes = table.width * table.bytesPerValue;
  const bytes = new Uint8Array(ids.length * rowBytes);
  const changed = (why: string) => new EngineError('model-files', `${table.file}: the model file changed on disk after it was loaded (${why})`);
  let fd: number;
  try {
    fd = fs.openSync(table.file, 'r');
  } catch (error) {
    throw changed((error as NodeJS.ErrnoException).code ?? String(error));
  }
  try {
    if (fingerprintOf(fs.fstatSync(fd)) !== table.fingerprint) throw changed('not the file that was loaded');
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= table.rows) throw new Error(`token id ${id} is outside the table (${table.rows} rows)`);
      const read = fs.readSync(fd, bytes, i * rowBytes, rowBytes, table.offset + id * rowBytes);
      if (read !== rowBytes) throw changed(`row ${id} ends early`);
    });
  } finally {
    fs.closeSync(fd);
  }
  const values = table.type === 'float32' ? new Float32Array(bytes.buffer) : table.type === 'int8' ? new Int8Array(bytes.buffer) : bytes;
  return new Tensor(table.type, values, [...dims, table.width]);
}
