// Memory read bandwidth as ONNX Runtime sees it with the benchmark's thread count: a one-node graph that
// ReduceSums a large float tensor. A reduction reads every byte once and does one add per float, so its
// speed is the rate at which ORT kernels can stream data from RAM on this machine, the same kind of
// stream a decode step makes through the weights. The tensor (512 MB by default) is far larger than any
// CPU cache, and it is fed as a zero-copy input so no copy is timed.
import { onnx } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { summarize, type Summary } from './stats';

export interface ReadBandwidth {
  bytes: number;
  threads: number;
  /** GB/s (10^9 bytes per second) of each timed run. */
  gbPerSecond: Summary;
}

/** Rows are reduced independently, so ORT can split them across threads (a reduction to one scalar may not). */
const ROWS = 1024;

function reduceSumGraph(rows: number, cols: number): Uint8Array {
  const DT = onnx.TensorProto.DataType;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'read_bandwidth',
      node: [{ opType: 'ReduceSum', input: ['x', 'axes'], output: ['y'], name: 'sum_rows', attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] }],
      initializer: [{ name: 'axes', dataType: DT.INT64, dims: [1], int64Data: [1] }],
      input: [{ name: 'x', type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: rows }, { dimValue: cols }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: rows }] } } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export async function measureReadBandwidth(options: { megabytes: number; threads: number; repetitions: number }): Promise<ReadBandwidth> {
  const cols = Math.round((options.megabytes * 1e6) / 4 / ROWS);
  const data = new Float32Array(ROWS * cols).fill(1); // fill() touches every page before the clock starts
  const session = await InferenceSession.create(reduceSumGraph(ROWS, cols), {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    const feeds = { x: new Tensor('float32', data, [ROWS, cols]) };
    const result = await session.run(feeds); // warm-up: thread pool start, output allocation
    if ((result.y.data as Float32Array)[0] !== cols) throw new Error('ReduceSum returned a wrong sum; the measurement is not valid');
    const samples: number[] = [];
    for (let i = 0; i < options.repetitions; i++) {
      const started = performance.now();
      await session.run(feeds);
      samples.push(data.byteLength / ((performance.now() - started) / 1000) / 1e9);
    }
    return { bytes: data.byteLength, threads: options.threads, gbPerSecond: summarize(samples) };
  } finally {
    await session.release();
  }
}
