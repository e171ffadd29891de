// The few numbers that fix a GPT-2's shape, and the conversion to and from Hugging Face's config.json.
// Everything else in a HF config (dropout, summary heads, ...) does not change inference and is ignored.
import { END_OF_TEXT } from '../../protocol';

export interface Gpt2Config {
  nLayer: number; // transformer blocks
  nHead: number; // attention heads per block
  nEmbd: number; // residual stream width; nEmbd % nHead == 0
  nPositions: number; // context window (rows of wpe)
  vocabSize: number; // rows of wte (50257 for every GPT-2 tokenizer)
  layerNormEpsilon: number;
}

export function headDim(c: Gpt2Config): number {
  return c.nEmbd / c.nHead;
}

/** Checks shape invariants; throws an Error naming the offending field. */
export function validateConfig(c: Gpt2Config): Gpt2Config {
  for (const k of ['nLayer', 'nHead', 'nEmbd', 'nPositions', 'vocabSize'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`GPT-2 config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) {
    throw new Error(`GPT-2 config: nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  }
  if (!(c.layerNormEpsilon > 0 && c.layerNormEpsilon < 1)) {
    throw new Error(`GPT-2 config: layerNormEpsilon must be in (0, 1), got ${c.layerNormEpsilon}`);
  }
  return c;
}

/**
 * Reads a Hugging Face GPT-2 config.json (gpt2, distilgpt2, gpt2-medium/large/xl, fine-tunes).
 * Refuses configs whose math we do not implement rather than silently computing something else.
 */
export function configFromHfJson(json: unknown): Gpt2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('GPT-2 config.json: expected a JSON object');
  }
  const j = json as Record<string, unknown>;
  const int = (key: string, fallbackKey?: string): number => {
    const v = j[key] ?? (fallbackKey === undefined ? undefined : j[fallbackKey]);
    if (v === undefined || v === null) throw new Error(`GPT-2 config.json: missing field "${key}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`GPT-2 config.json: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (j.model_type !== undefined && j.model_type !== 'gpt2') {
    throw new Error(`GPT-2 config.json: model_type is "${String(j.model_type)}", expected "gpt2"`);
  }
  // gelu_new and gelu_pytorch_tanh are both the tanh approximation the graph and oracle use.
  const act = j.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw new Error(`GPT-2 config.json: activation_function "${String(act)}" is not supported (only gelu_new)`);
  }
  const nEmbd = int('n_embd');
  if (j.n_inner !== undefined && j.n_inner !== null && j.n_inner !== 4 * nEmbd) {
    throw new Error(`GPT-2 config.json: n_inner ${String(j.n_inner)} is not supported (only 4 * n_embd = ${4 * nEmbd})`);
  }
  if (j.scale_attn_weights === false || j.scale_attn_by_inverse_layer_idx === true) {
    throw new Error('GPT-2 config.json: scale_attn_weights=false / scale_attn_by_inverse_layer_idx=true are not supported');
  }
  if (j.tie_word_embeddings === false) {
    throw new Error('GPT-2 config.json: tie_word_embeddings=false is not supported (lm_head is tied to wte)');
  }
  const eps = j.layer_norm_epsilon ?? 1e-5; // HF's GPT2Config default
  if (typeof eps !== 'number') throw new Error(`GPT-2 config.json: "layer_norm_epsilon" must be a number, got ${JSON.stringify(eps)}`);
  const c: Gpt2Config = {
    nLayer: int('n_layer'),
    nHead: int('n_head'),
    nEmbd,
    nPositions: int('n_positions', 'n_ctx'),
    vocabSize: int('vocab_size'),
    layerNormEpsilon: eps,
  };
  if (c.nEmbd % c.nHead !== 0) {
    throw new Error(`GPT-2 config.json: n_embd (${c.nEmbd}) must be divisible by n_head (${c.nHead})`);
  }
  return validateConfig(c);
}

/** A complete HF config.json for this shape, as transformers / transformers.js expect it. */
export function configToHfJson(c: Gpt2Config): Record<string, unknown> {
  validateConfig(c);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.layerNormEpsilon,
    initializer_range: 0.02,
    resid_pdrop: 0.1,
    embd_pdrop: 0.1,
    attn_pdrop: 0.1,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    summary_type: 'cls_index',
    summary_use_proj: true,
    summary_activation: null,
    summary_proj_to_labels: true,
    summary_first_dropout: 0.1,
    bos_token_id: END_OF_TEXT, // <|endoftext|> is also bos and unk in GPT-2
    eos_token_id: END_OF_TEXT,
    use_cache: true,
    tie_word_embeddings: true,
    'transformers.js_config': { use_external_data_format: false },
  };
}
