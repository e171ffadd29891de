// Writes safetensors files (the format Hugging Face checkpoints ship in): test checkpoints, and the
// make-model script's `--write-safetensors`. The runtime only reads them (src/worker/gpt2/safetensors.ts).
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import { BYTES, type SafetensorsDtype } from '../../src/worker/gpt2/safetensors';
import { numel, type Gpt2Weights } from '../../src/worker/gpt2/weights';
import { tensorsOfWeights } from './tensorsOfWeights';

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
