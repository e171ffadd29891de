// The bench's model as a GGUF file for llama.cpp, from the SAME weights the engine runs: read back from the model
// folder's fp32 ONNX file (weightsFromExport) and written in llama.cpp's GPT-2 layout (LLM_ARCH_GPT2):
//
//   token_embd [E, V]  position_embd [E, n_ctx]  (GGUF dims innermost first: HF's wte [V, E] row-major as is)
//   blk.N.attn_norm, blk.N.attn_qkv [E, 3E], blk.N.attn_output [E, E], blk.N.ffn_norm, blk.N.ffn_up [E, 4E],
//   blk.N.ffn_down [4E, E]   (each .weight and .bias; a linear's weight is [out, in] row-major = dims [in, out],
//                             i.e. HF's Conv1D weight [in, out] transposed)
//   output_norm; no `output`: llama.cpp then uses token_embd as the lm_head (tied, as in the engine's files)
//
// with the tokenizer from the folder's tokenizer.json (tokenizer.ggml.model gpt2, pre-tokenizer gpt-2).
// Types: F32 (for the greedy correctness check), Q8_0 (for the timed comparison with the engine's q8: every
// matrix including the tied token table in blocks of 32 values with one f16 scale; biases, norms and the
// position table stay F32, as llama.cpp's own converter leaves 1-D tensors and the engine leaves wpe).
//
// Written next to the model folder (<folder>-gguf/) and rewritten only when the fp32 ONNX file changes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeOnnx } from '../../src/worker/engine/decodeOnnx';
import { configFromHfJson, type Gpt2Config } from '../../src/worker/gpt2/config';
import { weightsFromExport } from '../../src/worker/gpt2/fromExport';
import { isInt8, type Gpt2Weights, type Matrix } from '../../src/worker/gpt2/weights';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { writeGguf, type GgmlTypeName, type GgufTensor, type KvValue } from './ggufWriter';

export type GgufType = 'F32' | 'Q8_0';

export interface Gpt2GgufFile {
  file: string;
  type: GgufType;
  bytes: number;
  /** True when an earlier run's file (same source ONNX file) was reused. */
  reused: boolean;
  writeMs: number;
}

/** The GGUF of the model in `folder` (its fp32 ONNX file's weights), written if missing or stale. */
export function gpt2Gguf(folder: string, type: GgufType, log: (line: string) => void = () => {}): Gpt2GgufFile {
  const source = path.join(folder, onnxFileName('fp32'));
  if (!fs.existsSync(source)) throw new Error(`${source} is missing: the GGUF is written from the fp32 weights`);
  const target = `${folder.replace(/[\\/]+$/, '')}-gguf`;
  const file = path.join(target, `model-${type.toLowerCase()}.gguf`);
  const stat = fs.statSync(source);
  const stamp = JSON.stringify({ source: path.basename(folder), size: stat.size, mtimeMs: stat.mtimeMs, type, version: 1 });
  const stampFile = `${file}.stamp.json`;
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    return { file, type, bytes: fs.statSync(file).size, reused: true, writeMs: 0 };
  }
  log(`  writing ${path.relative(process.cwd(), file)} (llama.cpp GGUF, ${type}, from ${path.relative(process.cwd(), source)})`);
  const started = performance.now();
  const config = configFromHfJson(JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')));
  const found = weightsFromExport(decodeOnnx(fs.readFileSync(source)), config);
  if (found.dtype !== 'fp32') throw new Error(`${source}: expected fp32 weights, found ${found.dtype}`);
  const tokenizer = JSON.parse(fs.readFileSync(path.join(folder, 'tokenizer.json'), 'utf8'));
  fs.mkdirSync(target, { recursive: true });
  fs.rmSync(stampFile, { force: true });
  const bytes = writeGguf(file, gpt2Metadata(config, tokenizer, path.basename(folder)), gpt2Tensors(found.weights, config, type));
  fs.writeFileSync(stampFile, stamp);
  const writeMs = performance.now() - started;
  log(`  written in ${(writeMs / 1000).toFixed(1)} s (${(bytes / 1e6).toFixed(0)} MB)`);
  return { file, type, bytes, reused: false, writeMs };
}

interface HfTokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
  added_tokens?: { id: number; content: string; special: boolean }[];
}

