// The bench's model in the layout a hub download has, written as a model folder of its own next to the bench's
// model, so the engine loads it through loadModel exactly as it loads a download: an Optimum merged decoder (If
// on use_cache_branch, no position_ids; test/support/optimumMergedLayout.ts) with the producerName the hub's
// files carry. Genuine 124M exports cannot be fetched here; this is the closest file with known weights.
//
// fp32 and q4: the bench's own file, rewritten into the merged layout. q8: the project's own q8 format (per-row
// int8 token table shared with the lm_head, per-column scales) is one no hub file has, so the q8 copy is built
// from the fp32 model's weights in onnxruntime's quantize_dynamic format, as the hub's q8 files have it
// (test/fixtures/hf-export/xenova-layout/onnx/decoder_model_merged_quantized.onnx): every block matrix int8 with
// ONE symmetric scale, zero point 0, run as DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add(bias);
// the token table uint8 with one scale and zero point, read as Gather -> DequantizeLinear; the lm_head a
// separate int8 [E, V] matrix (wte^T) with one scale, no bias. What differs from a genuine file: the position
// table stays fp32 (the quantizer makes it uint8 too; the engine reads one row of it per token), and an
// all-zero weight zero point is left out rather than stored.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { Dtype } from '../src/protocol';
import { decodeOnnx } from '../src/worker/engine/decodeOnnx';
import { configFromHfJson, type Gpt2Config } from '../src/worker/gpt2/config';
import { weightsFromExport } from '../src/worker/gpt2/fromExport';
import { gpt2Model } from '../src/worker/gpt2/graph';
import { isInt8, type Gpt2Weights, type Int8Matrix, type Linear, type Matrix } from '../src/worker/gpt2/weights';
import { BASE_FILES, onnxFileName } from '../src/worker/onnxFiles';
import { toOptimumMergedLayout } from '../test/support/optimumMergedLayout';

/** What this project writes as producerName (src/worker/gpt2/graph.ts): the loader runs such files as its own graph. */
const OWN_PRODUCER = 'local-gpt2';

/**
 * The producer names the hub's files carry (Optimum's export; onnxruntime's quantizer for the quantized
 * ones, see test/fixtures/hf-export). Kept from the source, the project's name would make the loader take
 * the copy for one of its own graphs and never try the mapping a download goes through.
 */
const HUB_PRODUCER: Record<Dtype, string> = { fp32: 'optimum-onnx', q8: 'onnx.quantize', q4: 'onnx.quantize' };

/** How the copy was written, for the table: it is the project's file, not a download. */
const HOW_WRITTEN: Record<Dtype, string> = {
  fp32: "written by the bench: its own fp32 file rewritten into the Optimum merged layout",
  q8: "written by the bench in onnxruntime's quantize_dynamic q8 format (int8 matrices and lm_head, one scale each; uint8 token table via DequantizeLinear) from the fp32 weights",
  q4: "written by the bench: its own q4 file (MatMulNBits) rewritten into the Optimum merged layout",
};

export interface HubLayoutModel {
  folder: string;
  file: string; // the ONNX file, absolute
  producerName: string;
  /** How the file was made (the project wrote it; genuine 124M exports cannot be downloaded here). */
  written: string;
  /** False when this run wrote the copy; true when an earlier run's copy of the same source file was reused. */
  reused: boolean;
}

