// Writes a model folder shaped like a Hugging Face hub repo (Xenova/gpt2 layout), so the same loader
// serves hub downloads, local folders and generated test models.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { END_OF_TEXT } from '../../src/protocol';
import { onnxFileName } from '../../src/worker/onnxFiles';
import { configToHfJson, type Gpt2Config } from '../../src/worker/gpt2/config';
import { buildGpt2Onnx, type Gpt2Dtype } from '../../src/worker/gpt2/graph';
import { weightsToSafetensors } from './safetensorsWriter';
import type { TokenizerFiles } from './tokenizerFiles';
import type { Gpt2Weights } from '../../src/worker/gpt2/weights';


export interface ModelFolderContents {
  config: Gpt2Config;
  weights: Gpt2Weights;
  dtypes: Gpt2Dtype[];
  tokenizerFiles: TokenizerFiles;
  /** Also write model.safetensors (for exercising the convert-at-load path). */
  safetensors?: boolean;
}

export interface WrittenFile {
  file: string; // relative to the folder, '/' separated
  bytes: number;
  ms: number; // time to build and write it
}

/**
 * Writes to a temp name in the same folder, then renames: a reader, or a build killed half way,
 * sees either the old complete file or the new complete file, never a prefix.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeModelFolder(dir: string, m: ModelFolderContents): WrittenFile[] {
  const written: WrittenFile[] = [];
  const put = (file: string, make: () => string | Uint8Array) => {
    const t0 = performance.now();
    const data = make();
    writeFileAtomic(path.join(dir, file), data);
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    written.push({ file, bytes, ms: Math.round(performance.now() - t0) });
  };
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  put('config.json', () => json(configToHfJson(m.config)));
  put('generation_config.json', () => json({ bos_token_id: END_OF_TEXT, eos_token_id: END_OF_TEXT }));
  put('tokenizer.json', () => m.tokenizerFiles['tokenizer.json']);
  put('tokenizer_config.json', () => m.tokenizerFiles['tokenizer_config.json']);
  for (const dtype of m.dtypes) put(onnxFileName(dtype), () => buildGpt2Onnx(m.weights, m.config, dtype));
  if (m.safetensors) put('model.safetensors', () => weightsToSafetensors(m.weights, m.config));
  return written;
}
