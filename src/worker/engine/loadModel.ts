// Turns a local model folder into a ready decoder + tokenizer. Every failure names the file at fault, and
// nothing is half-loaded: the caller gets a whole model that has just generated (the load probe), or an
// EngineError. Whatever layout the folder has, the engine prefers its own lean graph (src/worker/gpt2), fed
// with the downloaded file's own weights; see graphChoice.ts for how that choice proves itself.
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { Device, Dtype, ModelInfo } from '../../protocol';
import { EngineError, errorMessage } from '../errors';
import { headDim, type Gpt2Config } from '../gpt2/config';
import { weightsFromExport } from '../gpt2/fromExport';
import { gpt2Model } from '../gpt2/graph';
import { GRAPH_PRODUCER } from '../gpt2/onnxBuilder';
import { ENGINE_OUTPUTS, LEAN_OUTPUTS, type Gpt2Decoder } from './decoder';
import { decodeOnnx } from './decodeOnnx';
import { referenceWeightsInFile } from './externalWeights';
import { checkConfigAgainstGraph } from './graphCheck';
import { chooseGraph, type GraphCandidate } from './graphChoice';
import { makeLeanGraph } from './leanGraph';
import { checkModelFile, findGraph, readConfig, readGraphBytes, READ_LIMITS, requireAbsoluteFolder } from './modelFiles';
import type { ProbeTolerance } from './probe';
import { ProbeRecord } from './probeRecord';
import { ShippedGraph } from './shippedGraph';
import { takeTokenRowsFromFile } from './tokenRows';
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
  /** Which graph runs and why the faster ones were not used; said once per load. */
  log?(message: string): void;
  /** Where load-probe references are remembered between loads (probeRecord.ts); without it every load probes the file. */
  probeCacheDir?: string;
}

/** Probe tolerance: fp32 graphs differ by rounding only; quantized ones also by how activations are quantized. */
const TOLERANCE: Record<Dtype, ProbeTolerance> = {
  fp32: { relative: 1e-4, singleTokenStepsOnly: false },
  q8: { relative: 1e-2, singleTokenStepsOnly: true },
  q4: { relative: 1e-2, singleTokenStepsOnly: true },
};

export async function loadModel(request: LoadRequest): Promise<LoadedModel> {
  const { folder, dtype } = request;
  requireAbsoluteFolder(folder);
  const log = request.log ?? (() => undefined);
  const config = await readConfig(folder);
  // Nothing here holds the file's bytes: `shipped` lets go of them while onnxruntime loads (shippedGraph.ts).
  const { file, shipped, candidates } = await openGraph(folder, dtype, config);
  const codec = await loadTokenizerFrom(folder);
  const shape = { nLayer: config.nLayer, nHead: config.nHead, headDim: headDim(config), maxPositions: config.nPositions, vocabSize: config.vocabSize };
  const record = request.probeCacheDir ? ProbeRecord.of(request.probeCacheDir, await shipped.bytes()) : undefined;
  const remembered = await record?.read(config.vocabSize);
  const chosen = await chooseGraph({ file, shipped, candidates, shape, tolerance: TOLERANCE[dtype], device: request.device, threads: request.threads, log, remembered });
  if (chosen.reference !== remembered) await record?.write(chosen.reference);
  log(`${file}: running ${chosen.description}`);
  const info: ModelInfo = {
    name: request.name,
    nLayer: config.nLayer,
    nHead: config.nHead,
    nEmbd: config.nEmbd,
    contextLength: config.nPositions,
    vocabSize: config.vocabSize,
    dtype,
    device: chosen.device,
    fallbackReason: chosen.fallbackReason,
    files: [path.join(folder, 'config.json'), path.join(folder, 'tokenizer.json'), file],
    graph: chosen.description,
  };
  const { session } = chosen; // not `chosen`: it holds the graph's bytes and the probe logits, garbage after the load
  return { decoder: chosen.decoder, codec, info, dispose: () => session.release() };
}

/**
 * The graph to run and what to try: the file as found (its bytes in a ShippedGraph, which candidates decode again
 * when they build), checked against config.json, or a checkpoint converted in memory. Returns nothing that holds
 * the file's bytes (no decoded model, no closure over `source`).
 */