/** `skipped` says why there is no copy (the bench's file is a download already, or the q8 copy's fp32 source is missing). */
export async function hubLayoutModel(folder: string, dtype: Dtype, log: (line: string) => void): Promise<HubLayoutModel | { skipped: string }> {
  const name = onnxFileName(dtype);
  const ownFile = path.join(folder, name);
  // The q8 copy is quantized from the fp32 weights; the others are rewritten from the file itself.
  const source = dtype === 'q8' ? path.join(folder, onnxFileName('fp32')) : ownFile;
  const target = `${folder.replace(/[\\/]+$/, '')}-optimum-merged`;
  const file = path.join(target, name);
  const producerName = HUB_PRODUCER[dtype];
  const written = HOW_WRITTEN[dtype];
  if (!fs.existsSync(source)) return { skipped: `${source} is missing (the q8 hub-layout copy is quantized from the fp32 weights)` };
  const stat = fs.statSync(source);
  // Rewritten when the source changes (make-model rebuilt it) or this file's rules change.
  const stamp = JSON.stringify({ source: path.basename(folder), name: path.relative(folder, source), size: stat.size, mtimeMs: stat.mtimeMs, producerName, version: 2 });
  const stampFile = path.join(target, `.hub-layout-${dtype}.json`);
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return { folder: target, file, producerName, written, reused: true };

  if (!isOwnGraph(ownFile)) return { skipped: `${ownFile} is not one of the project's own graphs (a download already: not ours to rewrite)` };
  log(`  writing ${path.relative(process.cwd(), file)} (Optimum merged layout${dtype === 'q8' ? ", onnxruntime quantizer's q8 format" : ''})`);
  const started = performance.now();
  let bytes: Uint8Array;
  if (dtype === 'q8') {
    const config = configFromHfJson(JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')));
    const fp32 = weightsFromExport(decodeOnnx(fs.readFileSync(source)), config);
    if (fp32.dtype !== 'fp32') throw new Error(`${source}: expected fp32 weights, found ${fp32.dtype}`);
    bytes = onnx.ModelProto.encode(gpt2Model(quantizeLikeOnnxruntime(fp32.weights, config), config, 'q8')).finish();
  } else {
    bytes = fs.readFileSync(source);
  }
  const merged = onnx.ModelProto.decode(toOptimumMergedLayout(bytes));
  merged.producerName = producerName;
  merged.producerVersion = '';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const base of [...BASE_FILES, 'generation_config.json']) {
    if (fs.existsSync(path.join(folder, base))) fs.copyFileSync(path.join(folder, base), path.join(target, base));
  }
  fs.rmSync(stampFile, { force: true });
  fs.writeFileSync(file, onnx.ModelProto.encode(merged).finish());
  fs.writeFileSync(stampFile, stamp);
  log(`  written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { folder: target, file, producerName, written, reused: false };
}

function isOwnGraph(file: string): boolean {
  return fs.existsSync(file) && decodeOnnx(fs.readFileSync(file)).producerName === OWN_PRODUCER;
}

/**
 * fp32 weights -> what onnxruntime's quantize_dynamic(weight_type=QInt8, per_channel=False) stores: each block
 * matrix and the lm_head int8 with one symmetric scale (absmax / 127, zero point 0), the token table uint8 with
 * one asymmetric scale and zero point over [min(w, 0), max(w, 0)]. The lm_head is wte^T [E, V], stored apart.
 */
export function quantizeLikeOnnxruntime(w: Gpt2Weights<Matrix>, c: Gpt2Config): Gpt2Weights<Matrix> {
  const fp32 = (m: Matrix, name: string): Float32Array => {
    if (isInt8(m)) throw new Error(`${name}: expected fp32 weights`);
    return m;
  };
  const V = c.vocabSize, E = c.nEmbd;
  const wte = fp32(w.wte, 'wte');
  if (w.lmHead) throw new Error('expected a tied lm_head (the project\'s fp32 graph)');
  const linear = (lin: Linear<Matrix>, name: string): Linear<Matrix> => ({ weight: int8Symmetric(fp32(lin.weight, name)), bias: lin.bias });
  return {
    wte: uint8Asymmetric(wte),
    wpe: w.wpe,
    h: w.h.map((b, l) => ({
      ln_1: b.ln_1,
      attn: { c_attn: linear(b.attn.c_attn, `h.${l}.attn.c_attn`), c_proj: linear(b.attn.c_proj, `h.${l}.attn.c_proj`) },
      ln_2: b.ln_2,
      mlp: { c_fc: linear(b.mlp.c_fc, `h.${l}.mlp.c_fc`), c_proj: linear(b.mlp.c_proj, `h.${l}.mlp.c_proj`) },
    })),
    ln_f: w.ln_f,
    lmHead: int8Symmetric(wte, { rows: V, cols: E }),
  };
}

/** One scale for the whole matrix, zero point 0; with `transpose`, w [rows, cols] is stored as [cols, rows]. */
function int8Symmetric(w: Float32Array, transpose?: { rows: number; cols: number }): Int8Matrix {
  let amax = 0;
  for (let i = 0; i < w.length; i++) amax = Math.max(amax, Math.abs(w[i]));
  const scale = amax / 127 || 1;
  const q = new Int8Array(w.length);
  const toInt8 = (v: number) => Math.max(-127, Math.min(127, Math.round(v / scale)));
  if (!transpose) {
    for (let i = 0; i < w.length; i++) q[i] = toInt8(w[i]);
  } else {
    const { rows, cols } = transpose;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) q[c * rows + r] = toInt8(w[r * cols + c]);
    }
  }
  return { q, scale: Float32Array.of(scale), zeroPoint: new Int8Array(1) };
}

/** One scale and zero point for the whole table, uint8 over [min(w, 0), max(w, 0)]. */
function uint8Asymmetric(w: Float32Array): Int8Matrix {
  let lo = 0, hi = 0;
  for (let i = 0; i < w.length; i++) {
    lo = Math.min(lo, w[i]);
    hi = Math.max(hi, w[i]);
  }
  const scale = (hi - lo) / 255 || 1;
  const zero = Math.max(0, Math.min(255, Math.round(-lo / scale)));
  const q = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(0, Math.min(255, Math.round(w[i] / scale) + zero));
  return { q, scale: Float32Array.of(scale), zeroPoint: Uint8Array.of(zero) };
}
