// The graph as shipped, held only while something needs its bytes. A load reads the model file to check it, hash it
// and build the candidate graphs from it; once a candidate is built (its matmul weights read from the file by
// onnxruntime, externalWeights.ts), nothing needs the file's bytes while onnxruntime loads it, and holding them
// then cost the weights' size once more at the load's peak. Released bytes are read again when something needs
// them later (the probe of the file as shipped, a fallback), and only from the file that was read first.
import * as fs from 'node:fs/promises';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { EngineError } from '../errors';
import { decodeOnnx } from './decodeOnnx';
import { referenceWeightsInFile } from './externalWeights';

export class ShippedGraph {
  private held: Uint8Array | undefined;

  private constructor(
    readonly file: string,
    bytes: Uint8Array,
    /** Reads the bytes again after release(); absent: they exist nowhere else and are never released. */
    private readonly again?: () => Promise<Uint8Array>,
    /** The bytes are the file's own (no external data moved in), so its weights can be read from it. */
    private readonly asFile = false,
  ) {
    this.held = bytes;
  }

  /** Bytes that exist only here (a checkpoint converted in memory): held for the whole load. */
  static inMemory(file: string, bytes: Uint8Array): ShippedGraph {
    return new ShippedGraph(file, bytes);
  }

  /**
   * The model file's bytes as just read; `read` reads them again, refused when the file has changed since.
   * `asFile`: they are the file's own bytes (no external data was moved in).
   */
  static async ofFile(file: string, bytes: Uint8Array, read: () => Promise<Uint8Array>, asFile: boolean): Promise<ShippedGraph> {
    const first = await fingerprint(file);
    const again = async () => {
      if ((await fingerprint(file)) !== first) throw new EngineError('model-files', `${file}: the file changed while the model was loading; load it again`);
      return read();
    };
    return new ShippedGraph(file, bytes, again, asFile);
  }

  /**
   * The graph as shipped with its matmul-only weights read from the file (externalWeights.ts): the same
   * computation, without a copy of those weights in the bytes; undefined when none can be. For a short-lived
   * session (the load probe): weights that If branches read may stay mapped while it lives.
   */
  async withWeightsInFile(): Promise<{ bytes: Uint8Array; externalDataFolder: string } | undefined> {
    if (!this.asFile) return undefined;
    const bytes = await this.bytes();
    const model = decodeOnnx(bytes);
    // For the load probe only (a session released right after it): weights inside If branches too.
    if (referenceWeightsInFile(model, { path: this.file, bytes }, undefined, true) === 0) return undefined;
    return { bytes: onnx.ModelProto.encode(model).finish(), externalDataFolder: path.dirname(this.file) };
  }

  async bytes(): Promise<Uint8Array> {
    return (this.held ??= await this.again!());
  }

  /** Lets go of bytes that can be read again; true when it did. */
  release(): boolean {
    if (!this.again || !this.held) return false;
    this.held = undefined;
    return true;
  }
}

async function fingerprint(file: string): Promise<string> {
  return fingerprintOf(await fs.stat(file));
}

/** Which file this is and whether it changed: the same name with another inode, size or mtime is another file. */
export function fingerprintOf(s: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
}

let gc: (() => void) | null | undefined;

/**
 * A full garbage collection of this thread's heap, so that bytes just let go of are gone before onnxruntime
 * allocates (V8 does not know about native allocations and would collect them only later). Best effort: where
 * the flag cannot be set, nothing happens.
 */
export function collectGarbageNow(): void {
  try {
    if (gc === undefined) {
      gc = (globalThis as { gc?: () => void }).gc ?? null;
      if (!gc) {
        v8.setFlagsFromString('--expose-gc');
        gc = (vm.runInNewContext('gc') as (() => void) | undefined) ?? null;
      }
    }
    gc?.();
  } catch {
    gc = null;
  }
}