function gpt2Metadata(c: Gpt2Config, tokenizer: HfTokenizerJson, name: string): Record<string, KvValue> {
  if (tokenizer.model.type !== 'BPE') throw new Error(`tokenizer.json: model type ${tokenizer.model.type}, expected BPE`);
  const tokens: string[] = new Array(c.vocabSize);
  for (const [token, id] of Object.entries(tokenizer.model.vocab)) if (id < c.vocabSize) tokens[id] = token;
  for (const added of tokenizer.added_tokens ?? []) if (added.id < c.vocabSize) tokens[added.id] = added.content;
  const missing = tokens.findIndex((t) => t === undefined);
  if (missing >= 0 || tokens.length !== c.vocabSize) throw new Error(`tokenizer.json: no token for id ${missing}`);
  const special = new Set((tokenizer.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  const tokenType = Int32Array.from(tokens, (_, id) => (special.has(id) ? 3 /* control */ : 1 /* normal */));
  const merges = tokenizer.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  const eot = tokens.indexOf('<|endoftext|>');
  if (eot < 0) throw new Error('tokenizer.json: no <|endoftext|>');
  const u32 = (value: number): KvValue => ({ type: 'u32', value });
  return {
    'general.architecture': { type: 'string', value: 'gpt2' },
    'general.name': { type: 'string', value: name },
    'general.alignment': u32(32),
    'gpt2.context_length': u32(c.nPositions),
    'gpt2.embedding_length': u32(c.nEmbd),
    'gpt2.feed_forward_length': u32(4 * c.nEmbd),
    'gpt2.block_count': u32(c.nLayer),
    'gpt2.attention.head_count': u32(c.nHead),
    'gpt2.attention.layer_norm_epsilon': { type: 'f32', value: c.layerNormEpsilon },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
    'tokenizer.ggml.tokens': { type: 'string[]', value: tokens },
    'tokenizer.ggml.token_type': { type: 'i32[]', value: tokenType },
    'tokenizer.ggml.merges': { type: 'string[]', value: merges },
    'tokenizer.ggml.bos_token_id': u32(eot),
    'tokenizer.ggml.eos_token_id': u32(eot),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
  };
}

/** HF Conv1D [in, out] row-major -> [out, in] row-major (GGUF dims [in, out]). */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

function gpt2Tensors(w: Gpt2Weights<Matrix>, c: Gpt2Config, type: GgufType): GgufTensor[] {
  const E = c.nEmbd;
  const fp32 = (m: Matrix, name: string): Float32Array => {
    if (isInt8(m)) throw new Error(`${name}: expected fp32 weights`);
    return m;
  };
  if (w.lmHead) throw new Error('expected a tied lm_head (wte)');
  const matrix: GgmlTypeName = type;
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', dims: [E, c.vocabSize], type: matrix, data: fp32(w.wte, 'wte') },
    { name: 'position_embd.weight', dims: [E, c.nPositions], type: 'F32', data: w.wpe.subarray(0, c.nPositions * E) },
  ];
  const vector = (name: string, data: Float32Array): GgufTensor => ({ name, dims: [data.length], type: 'F32', data });
  const linear = (name: string, lin: { weight: Matrix; bias: Float32Array }, inDim: number, outDim: number) => {
    tensors.push(
      { name: `${name}.weight`, dims: [inDim, outDim], type: matrix, data: transpose(fp32(lin.weight, name), inDim, outDim) },
      vector(`${name}.bias`, lin.bias),
    );
  };
  w.h.forEach((b, l) => {
    const p = `blk.${l}.`;
    tensors.push(vector(p + 'attn_norm.weight', b.ln_1.weight), vector(p + 'attn_norm.bias', b.ln_1.bias));
    linear(p + 'attn_qkv', b.attn.c_attn, E, 3 * E);
    linear(p + 'attn_output', b.attn.c_proj, E, E);
    tensors.push(vector(p + 'ffn_norm.weight', b.ln_2.weight), vector(p + 'ffn_norm.bias', b.ln_2.bias));
    linear(p + 'ffn_up', b.mlp.c_fc, E, 4 * E);
    linear(p + 'ffn_down', b.mlp.c_proj, 4 * E, E);
  });
  tensors.push(vector('output_norm.weight', w.ln_f.weight), vector('output_norm.bias', w.ln_f.bias));
  return tensors;
}
