// Picks what runs: the fastest graph, then the fastest device, that proves itself on the load probe against the
// model as shipped on the CPU. An optimisation never fails a request: a faster graph that cannot be built, will
// not load or computes something else is logged with the reason and the next one is tried; the last resort is
// the file exactly as shipped, which must itself get through the probe, or the load fails.
import type { InferenceSession } from 'onnxruntime-node';
import type { Device } from '../../protocol';
import { EngineError, errorMessage } from '../errors';
import { AS_SHIPPED, Gpt2Decoder, type DecoderShape, type GraphOutputs } from './decoder';
import { probeLogits, probeMismatch, type ProbeTolerance } from './probe';
import { createSession, firstLine, gpuProviders, missingPrerequisite, providerStatus } from './session';
import { collectGarbageNow, ShippedGraph } from './shippedGraph';
import type { TokenTableInFile } from './tokenRows';

export interface GraphCandidate {
  /** Said in the log and in ModelInfo.graph, e.g. "the engine's graph on the export's q8 weights". */
  description: string;
  /** Builds the graph; throws when it cannot (e.g. the weights cannot be mapped). */
  build(): Uint8Array | Promise<Uint8Array>;
  outputs: GraphOutputs;
  /**
   * Set by build() when the graph's weights are references into the model file (externalWeights.ts): the file's
   * folder. Should onnxruntime refuse such a graph, build() runs again with `inlineWeights` set.
   */
  externalDataFolder?: string;
  inlineWeights?: boolean;
  /** Set by build() when the graph takes the embedding's rows as an input (tokenRows.ts): where to read them. */
  tokenTable?: TokenTableInFile;
}

export interface GraphChoiceRequest {
  file: string; // the model file, for messages
  shipped: Uint8Array | ShippedGraph; // the graph as shipped: the reference, and the last resort
  candidates: GraphCandidate[]; // fastest first
  shape: DecoderShape;
  tolerance: ProbeTolerance;
  device: Device;
  threads: number;
  log(message: string): void;
  /** The shipped file's probe logits from an earlier load of the same bytes (probeRecord.ts), if any. */
  remembered?: Float32Array[];
}

export interface ChosenGraph {
  /** The probe logits of the file as shipped that the choice was checked against. */
  reference: Float32Array[];
  decoder: Gpt2Decoder;
  session: InferenceSession;
  description: string;
  device: Device;
  fallbackReason?: string;
}

export async function chooseGraph(request: GraphChoiceRequest): Promise<ChosenGraph> {
  if (request.remembered) {
    const chosen = await chooseAgainst(request.remembered, request, false);
    if (chosen) {
      request.log(`${request.file}: checked against the probe of the file remembered from an earlier load`);
      return chosen;
    }
    // A remembered reference that no graph matches may be stale or damaged: probe the file itself once more.
    request.log(`${request.file}: no graph matched the remembered probe; probing the file as shipped again`);
  }
  return (await chooseAgainst(await probeShipped(request), request, true))!;
}

/** The probe logits of the file as shipped, on the CPU; its session is released before any other loads. */
async function probeShipped(request: GraphChoiceRequest): Promise<Float32Array[]> {
  const { file, shape, threads } = request;
  const loaded = await loadShippedWithWeightsInFile(request).catch((error: unknown) => {
    request.log(`${file}: the file as shipped with its weights read from the file: ONNX Runtime refused it (${firstLine(error)}); loading it with the weights inside the graph`);
    return undefined;
  }) ?? await shippedBytes(request).then((bytes) => loadOnCpu(bytes, AS_SHIPPED, shape, threads)).catch((error) => {
    throw new EngineError('model-files', `${file}: ONNX Runtime could not load it (${firstLine(error)})`);
  });
  return probeLogits(loaded.decoder)
    .catch((error) => {
      throw new EngineError('model-files', `${file}: the model loads but cannot generate (${firstLine(error)})`);
    })
    .finally(() => loaded.session.release());
}

/** The first candidate that matches `want`; else the file as shipped, or undefined when `shippedAsLastResort` is off. */
async function chooseAgainst(want: Float32Array[], request: GraphChoiceRequest, shippedAsLastResort: boolean): Promise<ChosenGraph | undefined> {
  const { file, shape, threads, log } = request;
  let chosen: (ChosenGraph & { bytes: Uint8Array; externalDataFolder?: string }) | undefined;
  for (const candidate of request.candidates) {
    const tried = await tryCandidate(candidate, want, request);
    if (typeof tried !== 'string') {
      chosen = { ...tried, reference: want, description: candidate.description, device: 'cpu' };
      break;
    }
    log(`${file}: not using ${candidate.description}: ${tried}`);
  }
  if (!chosen && !shippedAsLastResort) return undefined;
  if (!chosen) {
    log(`${file}: running the file as shipped (slower: the whole KV cache crosses into JavaScript every step)`);
    const bytes = await shippedBytes(request);
    chosen = { ...(await loadOnCpu(bytes, AS_SHIPPED, shape, threads)), reference: want, bytes, description: 'the file as shipped', device: 'cpu' };
  }
  return request.device === 'gpu' ? onGpu(chosen, want, request) : chosen;
}

