// ONNX Runtime sessions on a named execution provider. onnxruntime throws, rather than falls back, when a
// provider is missing, so the loader tries the GPU providers in order (gpuProviders) and keeps the CPU session
// when none of them proves itself on the load probe.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { env, InferenceSession, listSupportedBackends } from 'onnxruntime-node';

/**
 * GPU providers to try, in order: WebGPU first, because onnxruntime-node bundles it on every platform it ships
 * (Dawn on Vulkan, Metal or D3D12), then the platform's own, which works where its libraries are installed
 * (CUDA 12 on Linux, which onnxruntime-node only downloads at install time) or bundled (DirectML, CoreML).
 */
export function gpuProviders(platform: NodeJS.Platform = process.platform): string[] {
  const own = ({ linux: 'cuda', win32: 'dml', darwin: 'coreml' } as Partial<Record<NodeJS.Platform, string>>)[platform];
  return ['webgpu', ...(own ? [own] : [])];
}

/** Whether this build of onnxruntime-node carries a provider ('webgpu' on linux-x64 does; 'cuda' does not). */
export function providerStatus(provider: string): 'bundled' | 'not bundled' | 'unknown' {
  const entry = listSupportedBackends().find((b) => b.name === provider);
  return entry ? (entry.bundled ? 'bundled' : 'not bundled') : 'unknown';
}

const VULKAN_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/**
 * Why a provider cannot work on this machine, known without trying it, or undefined. WebGPU on Linux runs on
 * Vulkan: without a Vulkan loader, Dawn prints a warning to the process's stderr on every attempt and fails.
 */
export function missingPrerequisite(provider: string, platform: NodeJS.Platform = process.platform, env = process.env): string | undefined {
  if (provider !== 'webgpu' || platform !== 'linux') return undefined;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...VULKAN_DIRS];
  return dirs.some((dir) => fs.existsSync(path.join(dir, 'libvulkan.so.1'))) ? undefined : 'no Vulkan loader (libvulkan.so.1) on this system';
}

/** Half the cores, at most 4: the editor and the language servers need the rest. */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

/** `externalDataFolder`: where the graph's external-data references (externalWeights.ts) are resolved from. */
export async function createSession(model: Uint8Array, provider: string, threads: number, externalDataFolder?: string): Promise<InferenceSession> {
  // ONNX Runtime prints a missing provider library to stderr itself; the loader's log line says it better.
  env.logLevel = 'fatal';
  return InferenceSession.create(model, {
    executionProviders: [provider],
    intraOpNumThreads: threads > 0 ? threads : defaultThreads(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
    ...(externalDataFolder ? { extra: { session: { model_external_initializers_file_folder_path: externalDataFolder } } } : {}),
  });
}

export function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
