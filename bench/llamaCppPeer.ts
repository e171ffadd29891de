// llama.cpp as a peer in the bench: the GGUF of the bench's weights (written once, next to the model folder) in the
// type that matches the run's dtype, loaded through node-llama-cpp. q8 -> Q8_0 (per 32 values one f16 scale; the
// engine's q8 has per-column scales: both read 1 byte per weight), fp32 -> F32. q4 has no counterpart written
// here, and a platform without node-llama-cpp's prebuilt binary skips the peer: the rest of the bench runs as before.
import type { Dtype } from '../src/protocol';
import { gpt2Gguf, type GgufType } from './gguf/gpt2Gguf';
import type { SystemConfig } from './systems/completionSystem';
import { LlamaCppSystem } from './systems/llamaCppSystem';

export interface LlamaCppInfo {
  file: string; // relative to the repository
  type: GgufType;
  bytes: number;
  /** node-llama-cpp and llama.cpp versions, threads, batch, flash attention. */
  description: string;
  loadMs: number;
}

const GGUF_TYPE: Partial<Record<Dtype, GgufType>> = { q8: 'Q8_0', fp32: 'F32' };

export async function loadLlamaCppPeer(config: SystemConfig, relative: (file: string) => string, log: (line: string) => void): Promise<{ system: LlamaCppSystem; info: LlamaCppInfo } | { skipped: string }> {
  const type = GGUF_TYPE[config.dtype];
  if (!type) return { skipped: `no GGUF type written for --dtype ${config.dtype} (q8 -> Q8_0, fp32 -> F32)` };
  try {
    const gguf = gpt2Gguf(config.folder, type, log);
    const system = await LlamaCppSystem.load(config, gguf.file);
    return { system, info: { file: relative(gguf.file), type, bytes: gguf.bytes, description: system.description, loadMs: system.loadMs } };
  } catch (error) {
    return { skipped: `node-llama-cpp could not run the GGUF: ${error instanceof Error ? error.message : String(error)}` };
  }
}
