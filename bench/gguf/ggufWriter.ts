// A minimal GGUF v3 writer (the file format of llama.cpp): header, key-values, tensor infos, then the tensor data,
// each tensor at a 32-byte aligned offset. Only what the bench's GPT-2 needs: scalar, string and array values;
// F32, F16 and Q8_0 tensors. Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
//
// Tensor dims are given as GGUF lists them, innermost first (ne[0] = the length of a row): a row-major
// [rows, cols] matrix is dims [cols, rows].
import * as fs from 'node:fs';

export const GGUF_ALIGNMENT = 32;

/** ggml_type values. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

/** gguf_metadata_value_type values. */
const KvType = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

export type KvValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  /** Innermost first (ne[0] = row length). */
  dims: number[];
  type: GgmlTypeName;
  /** fp32 values in row-major order (ne[0] fastest); converted to `type` on write. */
  data: Float32Array;
}

const QK8_0 = 32; // values per Q8_0 block: one f16 scale + 32 int8

function tensorBytes(t: GgufTensor): number {
  const n = t.data.length;
  if (t.type === 'F32') return 4 * n;
  if (t.type === 'F16') return 2 * n;
  if (t.dims[0] % QK8_0 !== 0) throw new Error(`${t.name}: Q8_0 needs rows of a multiple of ${QK8_0} values, got ${t.dims[0]}`);
  return (n / QK8_0) * (2 + QK8_0);
}

/** Appends little-endian values to a growing buffer (for the header; the tensor data is written directly). */
class ByteWriter {
  private buf = Buffer.alloc(1 << 20);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  u64(v: number): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void { while (this.length % alignment !== 0) this.u8(0); }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeKv(w: ByteWriter, key: string, kv: KvValue): void {
  w.string(key);
  switch (kv.type) {
    case 'u32': w.u32(KvType.UINT32); w.u32(kv.value); break;
    case 'i32': w.u32(KvType.INT32); w.i32(kv.value); break;
    case 'f32': w.u32(KvType.FLOAT32); w.f32(kv.value); break;
    case 'bool': w.u32(KvType.BOOL); w.u8(kv.value ? 1 : 0); break;
    case 'string': w.u32(KvType.STRING); w.string(kv.value); break;
    case 'string[]':
      w.u32(KvType.ARRAY); w.u32(KvType.STRING); w.u64(kv.value.length);
      for (const s of kv.value) w.string(s);
      break;
    case 'i32[]':
      w.u32(KvType.ARRAY); w.u32(KvType.INT32); w.u64(kv.value.length);
      for (let i = 0; i < kv.value.length; i++) w.i32(kv.value[i]);
      break;
  }
}

/** Writes the file; returns its size in bytes. */
export function writeGguf(file: string, kvs: Record<string, KvValue>, tensors: GgufTensor[]): number {
  const header = new ByteWriter();
  header.u8(0x47); header.u8(0x47); header.u8(0x55); header.u8(0x46); // "GGUF"
  header.u32(3);
  header.u64(tensors.length);
  header.u64(Object.keys(kvs).length);
  for (const [key, kv] of Object.entries(kvs)) writeKv(header, key, kv);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const expected = t.dims.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) throw new Error(`${t.name}: dims [${t.dims}] hold ${expected} values, got ${t.data.length}`);
    header.string(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(d);
    header.u32(GgmlType[t.type]);
    header.u64(offset);
    offsets.push(offset);
    offset += tensorBytes(t);
    offset = Math.ceil(offset / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  header.pad(GGUF_ALIGNMENT);

  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header.bytes());
    const dataStart = header.length;
    for (const [i, t] of tensors.entries()) {
      const bytes = encodeTensor(t);
      fs.writeSync(fd, bytes, 0, bytes.length, dataStart + offsets[i]);
    }
    const total = dataStart + offset;
    fs.ftruncateSync(fd, total); // the last tensor's padding
    return total;
  } finally {
    fs.closeSync(fd);
  }
}

function encodeTensor(t: GgufTensor): Uint8Array {
  const n = t.data.length;
  if (t.type === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (t.type === 'F16') {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = toHalf(t.data[i]);
    return new Uint8Array(out.buffer);
  }
  return quantizeQ8_0(t.data);
}

/**
 * llama.cpp's quantize_row_q8_0_ref: per block of 32, d = absmax / 127, q = round(x / d) (with the fp32 d),
 * d stored as f16. Block layout: 2 bytes of d, then 32 int8.
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = x.length / QK8_0;
  const out = new Uint8Array(blocks * (2 + QK8_0));
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const o = b * (2 + QK8_0);
    view.setUint16(o, toHalf(d), true);
    for (let j = 0; j < QK8_0; j++) {
      const v = Math.fround(x[base + j] * id);
      // roundf: halves away from zero (Math.round rounds -2.5 to -2).
      view.setInt8(o + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
    }
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 -> IEEE half, round to nearest even (as ggml's FP32_TO_FP16 on x86 F16C). */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000; // subnormal half: shift the implicit bit in
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && half & 1) ? half + 1 : half);
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}
