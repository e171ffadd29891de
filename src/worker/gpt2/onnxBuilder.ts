// The ONNX plumbing under the GPT-2 graph: a builder that collects nodes and initializers, value infos, and
// the ModelProto around them. Nothing here knows about GPT-2.
import { onnx } from 'onnx-proto';

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

type Dim = number | string; // numeric or symbolic
type AttrValue = number | number[] | { float: number } | { string: string }; // plain numbers are INT attributes
export const float = (v: number) => ({ float: v });

/**
 * Arrays that are copies of bytes stored elsewhere (a model file's, fromExport.ts): an initializer made from one
 * carries the stored bytes themselves (the same values), so the loader can refer to them in the file instead of
 * handing onnxruntime a copy (src/worker/engine/externalWeights.ts).
 */
export const storedBytes = new WeakMap<ArrayBufferView, Uint8Array>();

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
    const rawData = storedBytes.get(data) ?? new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
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

/** producerName of every graph this project writes: the loader runs those without mapping their weights. */
export const GRAPH_PRODUCER = 'local-gpt2';

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
