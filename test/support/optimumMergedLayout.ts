// Rewrites the project's GPT-2 graph into the shape of an older Optimum "merged" export, as many hub
// repositories (Xenova/gpt2 among them) ship it: no position_ids input (positions come from the length
// of the past), and the whole network inside an If node that `use_cache_branch` switches between a branch
// that reads past_key_values and one that ignores them. The hub is out of reach here, so tests check that
// the engine runs this layout by building it from a model whose logits are known.
import { onnx } from 'onnx-proto';

const DT = onnx.TensorProto.DataType;

export function toOptimumMergedLayout(ours: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(ours);
  const graph = model.graph!;
  const body = graph.node!;
  const outputs = graph.output!;
  const pastNames = graph.input!.map((i) => i.name!).filter((n) => n.startsWith('past_key_values.'));

  const branch = (prefix: string, readsPast: boolean): onnx.IGraphProto => {
    const renamed = new Map<string, string>();
    const local = (name: string) => renamed.get(name) ?? name;
    const nodes: onnx.INodeProto[] = [];
    const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []) =>
      nodes.push({ opType, input, output: [output], name: `${prefix}${output}`, attribute });
    // The no-cache branch sees an empty past whatever it is given: Slice(past, 0, 0) on the sequence axis.
    for (const past of pastNames) {
      if (readsPast) continue;
      renamed.set(past, `${prefix}${past}`);
      node('Slice', [past, 'fixture.zero_1d', 'fixture.zero_1d', 'fixture.two_1d'], `${prefix}${past}`);
    }
    // position_ids = [P, P + S) as [1, S], P = the past's length: what an export without the input computes.
    const shapeOf = (name: string, axis: string, out: string) => {
      node('Shape', [name], `${out}_shape`);
      node('Gather', [`${out}_shape`, axis], out, [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]);
    };
    shapeOf(local('past_key_values.0.key'), 'fixture.two', `${prefix}P`);
    shapeOf('input_ids', 'fixture.one', `${prefix}S`);
    node('Add', [`${prefix}P`, `${prefix}S`], `${prefix}T`);
    node('Range', [`${prefix}P`, `${prefix}T`, 'fixture.one'], `${prefix}positions`);
    node('Unsqueeze', [`${prefix}positions`, 'fixture.zero_1d'], `${prefix}position_ids`);
    renamed.set('position_ids', `${prefix}position_ids`);

    for (const n of body) {
      for (const out of n.output!) renamed.set(out, `${prefix}${out}`);
      nodes.push({ ...n, name: `${prefix}${n.name}`, input: n.input!.map(local), output: n.output!.map(local) });
    }
    return { name: prefix, node: nodes, output: outputs.map((o) => ({ ...o, name: local(o.name!) })) };
  };

  const int64 = (name: string, values: number[], dims: number[]) =>
    graph.initializer!.push({ name, dataType: DT.INT64, dims, int64Data: values });
  int64('fixture.zero_1d', [0], [1]);
  int64('fixture.two_1d', [2], [1]);
  int64('fixture.one', [1], []);
  int64('fixture.two', [2], []);

  const graphAttr = (name: string, g: onnx.IGraphProto): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.GRAPH, g });
  graph.node = [
    {
      opType: 'If',
      name: 'optimum::if',
      input: ['use_cache_branch'],
      output: outputs.map((o) => o.name!),
      attribute: [graphAttr('then_branch', branch('with_past/', true)), graphAttr('else_branch', branch('no_past/', false))],
    },
  ];
  graph.input = [
    ...graph.input!.filter((i) => i.name !== 'position_ids'),
    { name: 'use_cache_branch', type: { tensorType: { elemType: DT.BOOL, shape: { dim: [{ dimValue: 1 }] } } } },
  ];
  return onnx.ModelProto.encode(model).finish();
}
