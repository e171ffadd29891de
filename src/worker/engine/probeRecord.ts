// The load probe's reference (the file as shipped, run on the CPU) remembered per file content, so that a later
// load of the same file checks its faster graph against it without loading the file as shipped a second time
// (that session costs as much as the model's own load). Keyed by the sha256 of the graph's bytes and of what
// decides the reference (the probe, onnxruntime's version): a changed file or engine gets a fresh probe.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { env } from 'onnxruntime-node';
import { PROBE_STEPS } from './probe';

/** Bump when the way the engine feeds a graph as shipped changes (positions, masks, past layout). */
const PROBE_FORMAT = 1;
const ORT_VERSION = `${env.versions.node ?? ''}/${env.versions.common}`; // (not its package.json: the VSIX's bundles may load only the package itself)

export class ProbeRecord {
  private constructor(private readonly file: string) {}

  static of(dir: string, graph: Uint8Array): ProbeRecord {
    const key = createHash('sha256').update(`${PROBE_FORMAT} ${ORT_VERSION} ${JSON.stringify(PROBE_STEPS)}\n`).update(graph).digest('hex');
    return new ProbeRecord(path.join(dir, 'load-probes', `${key}.f32`));
  }

  /** The remembered logits, one array per probe step, or undefined (none, or not of this vocabulary's size). */
  async read(vocabSize: number): Promise<Float32Array[] | undefined> {
    const bytes = await fs.readFile(this.file).catch(() => undefined);
    if (!bytes || bytes.byteLength !== PROBE_STEPS.length * vocabSize * 4) return undefined;
    const all = new Float32Array(new Uint8Array(bytes).buffer);
    return PROBE_STEPS.map((_, step) => all.subarray(step * vocabSize, (step + 1) * vocabSize));
  }

  /** Written atomically; a cache that cannot be written only costs the next load its shortcut. */
  async write(logits: Float32Array[]): Promise<void> {
    const all = new Float32Array(logits.reduce((n, l) => n + l.length, 0));
    logits.reduce((offset, l) => (all.set(l, offset), offset + l.length), 0);
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await fs.writeFile(tmp, new Uint8Array(all.buffer));
      await fs.rename(tmp, this.file);
    } catch {
      await fs.rm(tmp, { force: true });
    }
  }
}
