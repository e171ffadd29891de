// Creates the ONNX Runtime session on the requested device. onnxruntime throws, rather than falls back,
// when an execution provider is missing, so `gpu` is tried first and CPU is used with the reason logged.
import * as os from 'node:os';
import { env, InferenceSession } from 'onnxruntime-node';
import type { Device } from '../../protocol';

export interface CreatedSession {
  session: InferenceSession;
  device: Device;
  fallbackReason?: string;
}

/** The GPU execution provider that onnxruntime-node can have on this platform. */
export function gpuExecutionProvider(platform: NodeJS.Platform = process.platform): string | undefined {
  return ({ linux: 'cuda', win32: 'dml', darwin: 'coreml' } as Partial<Record<NodeJS.Platform, string>>)[platform];
}

/** Half the cores, at most 4: the editor and the language servers need the rest. */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

export async function createSession(model: Uint8Array, device: Device, threads: number): Promise<CreatedSession> {
  // ONNX Runtime prints a missing provider library to stderr itself; the fallback reason below says it better.
  env.logLevel = 'fatal';
  const options = (executionProviders: string[]): InferenceSession.SessionOptions => ({
    executionProviders,
    intraOpNumThreads: threads > 0 ? threads : defaultThreads(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  if (device === 'gpu') {
    const provider = gpuExecutionProvider();
    if (!provider) return { session: await InferenceSession.create(model, options(['cpu'])), device: 'cpu', fallbackReason: `no GPU execution provider for ${process.platform}` };
    try {
      return { session: await InferenceSession.create(model, options([provider])), device: 'gpu' };
    } catch (error) {
      const reason = `${provider} execution provider unavailable: ${firstLine(error)}`;
      return { session: await InferenceSession.create(model, options(['cpu'])), device: 'cpu', fallbackReason: reason };
    }
  }
  return { session: await InferenceSession.create(model, options(['cpu'])), device: 'cpu' };
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
