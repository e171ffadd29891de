// Rewrites an Optimum-layout GPT-2 decoder so that a decode step moves only what it must across the
// JS <-> ONNX Runtime boundary. onnxruntime-node copies every output into fresh JS memory (preallocated
// outputs are copied too): fetching `present.*` costs ~50 ms/step at 512 tokens of context on a
// 124M model, against ~6 ms for the step itself. The rewritten graph adds
//   present_new.{i}.key/value = present.{i}.key/value[:, :, past_len:, :]   (only the new positions)
//   logits_last                = logits of the last position                  (when ln_f can be found)
// drops the full present.* outputs, and the engine keeps the whole cache in its own buffers, passed back in as zero-copy inputs.
import { onnx } from 'onnx-proto';
import { decodeOnnx } from './decodeOnnx';

export interface LeanOptions {
  /** n_positions: finds the position table (wpe) so that exports without position_ids can be given one. */
  positionTableRows?: number;
}

export interface LeanGraph {
  bytes: Uint8Array;
  /** False when the graph has no LayerNormalization before the lm_head (old opsets): logits stay per position. */
  lastLogitsOnly: boolean;
  nLayer: number;
}

const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * The input of a lean graph that slices before its lm_head: the first position whose logits it returns, int64 [1],
 * counted from the end when negative: -1 returns the last position's only, 0 every position's.
 */
export const LOGITS_FROM = 'logits_from';

/** `original`: the graph's bytes, or a decoded ModelProto, which is then rewritten in place (no second decode). */
export function makeLeanGraph(original: Uint8Array | onnx.ModelProto, options: LeanOptions = {}): LeanGraph {
  const model = original instanceof Uint8Array ? decodeOnnx(original) : original;
  const graph = model.graph!;
  const outputs = graph.output!.map((o) => o.name!);
  const presentNames = outputs.filter((n) => /^present\.\d+\.(key|value)$/.test(n));
  if (!outputs.includes('logits') || presentNames.length === 0 || !graph.input!.some((i) => i.name === 'past_key_values.0.key')) {
    throw new Error('not a GPT-2 decoder with past key/values (expected inputs past_key_values.* and outputs logits, present.*)');
  }
  const nodes = graph.node!;
  const add = (op: string, inputs: string[], output: string, attrs: onnx.IAttributeProto[] = []) =>
    nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [output], name: `lean_${output}`, attribute: attrs }));
  const constant = (name: string, values: number[]) =>
    graph.initializer!.push(onnx.TensorProto.create({ name, dataType: INT64, dims: [values.length], int64Data: values }));

  // past_len = shape(past_key_values.0.key)[2]
  constant('lean_axis2', [2]);
  constant('lean_big', [2 ** 31 - 1]);
  add('Shape', ['past_key_values.0.key'], 'lean_past_shape');
  add('Slice', ['lean_past_shape', 'lean_axis2', 'lean_axis2_end'], 'lean_past_len');
  constant('lean_axis2_end', [3]);
  const producers = new Map(nodes.flatMap((n) => n.output!.map((o) => [o, n] as const)));
  for (const name of presentNames) {
    const out = name.replace('present.', 'present_new.');
    const past = name.replace('present.', 'past_key_values.');
    const fresh = newPartOfConcat(producers, name, past);
    if (fresh) add('Identity', [fresh], out);
    else add('Slice', [name, 'lean_past_len', 'lean_big', 'lean_axis2'], out);
    graph.output!.push(valueInfo(out, graph.output!.find((o) => o.name === name)!));
  }
  // Without the full present.* as graph outputs, ORT no longer copies the whole cache into them every step
  // (~20% of a decode step at 512 tokens); in graphs whose attention does not read the concatenation (ours),
  // the Concat itself goes too.
  graph.output = graph.output!.filter((o) => !presentNames.includes(o.name!));
  if (options.positionTableRows) givePositionIdsInput(graph, options.positionTableRows);
  const lastLogitsOnly = sliceBeforeLmHead(graph);
  removeDeadNodes(graph);
  return { bytes: onnx.ModelProto.encode(model).finish(), lastLogitsOnly, nLayer: presentNames.length / 2 };
}

/**
 * When `present` is Concat([past, fresh], axis 2) (possibly behind Identity nodes), the new positions are
 * `fresh` itself: no need to slice them back out of the concatenation.
 */
function newPartOfConcat(producers: Map<string, onnx.INodeProto>, present: string, past: string): string | undefined {
  let node = producers.get(present);
  while (node?.opType === 'Identity') node = producers.get(node.input![0]);
  if (node?.opType !== 'Concat' || node.input!.length !== 2 || node.input![0] !== past) return undefined;
  const axis = Number(node.attribute!.find((a) => a.name === 'axis')?.i ?? NaN);
  return axis === 2 || axis === -2 ? node.input![1] : undefined;
}

/**
 * Exports without a position_ids input derive positions from the length of the past they are given, which
 * forces the engine to hand over an exact-length past: a copy of the whole cache every step. GPT-2 reads
 * positions in one place, the Gather of the position table (wpe, [n_positions, n_embd]); feeding it from a new
 * position_ids input lets the engine keep stale, masked slots in its buffers as it does for other exports.
 * Leaves the graph alone when the table is not a plain initializer (the engine then copies).
 */
