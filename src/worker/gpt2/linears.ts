// The block linears in each precision the engine runs: fp32 MatMul, q8 DynamicQuantizeLinear + MatMulInteger
// (onnxruntime's dynamic-quantization pattern) and q4 com.microsoft MatMulNBits.
import { onnx } from 'onnx-proto';
import type { Dtype } from '../../protocol';
import { GraphBuilder } from './onnxBuilder';
import { quantizeInt8PerColumn, quantizeQ4, Q4_BLOCK } from './quantize';
import { isInt8, type Int8Matrix, type Linear, type Matrix } from './weights';

const DT = onnx.TensorProto.DataType;

/**
 * y = x @ W + b for a Conv1D weight W [K, N], in the precision of the graph. x: [B, S, K] -> [B, S, N].
 * W is fp32, or int8 as a downloaded q8 export shipped it (q8 graphs only).
 */
export type LinearFn = (x: string, lin: Linear<Matrix>, K: number, N: number, name: string) => string;

export function fp32Weight(m: Matrix, name: string): Float32Array {
  if (isInt8(m)) throw new Error(`${name}: an int8 weight needs a q8 graph`);
  return m;
}

function fp32Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const y = g.op1('MatMul', [x, g.f32(name + '.weight', [K, N], fp32Weight(lin.weight, name))]);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/**
 * onnxruntime's dynamic-quantization pattern: activations -> uint8 per tensor at run time,
 * weights int8 per output column, integer matmul, then rescale by (x_scale * w_scale[n]).
 */
export function q8MatMul(g: GraphBuilder, x: string, wq: string, wScale: string, wZero?: string): string {
  const [xq, xScale, xZero] = g.op('DynamicQuantizeLinear', [x], {}, 3);
  const acc = g.op1('MatMulInteger', wZero ? [xq, wq, xZero, wZero] : [xq, wq, xZero]); // int32; ours are symmetric (no zero point)
  const scale = g.op1('Mul', [xScale, wScale]); // [N]
  return g.op1('Mul', [g.op1('Cast', [acc], { to: DT.FLOAT }), scale]);
}

/** An int8 matrix as initializers: quantized values, scale and (when not all zero) zero point. */
export function int8Initializers(g: GraphBuilder, m: Int8Matrix, dims: number[], name: string) {
  const type = m.q instanceof Int8Array ? DT.INT8 : DT.UINT8;
  const wq = g.init(name + '_quantized', type, dims, m.q);
  const scale = g.f32(name + '_scale', m.scale.length === 1 ? [] : [m.scale.length], m.scale);
  const zero = m.zeroPoint.some((z) => z !== 0) ? g.init(name + '_zero_point', type, m.zeroPoint.length === 1 ? [] : [m.zeroPoint.length], m.zeroPoint) : undefined;
  return { wq, scale, zero };
}

function q8Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const w = isInt8(lin.weight) ? lin.weight : { ...quantizeInt8PerColumn(lin.weight, K, N), zeroPoint: new Int8Array(1) };
    const { wq, scale, zero } = int8Initializers(g, w, [K, N], name + '.weight');
    const y = q8MatMul(g, x, wq, scale, zero);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/** com.microsoft MatMulNBits: 4-bit weights in blocks of 32 along K, one fp32 scale and 4-bit zero point per block. */
function q4MatMul(g: GraphBuilder, x: string, at: (n: number, k: number) => number, K: number, N: number, name: string) {
  const { packed, scales, zeroPoints, nBlocks } = quantizeQ4(at, K, N);
  const wq = g.init(name + '.weight_q4', DT.UINT8, [N, nBlocks, Q4_BLOCK / 2], packed);
  const ws = g.f32(name + '.weight_scales', [N * nBlocks], scales);
  const wz = g.init(name + '.weight_zero_points', DT.UINT8, [zeroPoints.length], zeroPoints);
  // accuracy_level 4: int8 activations inside the kernel; the fast CPU path.
  const attrs = { K, N, bits: 4, block_size: Q4_BLOCK, accuracy_level: 4 };
  return g.op1('MatMulNBits', [x, wq, ws, wz], attrs, 'com.microsoft');
}

function q4Linear(g: GraphBuilder): LinearFn {
  return (x, lin, K, N, name) => {
    const w = fp32Weight(lin.weight, name); // [K, N]
    const y = q4MatMul(g, x, (n, k) => w[k * N + n], K, N, name);
    return g.op1('Add', [y, g.f32(name + '.bias', [N], lin.bias)]);
  };
}

/** The block linears in the precision of the graph. */
export function linearFor(g: GraphBuilder, dtype: Dtype): LinearFn {
  if (dtype === 'fp32') return fp32Linear(g);
  if (dtype === 'q8') return q8Linear(g);
  if (dtype === 'q4') return q4Linear(g);
  throw new Error(`unknown dtype ${String(dtype)} (expected fp32, q8 or q4)`);
}

