// The bench's model in the layout a hub download has: the same weights, rewritten into an Optimum merged
// decoder (If on use_cache_branch, no position_ids; test/support/optimumMergedLayout.ts) and written as a
// model folder of its own next to the bench's model, so the engine loads it through loadModel exactly as it
// loads a download. Genuine 124M exports cannot be fetched here; this is the closest file with known weights.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { Dtype } from '../src/protocol';
import { BASE_FILES, onnxFileName } from '../src/worker/onnxFiles';
import { toOptimumMergedLayout } from '../test/support/optimumMergedLayout';

/** What this project writes as producerName (src/worker/gpt2/graph.ts): the loader runs such files as its own graph. */
const OWN_PRODUCER = 'local-gpt2';

/**
 * The producer names the hub's files carry (Optimum's export; onnxruntime's quantizer for the quantized
 * ones, see test/fixtures/hf-export). Kept from the source, the project's name would make the loader take
 * the copy for one of its own graphs and never try the mapping a download goes through.
 */
const HUB_PRODUCER: Record<Dtype, string> = { fp32: 'optimum-onnx', q8: 'onnx.quantize', q4: 'onnx.quantize' };

export interface HubLayoutModel {
  folder: string;
  file: string; // the ONNX file, absolute
  producerName: string;
  /** False when this run wrote the copy; true when an earlier run's copy of the same source file was reused. */
  reused: boolean;
}

/** Undefined when `folder`'s file for `dtype` is not one of the project's own graphs (nothing to rewrite). */
export async function hubLayoutModel(folder: string, dtype: Dtype, log: (line: string) => void): Promise<HubLayoutModel | undefined> {
  const name = onnxFileName(dtype);
  const source = path.join(folder, name);
  const target = `${folder.replace(/[\\/]+$/, '')}-optimum-merged`;
  const file = path.join(target, name);
  const producerName = HUB_PRODUCER[dtype];
  const stat = fs.statSync(source);
  // Rewritten when the source changes (make-model rebuilt it) or this file's rules change.
  const stamp = JSON.stringify({ source: path.basename(folder), name, size: stat.size, mtimeMs: stat.mtimeMs, producerName, version: 1 });
  const stampFile = path.join(target, `.hub-layout-${dtype}.json`);
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return { folder: target, file, producerName, reused: true };

  const bytes = fs.readFileSync(source);
  if (onnx.ModelProto.decode(bytes).producerName !== OWN_PRODUCER) return undefined; // a download already: not ours to rewrite
  log(`  writing ${path.relative(process.cwd(), file)} (Optimum merged layout)`);
  const merged = onnx.ModelProto.decode(toOptimumMergedLayout(bytes));
  merged.producerName = producerName;
  merged.producerVersion = '';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const base of [...BASE_FILES, 'generation_config.json']) {
    if (fs.existsSync(path.join(folder, base))) fs.copyFileSync(path.join(folder, base), path.join(target, base));
  }
  fs.rmSync(stampFile, { force: true });
  fs.writeFileSync(file, onnx.ModelProto.encode(merged).finish());
  fs.writeFileSync(stampFile, stamp);
  return { folder: target, file, producerName, reused: false };
}
