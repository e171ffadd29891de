// The genuine Hugging Face exports in test/fixtures/hf-export, assembled into complete model folders,
// and their reference outputs (PyTorch and onnxruntime-python).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Dtype } from '../../src/protocol';

export const FIXTURES = path.resolve(__dirname, '../fixtures/hf-export');

export type ExportLayout = 'xenova-layout' | 'xenova-layout-nopos' | 'onnx-community-layout' | 'checkpoint';
export const EXPORT_LAYOUTS: ExportLayout[] = ['xenova-layout', 'xenova-layout-nopos', 'onnx-community-layout', 'checkpoint'];

const ONNX_FILE: Record<Exclude<ExportLayout, 'checkpoint'>, Record<'fp32' | 'q8', string>> = {
  'xenova-layout': { fp32: 'onnx/decoder_model_merged.onnx', q8: 'onnx/decoder_model_merged_quantized.onnx' },
  'xenova-layout-nopos': { fp32: 'onnx/decoder_model_merged.onnx', q8: 'onnx/decoder_model_merged_quantized.onnx' },
  'onnx-community-layout': { fp32: 'onnx/model.onnx', q8: 'onnx/model_quantized.onnx' },
};

export interface PromptReference {
  prompt: string;
  promptIds: number[];
  top5: { ids: number[]; values: number[] };
  greedyIds: number[];
  greedyText: string;
}

interface RawOutputs {
  prompt_top5: { ids: number[]; values: number[] };
  greedy_ids: number[];
  greedy_text: string;
}

const cache = new Map<ExportLayout, string>();
let root: string | undefined;

/** A model folder (config, tokenizer, the layout's graphs or checkpoint) in a temp folder, made once per process. */
export function exportFolder(layout: ExportLayout): string {
  let folder = cache.get(layout);
  if (folder) return folder;
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'local-gpt2-hf-export-'));
  folder = path.join(root, layout);
  fs.cpSync(path.join(FIXTURES, layout), folder, { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'tokenizer'), folder, { recursive: true });
  cache.set(layout, folder);
  return folder;
}

/**
 * What a correct engine must reproduce for `layout` at `dtype`: PyTorch's outputs for fp32 (and for the
 * checkpoint, which the engine converts itself), onnxruntime-python's on the same file for q8.
 */
export function references(layout: ExportLayout, dtype: Dtype): PromptReference[] {
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference.json'), 'utf8')) as { prompts: Record<string, unknown>[] };
  const key = dtype === 'fp32' || layout === 'checkpoint' ? 'pytorch_fp32' : `onnxruntime_python:${layout}/${ONNX_FILE[layout][dtype as 'q8']}`;
  return json.prompts.map((p) => {
    const out = p[key] as RawOutputs | undefined;
    if (!out) throw new Error(`reference.json has no ${key}`);
    return { prompt: p.prompt as string, promptIds: p.prompt_ids as number[], top5: out.prompt_top5, greedyIds: out.greedy_ids, greedyText: out.greedy_text };
  });
}
