// GPT-2's byte-level BPE tokenizer as Hugging Face `tokenizers` files, built from OpenAI's original
// encoder.json (token -> id) and vocab.bpe (merge ranks). The result matches the hub's gpt2
// tokenizer.json, so transformers.js (and Python tokenizers) load it unchanged.

export const END_OF_TEXT_TOKEN = '<|endoftext|>';

export interface TokenizerFiles {
  'tokenizer.json': string;
  'tokenizer_config.json': string;
}

/**
 * @param encoderJson contents of encoder.json: { token: id } with 50257 entries for GPT-2
 * @param vocabBpe contents of vocab.bpe: a "#version" line, then one "a b" merge per line, best first
 */
export function buildGpt2TokenizerFiles(encoderJson: string | Record<string, number>, vocabBpe: string, modelMaxLength = 1024): TokenizerFiles {
  const vocab: Record<string, number> = typeof encoderJson === 'string' ? JSON.parse(encoderJson) : encoderJson;
  const eos = vocab[END_OF_TEXT_TOKEN];
  if (eos === undefined) throw new Error(`encoder.json has no ${END_OF_TEXT_TOKEN} token`);
  const merges = vocabBpe
    .split('\n')
    .filter((line) => line.trim().length > 0 && !line.startsWith('#version'));
  for (const m of merges) {
    // Exactly two symbols separated by one space; anything else means a corrupt or wrong file.
    if (m.split(' ').length !== 2) throw new Error(`vocab.bpe: malformed merge line ${JSON.stringify(m)}`);
  }

  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      // normalized: true as on the hub; GPT-2 has no normalizer, so it changes nothing.
      { id: eos, content: END_OF_TEXT_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, add_prefix_space: true, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel, add_prefix_space: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: END_OF_TEXT_TOKEN,
    eos_token: END_OF_TEXT_TOKEN,
    unk_token: END_OF_TEXT_TOKEN,
    pad_token: null,
    // false: the default clean-up turns " ." into "." and " 's" into "'s", so decode(encode(s)) != s.
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: modelMaxLength,
    tokenizer_class: 'GPT2Tokenizer',
  };
  return {
    'tokenizer.json': JSON.stringify(tokenizer),
    'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2) + '\n',
  };
}