/** The probe's session on the file as shipped, its matmul weights read from the file; undefined when it has none such. */
async function loadShippedWithWeightsInFile(request: GraphChoiceRequest) {
  if (!(request.shipped instanceof ShippedGraph)) return undefined;
  const graph = await request.shipped.withWeightsInFile();
  if (!graph) return undefined;
  if (request.shipped.release()) collectGarbageNow();
  return loadOnCpu(graph.bytes, AS_SHIPPED, request.shape, request.threads, graph.externalDataFolder);
}

async function shippedBytes({ shipped }: GraphChoiceRequest): Promise<Uint8Array> {
  return shipped instanceof ShippedGraph ? shipped.bytes() : shipped;
}

async function loadOnCpu(bytes: Uint8Array, outputs: GraphOutputs, shape: DecoderShape, threads: number, externalDataFolder?: string, tokenTable?: TokenTableInFile) {
  const session = await createSession(bytes, 'cpu', threads, externalDataFolder);
  try {
    return { session, decoder: new Gpt2Decoder(session, shape, outputs, tokenTable) };
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** The candidate's session and decoder, or why it was refused. */
async function tryCandidate(candidate: GraphCandidate, want: Float32Array[], request: GraphChoiceRequest) {
  let bytes: Uint8Array;
  try {
    bytes = await candidate.build();
  } catch (error) {
    return `it cannot be built (${errorMessage(error)})`;
  }
  // The file's bytes are read again should anything still need them; onnxruntime loads without them in memory.
  if (request.shipped instanceof ShippedGraph && request.shipped.release()) collectGarbageNow();
  let loaded = await loadOnCpu(bytes, candidate.outputs, request.shape, request.threads, candidate.externalDataFolder, candidate.tokenTable).catch((error: unknown) => `ONNX Runtime refused it (${firstLine(error)})`);
  if (typeof loaded === 'string' && candidate.externalDataFolder) {
    // The same graph with its weights inside it, as every graph was loaded before externalWeights.ts.
    request.log(`${request.file}: ${candidate.description} with its weights read from the file: ${loaded}; loading it with the weights inside the graph`);
    candidate.inlineWeights = true;
    candidate.externalDataFolder = undefined;
    try {
      bytes = await candidate.build();
    } catch (error) {
      return `it cannot be built (${errorMessage(error)})`;
    }
    if (request.shipped instanceof ShippedGraph && request.shipped.release()) collectGarbageNow();
    loaded = await loadOnCpu(bytes, candidate.outputs, request.shape, request.threads, undefined, candidate.tokenTable).catch((error: unknown) => `ONNX Runtime refused it (${firstLine(error)})`);
  }
  if (typeof loaded === 'string') return loaded;
  const why = await probeLogits(loaded.decoder).then(
    (got) => probeMismatch(got, want, request.tolerance),
    (error: unknown) => `the probe failed (${firstLine(error)})`,
  );
  if (why === undefined) return { ...loaded, bytes, externalDataFolder: candidate.externalDataFolder };
  await loaded.session.release();
  return why;
}

/** The chosen graph on the first GPU provider whose probe matches the CPU's logits; else the CPU session, with the reasons. */
async function onGpu(cpu: ChosenGraph & { bytes: Uint8Array; externalDataFolder?: string }, want: Float32Array[], request: GraphChoiceRequest): Promise<ChosenGraph> {
  const refused: string[] = [];
  for (const provider of gpuProviders()) {
    const why = await tryProvider(provider, cpu, want, request);
    if (typeof why !== 'string') {
      request.log(`running on the GPU through ${provider}${refused.length ? ` (${refused.join('; ')})` : ''}`);
      await cpu.session.release();
      return { ...why, reference: want, description: cpu.description, device: 'gpu' };
    }
    refused.push(`${provider}: ${why}`);
  }
  return { ...cpu, fallbackReason: refused.join('; ') };
}

async function tryProvider(provider: string, cpu: ChosenGraph & { bytes: Uint8Array; externalDataFolder?: string }, want: Float32Array[], request: GraphChoiceRequest) {
  if (providerStatus(provider) === 'unknown') return 'this build of onnxruntime-node does not know it';
  const missing = missingPrerequisite(provider);
  if (missing) return missing;
  let session: InferenceSession;
  try {
    session = await createSession(cpu.bytes, provider, request.threads, cpu.externalDataFolder);
  } catch (error) {
    const missing = providerStatus(provider) === 'not bundled' ? ' (not bundled with onnxruntime-node; its libraries must be installed)' : '';
    return `unavailable${missing}: ${firstLine(error)}`;
  }
  const decoder = new Gpt2Decoder(session, request.shape, cpu.decoder.graphOutputs, cpu.decoder.tokenTable);
  const why = await probeLogits(decoder).then(
    (got) => probeMismatch(got, want, request.tolerance),
    (error: unknown) => `the probe failed (${firstLine(error)})`,
  );
  if (why === undefined) return { session, decoder };
  await session.release();
  return `its logits do not match the CPU's (${why})`;
}
