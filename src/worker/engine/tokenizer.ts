// GPT-2's byte-level BPE through transformers.js, loaded from a local model folder.
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';

export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /**
   * Each token id's text on its own (index = id), built on first use and kept: token healing scans it on every
   * healed request. A token that is only part of a UTF-8 character holds U+FFFD. Absent: no healing.
   */
  vocabulary?(): readonly string[];
}

export async function loadTokenizer(folder: string): Promise<TextCodec> {
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  // No clean-up: it would turn " ..." into "..." and the ghost text would not match what the model meant.
  const decode = (ids: readonly number[]) => tokenizer.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  let vocabulary: string[] | undefined;
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }),
    decode,
    // About 0.8 s for GPT-2's 50257 tokens, so only once and only when healing first asks.
    vocabulary: () => (vocabulary ??= Array.from({ length: vocabularySize(tokenizer) }, (_, id) => decode([id]))),
  };
}

/** One past the highest id, special tokens included (`<|endoftext|>` is the last one in GPT-2). */
function vocabularySize(tokenizer: PreTrainedTokenizer): number {
  const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
  const ids = vocab instanceof Map ? [...vocab.values()] : Object.values(vocab);
  return ids.reduce((max, id) => Math.max(max, id + 1), 0);
}
