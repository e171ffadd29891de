// config.json against the graph it describes, before anything is allocated: a config that says 100,000 layers
// for a 2-layer file would otherwise size caches and tensors from the config until onnxruntime fails far later.
import { onnx } from 'onnx-proto';
import { EngineError } from '../errors';
import { headDim, type Gpt2Config } from '../gpt2/config';

/** Throws a model-files EngineError naming config.json, the field and what the graph says instead. */
export function checkConfigAgainstGraph(c: Gpt2Config, model: onnx.IModelProto, configFile: string, graphFile: string): void {
  const graph = model.graph!;
  const mismatch = (field: string, value: number, graphSays: string) =>
    new EngineError('model-files', `${configFile}: "${field}" is ${value}, but ${graphSays} in ${graphFile}`);
  const pastKeys = graph.input!.filter((i) => /^past_key_values\.\d+\.key$/.test(i.name!));
  if (pastKeys.length !== c.nLayer) throw mismatch('n_layer', c.nLayer, `there are ${pastKeys.length} layers (past_key_values.*.key inputs)`);
  for (const input of pastKeys) {
    const [, heads, , size] = dimsOf(input);
    if (heads !== undefined && heads !== c.nHead) throw mismatch('n_head', c.nHead, `${input.name} has ${heads} heads`);
    if (size !== undefined && size !== headDim(c)) throw mismatch('n_embd', c.nEmbd, `${input.name} has head size ${size} (n_embd / n_head = ${headDim(c)})`);
  }
  const logits = graph.output!.find((o) => o.name === 'logits');
  const vocab = logits ? dimsOf(logits)[2] : undefined;
  if (vocab !== undefined && vocab !== c.vocabSize) throw mismatch('vocab_size', c.vocabSize, `the logits have ${vocab} columns`);
  for (const rows of gatheredTableRows(graph, c.nEmbd)) {
    if (rows !== c.vocabSize && c.nPositions > rows) throw mismatch('n_positions', c.nPositions, `the position table has ${rows} rows`);
  }
}

/** Numeric dims of a value's declared shape; symbolic ones are undefined. */
function dimsOf(value: onnx.IValueInfoProto): (number | undefined)[] {
  return (value.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? Number(d.dimValue) : undefined));
}

/** Rows of every [rows, nEmbd] initializer that a Gather reads: the token and position tables. */
function gatheredTableRows(graph: onnx.IGraphProto, nEmbd: number): number[] {
  const tables = new Map<string, onnx.ITensorProto>();
  const gathered = new Set<string>();
  const visit = (g: onnx.IGraphProto) => {
    for (const t of g.initializer ?? []) tables.set(t.name!, t);
    for (const n of g.node ?? []) {
      if (n.opType === 'Gather') gathered.add(n.input![0]);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
    }
  };
  visit(graph);
  return [...gathered].flatMap((name) => {
    const t = tables.get(name);
    return t?.dims?.length === 2 && Number(t.dims[1]) === nEmbd ? [Number(t.dims[0])] : [];
  });
}
