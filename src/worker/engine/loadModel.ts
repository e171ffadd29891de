// Turns a local model folder into a ready decoder + tokenizer. Every failure names the file at fault,
// and nothing is half-loaded: the caller gets a whole model or an EngineError.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Device, Dtype, ModelInfo } from '../../protocol';
import { EngineError, errorMessage } from '../errors';
import { configFromHfJson, headDim, type Gpt2Config } from '../gpt2/config';
import { onnxFileName } from '../onnxFiles';
import { Gpt2Decoder } from './decoder';
import { makeLeanGraph } from './leanGraph';
import { createSession } from './session';
import { loadTokenizer, type TextCodec } from './tokenizer';

export interface LoadedModel {
  decoder: Gpt2Decoder;
  codec: TextCodec;
  info: ModelInfo;
  dispose(): Promise<void>;
}

export interface LoadRequest {
  folder: string;
  name: string;
  dtype: Dtype;
  device: Device;
  threads: number;
}

export async function loadModel(request: LoadRequest): Promise<LoadedModel> {
  const { folder, dtype } = request;
  const config = await readConfig(folder);
  const onnxBytes = await readOnnx(folder, dtype, config);
  const codec = await loadTokenizerFrom(folder);
  let lean;
  try {
    lean = makeLeanGraph(onnxBytes.bytes, { positionTableRows: config.nPositions });
  } catch (error) {
    throw new EngineError('model-files', `${onnxBytes.file}: not a usable GPT-2 ONNX model (${errorMessage(error)})`);
  }
  let created;
  try {
    created = await createSession(lean.bytes, request.device, request.threads);
  } catch (error) {
    throw new EngineError('model-files', `${onnxBytes.file}: ONNX Runtime could not load it (${errorMessage(error)})`);
  }
  let decoder;
  try {
    const shape = { nLayer: config.nLayer, nHead: config.nHead, headDim: headDim(config), maxPositions: config.nPositions, vocabSize: config.vocabSize };
    decoder = new Gpt2Decoder(created.session, shape, lean.lastLogitsOnly);
  } catch (error) {
    await created.session.release();
    throw new EngineError('model-files', `${onnxBytes.file}: not a usable GPT-2 ONNX model (${errorMessage(error)})`);
  }
  const info: ModelInfo = {
    name: request.name,
    nLayer: config.nLayer,
    nHead: config.nHead,
    nEmbd: config.nEmbd,
    contextLength: config.nPositions,
    vocabSize: config.vocabSize,
    dtype,
    device: created.device,
    fallbackReason: created.fallbackReason,
    files: [path.join(folder, 'config.json'), path.join(folder, 'tokenizer.json'), onnxBytes.file],
  };
  return { decoder, codec, info, dispose: () => created.session.release() };
}

async function readConfig(folder: string): Promise<Gpt2Config> {
  const file = path.join(folder, 'config.json');
  const text = await readFileOrExplain(file);
  try {
    return configFromHfJson(JSON.parse(text.toString('utf8')));
  } catch (error) {
    throw new EngineError('model-files', `${file}: ${errorMessage(error)}`);
  }
}

async function readOnnx(folder: string, dtype: Dtype, config: Gpt2Config): Promise<{ file: string; bytes: Uint8Array }> {
  const file = path.join(folder, onnxFileName(dtype));
  const safetensors = path.join(folder, 'model.safetensors');
  if (!(await exists(file)) && (await exists(safetensors))) {
    // A GPT-2 fine-tune without an ONNX export: write the graph from its checkpoint.
    const { convertCheckpoint } = await import('./convertCheckpoint');
    return { file: safetensors, bytes: await convertCheckpoint(safetensors, config, dtype) };
  }
  const bytes = await readFileOrExplain(file);
  if (bytes.length === 0) throw new EngineError('model-files', `${file}: the file is empty (0 bytes)`);
  return { file, bytes };
}

async function loadTokenizerFrom(folder: string): Promise<TextCodec> {
  const file = path.join(folder, 'tokenizer.json');
  await readFileOrExplain(file, false);
  try {
    return await loadTokenizer(folder);
  } catch (error) {
    throw new EngineError('model-files', `${file}: not a usable tokenizer (${errorMessage(error)})`);
  }
}

async function readFileOrExplain(file: string, read = true): Promise<Buffer> {
  try {
    return read ? await fs.readFile(file) : (await fs.access(file, fs.constants.R_OK), Buffer.alloc(0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'missing' : code === 'EACCES' ? 'not readable (permission denied)' : code === 'EISDIR' ? 'is a folder, not a file' : errorMessage(error);
    throw new EngineError('model-files', `${file}: ${why}`);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
