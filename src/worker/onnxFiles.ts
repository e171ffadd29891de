// Where an ONNX export of a GPT-2 lives inside a model folder or hub repository, per dtype. One home for
// these names, so the model store (what to download), the loader (what to open) and the model writer
// (what to write) agree without importing each other.
import type { Dtype } from '../protocol';

/** transformers.js's file-name suffix per dtype: onnx/{base}{suffix}.onnx */
export const DTYPE_SUFFIX: Record<Dtype, string> = { fp32: '', q8: '_quantized', q4: '_q4' };

/**
 * The export layouts users download, most preferred first: Optimum's merged decoder (Xenova/* repos), then
 * the current exporter's single graph with past inputs (onnx-community/* repos).
 */
export const ONNX_BASES = ['decoder_model_merged', 'model'] as const;

export const onnxFileOf = (base: (typeof ONNX_BASES)[number], dtype: Dtype): string => `onnx/${base}${DTYPE_SUFFIX[dtype]}.onnx`;

/** The file this project writes for a dtype (the merged-decoder name, which every layout reader looks for first). */
export const onnxFileName = (dtype: Dtype): string => onnxFileOf('decoder_model_merged', dtype);

/** Every file name that may hold the ONNX graph for `dtype`, in order of preference. */
export const onnxCandidates = (dtype: Dtype): string[] => ONNX_BASES.map((base) => onnxFileOf(base, dtype));

/** Files every model folder needs besides the graph. */
export const BASE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
