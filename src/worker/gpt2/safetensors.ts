// The safetensors format, just as much as GPT-2 checkpoints need:
//   [u64 little-endian N][N bytes of JSON header][raw tensor data]
//   header: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { str: str } },
//   offsets relative to the start of the data. Tensors are little-endian, row-major.
import type { Gpt2Config } from './config';
import { numel, tensorsOfWeights, weightsFromTensors, type Gpt2Weights } from './weights';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

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

function f32ToBf16(v: number): number {
  const u = new Uint32Array(Float32Array.of(v).buffer)[0];
  return (u + 0x7fff + ((u >> 16) & 1)) >>> 16; // round to nearest even
}

function f32ToF16(v: number): number {
  // Via Math.fround-exact arithmetic: good enough for test checkpoints (round to nearest, no NaN payloads).
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(v)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal (may round up into the normals: still right)
  let exp = Math.floor(Math.log2(a));
  let frac = Math.round((a / 2 ** exp - 1) * 1024);
  if (frac === 1024) (frac = 0), exp++;
  return sign | ((exp + 15) << 10) | frac;
}

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Serializes float tensors in the given dtype, 8-byte aligning the data like the reference writer. */
export function writeSafetensors(tensors: NamedTensor[], dtype: SafetensorsDtype = 'F32', metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== numel(t.shape)) throw new Error(`tensor ${t.name}: ${t.data.length} values for shape [${t.shape}]`);
    const size = t.data.length * BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil(json.byteLength / 8) * 8).fill(0x20); // space-padded: data starts 8-byte aligned
  head.set(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let p = 8 + head.byteLength;
  for (const t of tensors) {
    if (dtype === 'F32') {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
      p += t.data.byteLength;
    } else {
      const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
      for (let i = 0; i < t.data.length; i++, p += 2) dv.setUint16(p, conv(t.data[i]), true);
    }
  }
  return out;
}

/** A GPT-2 checkpoint as HF would save it; `prefix` "transformer." gives GPT2LMHeadModel names. */
export function weightsToSafetensors(w: Gpt2Weights, c: Gpt2Config, opts: { dtype?: SafetensorsDtype; prefix?: string } = {}): Uint8Array {
  const prefix = opts.prefix ?? '';
  const tensors = tensorsOfWeights(w, c).map(({ spec, data }) => ({ name: prefix + spec.name, shape: spec.shape, data }));
  return writeSafetensors(tensors, opts.dtype ?? 'F32');
}
