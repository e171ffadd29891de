// Hugging Face GPT-2 checkpoint (model.safetensors) -> ONNX graph bytes, for fine-tunes that ship no ONNX export.
import * as fs from 'node:fs/promises';
import type { Dtype } from '../../protocol';
import { EngineError, errorMessage } from '../errors';
import type { Gpt2Config } from '../gpt2/config';
import { buildGpt2Onnx } from '../gpt2/graph';
import { weightsFromSafetensors } from '../gpt2/safetensors';

export async function convertCheckpoint(file: string, config: Gpt2Config, dtype: Dtype): Promise<Uint8Array> {
  try {
    return buildGpt2Onnx(weightsFromSafetensors(await fs.readFile(file), config), config, dtype);
  } catch (error) {
    throw new EngineError('model-files', `${file}: cannot convert this checkpoint (${errorMessage(error)})`);
  }
}
