// The weights once: a graph handed to onnxruntime as bytes is parsed into a second copy of every initializer, and
// onnxruntime prepacks each matmul weight into a third (its own layout), so a q8 model held ~1.75x its weights and
// peaked at ~3.5x while loading. A matmul weight whose bytes are a view of the model file as read can instead be an
// external-data reference to that file: onnxruntime maps the file, prepacks from the mapping and drops the mapping
// of every weight it prepacked, so the packed copy is the only one left. Only weights that nothing but matmuls read
// are referenced this way: once loaded, the process maps no part of the file, so a model file truncated in place
// later (an export re-saved over itself) cannot take the extension host down with SIGBUS; the token table, which
// the embedding also reads, stays in the graph.
import * as path from 'node:path';
import { onnx } from 'onnx-proto';

/** Ops whose input 1 onnxruntime's CPU kernels prepack when it is a constant (the weight, B). */
const PREPACKED_WEIGHT_OPS = new Set(['MatMul', 'MatMulInteger', 'Gemm', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat']);

/** Below this, a reference costs more than it saves (biases, scales). */
export const MIN_EXTERNAL_BYTES = 64 * 1024;

export interface ModelFile {
  /** The model file's path: referenced by name, from the folder given to onnxruntime (session.ts). */
  path: string;
  /** Its bytes as read; an initializer is referenced only when its rawData is a view of these. */
  bytes: Uint8Array;
}

/**
 * Turns, in place, each initializer of the main graph that only matmuls read as their weight and whose bytes lie
 * in `file.bytes` into a reference to the same bytes in the file. Returns how many bytes now live in the file.
 * `inSubgraphs`: also weights that matmuls inside If branches read (Optimum's merged exports). onnxruntime may not
 * prepack those (outer-scope initializers), so their mapping may stay: only for a session that is soon released
 * (the load probe of the file as shipped).
 */
export function referenceWeightsInFile(model: onnx.IModelProto, file: ModelFile, minBytes = MIN_EXTERNAL_BYTES, inSubgraphs = false): number {
  const graph = model.graph!;
  const onlyAsWeight = matmulWeights(graph, inSubgraphs);
  let moved = 0;
  for (const t of graph.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.byteLength < minBytes || !onlyAsWeight.has(t.name!) || !isViewOf(raw, file.bytes)) continue;
    const offset = raw.byteOffset - file.bytes.byteOffset;
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: path.basename(file.path) },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.byteLength) },
    ];
    t.rawData = new Uint8Array(0);
    moved += raw.byteLength;
  }
  return moved;
}

/** Whether `raw` lies inside `bytes` (the same buffer): its place in the file is then known. */
export function isViewOf(raw: Uint8Array, bytes: Uint8Array): boolean {
  return raw.buffer === bytes.buffer && raw.byteOffset >= bytes.byteOffset && raw.byteOffset + raw.byteLength <= bytes.byteOffset + bytes.byteLength;
}

/**
 * Names read only as input 1 of a prepacking matmul; a name a subgraph reads is left alone, unless `inSubgraphs`,
 * where subgraphs' nodes count as the main graph's do.
 */
function matmulWeights(graph: onnx.IGraphProto, inSubgraphs: boolean): Set<string> {
  const weights = new Set<string>();
  const other = new Set<string>();
  const visit = (g: onnx.IGraphProto, isMain: boolean) => {
    for (const n of g.node ?? []) {
      (n.input ?? []).forEach((input, i) => (i === 1 && PREPACKED_WEIGHT_OPS.has(n.opType!) && (isMain || inSubgraphs) ? weights : other).add(input));
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub, false);
    }
    for (const o of g.output ?? []) other.add(o.name!);
  };
  visit(graph, true);
  for (const name of other) weights.delete(name);
  return weights;
}
