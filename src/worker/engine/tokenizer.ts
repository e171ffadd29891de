// GPT-2's byte-level BPE through transformers.js, loaded from a local model folder.
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';

export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export async function loadTokenizer(folder: string): Promise<TextCodec> {
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }),
    // No clean-up: it would turn " ..." into "..." and the ghost text would not match what the model meant.
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
  };
}