async function openGraph(folder: string, dtype: Dtype, config: Gpt2Config): Promise<{ file: string; shipped: ShippedGraph; candidates: GraphCandidate[] }> {
  const source = await findGraph(folder, dtype);
  const file = source.file;
  if (source.kind === 'checkpoint') {
    const { convertCheckpoint } = await import('./convertCheckpoint'); // a fine-tune without an ONNX export
    const shipped = ShippedGraph.inMemory(file, await convertCheckpoint(file, config, dtype));
    return { file, shipped, candidates: [leanRewrite(shipped, config, `the engine's graph written from ${path.basename(file)}`)] };
  }
  checkConfigAgainstGraph(config, source.model, path.join(folder, 'config.json'), file);
  const shipped = await ShippedGraph.ofFile(file, source.bytes, () => readGraphBytes(file, folder), source.asFile);
  const inFile = source.asFile ? file : undefined; // its weights can be read from the file (externalWeights.ts)
  const own = source.model.producerName === GRAPH_PRODUCER;
  return { file, shipped, candidates: own ? [leanRewrite(shipped, config, "the engine's own graph", true, inFile)] : exportCandidates(shipped, config, inFile) };
}

/**
 * A downloaded export, fastest first: the engine's own graph on the export's weights (one graph for every
 * layout, q8 weights kept as shipped), then the export rewritten to return only the new keys/values.
 */
function exportCandidates(shipped: ShippedGraph, config: Gpt2Config, inFile?: string): GraphCandidate[] {
  const mapped: GraphCandidate = {
    description: "the engine's graph on the file's weights",
    outputs: ENGINE_OUTPUTS,
    build: async () => {
      const bytes = await shipped.bytes();
      const found = weightsFromExport(decodeOnnx(bytes), config);
      mapped.description = `the engine's graph on the file's ${found.dtype} weights`;
      const graph = gpt2Model(found.weights, config, found.dtype);
      weightsInFile(mapped, graph, inFile, bytes);
      return makeLeanGraph(graph).bytes;
    },
  };
  return [mapped, leanRewrite(shipped, config, 'the file rewritten to return only new keys/values', false, inFile)];
}

/** `ownGraph`: the file is the engine's own graph (graph.ts), whose rows can share one past. */
function leanRewrite(shipped: ShippedGraph, config: Gpt2Config, description: string, ownGraph = false, inFile?: string): GraphCandidate {
  const candidate: GraphCandidate = {
    description,
    outputs: LEAN_OUTPUTS(true),
    build: async () => {
      const bytes = await shipped.bytes();
      const graph = decodeOnnx(bytes);
      weightsInFile(candidate, graph, inFile, bytes);
      const lean = makeLeanGraph(graph, { positionTableRows: config.nPositions });
      candidate.outputs = ownGraph && lean.lastLogitsOnly ? ENGINE_OUTPUTS : LEAN_OUTPUTS(lean.lastLogitsOnly);
      return lean.bytes;
    },
  };
  return candidate;
}

/**
 * The graph's matmul weights as references into the model file (externalWeights.ts), and the embedding's rows read
 * from it (tokenRows.ts), unless the candidate must hold them: `file` is the file's path when `bytes`, which the
 * graph's weights are views of, are its own.
 */
function weightsInFile(candidate: GraphCandidate, graph: onnx.IModelProto, file: string | undefined, bytes: Uint8Array): void {
  const inFile = file && !candidate.inlineWeights ? { path: file, bytes } : undefined;
  // First: once the embedding reads its rows from the file, the token table is only the lm_head's weight.
  candidate.tokenTable = inFile && takeTokenRowsFromFile(graph, inFile);
  const referenced = inFile ? referenceWeightsInFile(graph, inFile) : 0;
  candidate.externalDataFolder = referenced > 0 ? path.dirname(file!) : undefined;
}

async function loadTokenizerFrom(folder: string): Promise<TextCodec> {
  const file = path.join(folder, 'tokenizer.json');
  await checkModelFile(file, READ_LIMITS.tokenizer);
  await checkModelFile(path.join(folder, 'tokenizer_config.json'), READ_LIMITS.json).catch((error: EngineError) => {
    if (!error.message.endsWith('missing')) throw error; // optional: transformers.js has defaults
  });
  try {
    return await loadTokenizer(folder);
  } catch (error) {
    throw new EngineError('model-files', `${file}: not a usable tokenizer (${errorMessage(error)})`);
  }
}