function givePositionIdsInput(graph: onnx.IGraphProto, rows: number): void {
  if (graph.input!.some((i) => i.name === 'position_ids')) return;
  const tables = new Set<string>();
  const gathers: onnx.INodeProto[] = [];
  const visit = (g: onnx.IGraphProto) => {
    for (const t of g.initializer ?? []) if (t.dims?.length === 2 && Number(t.dims[0]) === rows) tables.add(t.name!);
    for (const n of g.node ?? []) {
      if (n.opType === 'Gather' && Number(n.attribute?.find((a) => a.name === 'axis')?.i ?? 0) === 0) gathers.push(n);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
    }
  };
  visit(graph);
  const positional = gathers.filter((n) => tables.has(n.input![0]));
  if (positional.length === 0) return;
  for (const n of positional) n.input![1] = 'position_ids';
  const ids = graph.input!.find((i) => i.name === 'input_ids')!;
  graph.input!.push(onnx.ValueInfoProto.create({ name: 'position_ids', type: ids.type }));
}

/**
 * Drops nodes whose outputs nothing reads, so that ORT does not run them, then the initializers nothing reads
 * (ORT warns about those). Subgraphs (If branches) may read outer names.
 */
function removeDeadNodes(graph: onnx.IGraphProto): void {
  const nodes = graph.node!;
  for (let changed = true; changed; ) {
    const read = new Set<string>(graph.output!.map((o) => o.name!));
    for (const n of nodes) {
      for (const i of n.input!) read.add(i);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) namesReadIn(sub, read);
    }
    const alive = nodes.filter((n) => n.output!.some((o) => read.has(o)));
    changed = alive.length < nodes.length;
    nodes.splice(0, nodes.length, ...alive);
    if (!changed) graph.initializer = graph.initializer!.filter((t) => read.has(t.name!)); // ORT warns about unused ones
  }
}

function namesReadIn(graph: onnx.IGraphProto, read: Set<string>): void {
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) read.add(i);
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) namesReadIn(sub, read);
  }
}

function valueInfo(name: string, like: onnx.IValueInfoProto): onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({ name, type: like.type });
}

/**
 * Inserts h[:, -1:, :] after the final LayerNormalization (ln_f), so the lm_head runs on one position:
 * a 512-token prefill otherwise spends ~20 GFLOP and a 100 MB output copy on logits nobody reads.
 * Optimum merged exports keep the network inside an If on use_cache_branch; then each branch gets the slice,
 * or neither does (both must give logits of the same shape).
 */
function sliceBeforeLmHead(graph: onnx.IGraphProto): boolean {
  const branching = graph.node!.find((n) => n.opType === 'If' && n.output!.includes('logits'));
  const bodies = branching ? branching.attribute!.flatMap((a) => (a.g ? [a.g] : [])) : [graph];
  const lnFs = bodies.map((body) => [...body.node!].reverse().find((n) => n.opType === 'LayerNormalization'));
  if (lnFs.length === 0 || lnFs.some((n) => !n)) return false;
  // Constants live in the main graph; If branches read them from the outer scope. The slice's start is a graph
  // input (onnxruntime-node feeds only declared inputs, not overridable initializers): steps feed -1, a step that
  // verifies drafted tokens feeds 0 and gets every position's logits from the same session (speculation in
  // generate.ts), so speculation needs neither a second session nor a second copy of the weights.
  graph.initializer!.push(onnx.TensorProto.create({ name: 'lean_axis1', dataType: INT64, dims: [1], int64Data: [1] }));
  graph.input!.push(onnx.ValueInfoProto.create({ name: LOGITS_FROM, type: { tensorType: { elemType: INT64, shape: { dim: [{ dimValue: 1 }] } } } }));
  bodies.forEach((body, i) => {
    const nodes = body.node!;
    const hidden = pastHiddenStateView(body, lnFs[i]!.output![0]);
    const sliced = `${hidden}_last`;
    for (const n of nodes) n.input = n.input!.map((input) => (input === hidden ? sliced : input));
    const slice = onnx.NodeProto.create({ opType: 'Slice', input: [hidden, LOGITS_FROM, 'lean_big', 'lean_axis1'], output: [sliced], name: `lean_slice_last_${i}` });
    nodes.splice(nodes.indexOf(nodes.find((n) => n.output!.includes(hidden))!) + 1, 0, slice);
  });
  return true;
}

/**
 * Hugging Face exports view ln_f's output as [-1, seq_len, n_embd] with seq_len read from Shape(input_ids)
 * (`hidden_states.view(output_shape)` in transformers' GPT-2): slicing before that Reshape makes it fail for
 * every prompt of more than one token. The slice goes after such 3-D views; our own graph flattens to 2-D for
 * its Gemm, which the slice must stay in front of.
 */
function pastHiddenStateView(body: onnx.IGraphProto, hidden: string): string {
  const nodes = body.node!;
  const producer = (name: string) => nodes.find((n) => n.output!.includes(name));
  for (;;) {
    const readers = nodes.filter((n) => n.input!.includes(hidden));
    const view = readers.length === 1 && readers[0].opType === 'Reshape' && readers[0].input![0] === hidden ? readers[0] : undefined;
    const shape = view && producer(view.input![1]);
    const threeParts = shape?.opType === 'Concat' ? shape.input!.length === 3 : false;
    if (!view || !threeParts) return hidden;
    hidden = view.output![0];
  }
}
