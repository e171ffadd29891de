// The safetensors format, just as much as GPT-2 checkpoints need:
//   [u64 little-endian N][N bytes of JSON header][raw tensor data]
//   header: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { str: str } },
//   offsets relative to the start of the data. Tensors are little-endian, row-major.
import type { Gpt2Config } from './config';
import { numel, weightsFromTensors, type Gpt2Weights } from './weights';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface RawTensor {
  dtype: string; // as in the header; only F32/F16/BF16 can be converted to float
  shape: number[];
  bytes: Uint8Array; // a view into the file
}

/** Parses the header and slices out every tensor. Throws on anything malformed, naming what. */
export function readSafetensors(file: Uint8Array): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  if (file.byteLength < 8) throw new Error(`safetensors: file is ${file.byteLength} bytes, too short for the 8-byte header length`);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > file.byteLength) {
    throw new Error(`safetensors: truncated header (header says ${n} bytes, file has ${file.byteLength - 8} after the length)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`safetensors: header is not valid JSON (${(e as Error).message})`);
  }
  const data = file.subarray(8 + n);
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: off } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (typeof dtype !== 'string' || !Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) {
      throw new Error(`safetensors: bad header entry for tensor ${name}`);
    }
    if (!(off[0] >= 0 && off[0] <= off[1] && off[1] <= data.byteLength)) {
      throw new Error(`safetensors: tensor ${name} lies outside the file (offsets [${off}], data is ${data.byteLength} bytes; truncated?)`);
    }
    const size = BYTES[dtype as SafetensorsDtype];
    if (size !== undefined && off[1] - off[0] !== numel(shape) * size) {
      throw new Error(`safetensors: tensor ${name} has ${off[1] - off[0]} bytes, shape [${shape}] ${dtype} needs ${numel(shape) * size}`);
    }
    tensors.set(name, { dtype, shape, bytes: data.subarray(off[0], off[1]) });
  }
  return { tensors, metadata };
}

/** IEEE half -> float. */
function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** F32 / F16 / BF16 tensor -> a fresh Float32Array (copied, so it need not be 4-byte aligned in the file). */
export function toFloat32(name: string, t: RawTensor): Float32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') {
    new Uint8Array(out.buffer).set(t.bytes); // little-endian platforms only, like onnxruntime itself
  } else if (t.dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  } else if (t.dtype === 'BF16') {
    // bf16 is the top half of a float32
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = dv.getUint16(2 * i, true) << 16;
  } else {
    throw new Error(`safetensors: tensor ${name} has dtype ${t.dtype}; only F32, F16 and BF16 are supported`);
  }
  return out;
}

/**
 * GPT-2 weights from a Hugging Face model.safetensors (GPT2Model names, or GPT2LMHeadModel's with the
 * "transformer." prefix). The attn.bias / attn.masked_bias causal-mask buffers are ignored; a saved
 * lm_head.weight must equal wte because the graph ties them.
 */
export function weightsFromSafetensors(file: Uint8Array, c: Gpt2Config): Gpt2Weights {
  const { tensors } = readSafetensors(file);
  const find = (name: string) => tensors.get(name) ?? tensors.get('transformer.' + name);
  const w = weightsFromTensors(c, (spec) => {
    const t = find(spec.name);
    if (!t) throw new Error(`safetensors: missing tensor ${spec.name} (nor transformer.${spec.name})`);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(`safetensors: tensor ${spec.name} has shape [${t.shape}], expected [${spec.shape}] for this config`);
    }
    return toFloat32(spec.name, t);
  });
  const lmHead = tensors.get('lm_head.weight');
  if (lmHead) {
    const lm = toFloat32('lm_head.weight', lmHead);
    if (lm.length !== w.wte.length || lm.some((v, i) => v !== w.wte[i])) {
      throw new Error('safetensors: lm_head.weight differs from wte.weight; untied output embeddings are not supported');
    }
  }
  return w;
}
