// Reads a model folder's files for the loader. Every read is of a plain file of bounded size (a config.json that
// is a FIFO or /dev/zero would otherwise block or fill memory), every failure names the file, and an ONNX graph's
// external data must be a plain file inside the folder: onnxruntime would otherwise read it from wherever the
// reference points, relative to the process's working directory, since the engine hands it bytes, not a path.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeOnnx } from './decodeOnnx';
import type { Dtype } from '../../protocol';
import { EngineError, errorMessage } from '../errors';
import { configFromHfJson, type Gpt2Config } from '../gpt2/config';
import { onnxCandidates } from '../onnxFiles';

const MiB = 1024 * 1024;
/** Sizes far above any real file of its kind: a config is ~1 KB, GPT-2's tokenizer.json ~2-4 MB. */
export const READ_LIMITS = { json: 16 * MiB, tokenizer: 64 * MiB, onnx: 2048 * MiB - 1 } as const;

/** Where the network comes from: an ONNX graph (its bytes decoded once), or a checkpoint to write one from. */
export type GraphSource =
  | {
      kind: 'onnx';
      file: string;
      model: onnx.ModelProto;
      bytes: Uint8Array; // the graph as shipped, external data included
      /** `bytes` are the file's own (no external data was moved in): its weights can be referenced in the file (externalWeights.ts). */
      asFile: boolean;
    }
  | { kind: 'checkpoint'; file: string };

/**
 * A model folder given as a relative path resolves against the extension host's working folder, which nobody chose
 * (and transformers.js takes some relative paths for hub ids): refused by name, before anything looks for it.
 */
export function requireAbsoluteFolder(folder: string): void {
  if (!path.isAbsolute(folder)) throw new EngineError('model-files', `${folder}: not an absolute path; give the model folder's full path`);
}

export async function readConfig(folder: string): Promise<Gpt2Config> {
  const file = path.join(folder, 'config.json');
  const text = await readModelFile(file, READ_LIMITS.json);
  try {
    return configFromHfJson(JSON.parse(text.toString('utf8')));
  } catch (error) {
    throw new EngineError('model-files', `${file}: ${errorMessage(error)}`);
  }
}

/** The ONNX export for `dtype` in any layout users download, else a checkpoint; the error lists what is there. */
export async function findGraph(folder: string, dtype: Dtype): Promise<GraphSource> {
  for (const name of onnxCandidates(dtype)) {
    const file = path.join(folder, name);
    if (await exists(file)) return { kind: 'onnx', file, ...(await readOnnx(file, folder)) };
  }
  const checkpoint = path.join(folder, 'model.safetensors');
  if (await exists(checkpoint)) return { kind: 'checkpoint', file: checkpoint };
  const present = await fs.readdir(path.join(folder, 'onnx')).catch(() => []);
  const found = present.length > 0 ? `; onnx/ has ${present.join(', ')}` : '';
  throw new EngineError('model-files', `${folder}: no ${dtype} model (looked for ${onnxCandidates(dtype).join(', ')}, model.safetensors)${found}`);
}

/** The graph's bytes read again, as findGraph read them (external data moved in). */
export async function readGraphBytes(file: string, folder: string): Promise<Uint8Array> {
  return (await readOnnx(file, folder)).bytes;
}

async function readOnnx(file: string, folder: string): Promise<{ model: onnx.ModelProto; bytes: Uint8Array; asFile: boolean }> {
  const bytes = await readModelFile(file, READ_LIMITS.onnx);
  if (bytes.length === 0) throw new EngineError('model-files', `${file}: the file is empty (0 bytes)`);
  let model: onnx.ModelProto;
  try {
    model = decodeOnnx(bytes);
  } catch (error) {
    throw new EngineError('model-files', `${file}: not a usable GPT-2 ONNX model (${errorMessage(error)})`);
  }
  const inlined = await inlineExternalData(model, file, folder);
  return { model, bytes: inlined ? onnx.ModelProto.encode(model).finish() : bytes, asFile: !inlined };
}

/**
 * Large exports keep their weights in a side file (`model.onnx_data`). Their references are checked (a plain
 * file, inside the model folder, the range inside the file) and the bytes moved into the graph, so that what
 * runs depends on nothing but the folder.
 */
async function inlineExternalData(model: onnx.ModelProto, file: string, folder: string): Promise<boolean> {
  const external = tensorsOf(model.graph!).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  let total = 0;
  for (const tensor of external) {
    const entry = Object.fromEntries((tensor.externalData ?? []).map((e) => [e.key, e.value]));
    const where = await externalDataFile(String(entry.location ?? ''), file, folder, tensor.name!);
    const offset = Number(entry.offset ?? 0), length = Number(entry.length ?? NaN);
    const size = (await fs.stat(where)).size;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new EngineError('model-files', `${file}: tensor ${tensor.name} points past the end of ${where} (offset ${entry.offset}, length ${entry.length}, file ${size} bytes)`);
    }
    total += length;
    if (total > READ_LIMITS.onnx) throw new EngineError('model-files', `${file}: its weights are over 2 GB, more than this engine loads; choose the q8 or q4 dtype`);
    const handle = await fs.open(where, 'r');
    try {
      tensor.rawData = new Uint8Array(length);
      await handle.read(tensor.rawData, 0, length, offset);
    } finally {
      await handle.close();
    }
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
  }
  return external.length > 0;
}

async function externalDataFile(location: string, file: string, folder: string, tensor: string): Promise<string> {
  const refuse = (why: string) => new EngineError('model-files', `${file}: tensor ${tensor} refers to external data "${location}", ${why}; refusing to load it`);
  if (!location || path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) throw refuse('which is not a file name inside the model folder');
  const where = path.resolve(path.dirname(file), location);
  const stat = await fs.lstat(where).catch(() => undefined);
  if (!stat?.isFile()) throw refuse(stat ? 'which is not a plain file' : 'which does not exist');
  const [realFolder, realFile] = await Promise.all([fs.realpath(folder), fs.realpath(where)]);
  if (!realFile.startsWith(realFolder + path.sep)) throw refuse('which is outside the model folder');
  return where;
}

function tensorsOf(graph: onnx.IGraphProto): onnx.ITensorProto[] {
  const inNodes = (graph.node ?? []).flatMap((n) =>
    (n.attribute ?? []).flatMap((a) => [...(a.t ? [a.t] : []), ...[a.g, ...(a.graphs ?? [])].flatMap((g) => (g ? tensorsOf(g) : []))]),
  );
  return [...(graph.initializer ?? []), ...inNodes];
}

/** A plain file of at most `limit` bytes; anything else is refused before a byte is read. */
export async function readModelFile(file: string, limit: number): Promise<Buffer> {
  await checkModelFile(file, limit);
  try {
    return await fs.readFile(file);
  } catch (error) {
    throw new EngineError('model-files', `${file}: ${whyUnreadable(error)}`);
  }
}

export async function checkModelFile(file: string, limit: number): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
    await fs.access(file, fs.constants.R_OK);
  } catch (error) {
    throw new EngineError('model-files', `${file}: ${whyUnreadable(error)}`);
  }
  if (stat.isDirectory()) throw new EngineError('model-files', `${file}: is a folder, not a file`);
  if (!stat.isFile()) throw new EngineError('model-files', `${file}: is not a regular file (a pipe or device?)`);
  if (stat.size > limit) throw new EngineError('model-files', `${file}: ${stat.size} bytes is more than a model file of this kind can be (${limit} bytes)`);
}

function whyUnreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'missing' : code === 'EACCES' ? 'not readable (permission denied)' : code === 'EISDIR' ? 'is a folder, not a file' : errorMessage(error);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
