// HF config.json <-> Gpt2Config: real hub configs parse, bad ones fail naming the field.
import * as assert from 'node:assert/strict';
import { configFromHfJson, configToHfJson, type Gpt2Config } from '../../src/worker/gpt2/config';

// Trimmed copies of the hub's config.json files (fields that matter plus a few that do not).
const GPT2 = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256,
  embd_pdrop: 0.1, eos_token_id: 50256, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2',
  n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, resid_pdrop: 0.1,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } }, vocab_size: 50257,
};
const DISTILGPT2 = { ...GPT2, _num_labels: 1, n_layer: 6, id2label: { 0: 'LABEL_0' } };
const GPT2_MEDIUM = { ...GPT2, n_embd: 1024, n_head: 16, n_layer: 24, n_special: 0, predict_special_tokens: true };

const omit = (o: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== k));

describe('GPT-2 config', function () {
  it('reads gpt2, distilgpt2 and gpt2-medium configs', function () {
    const base: Gpt2Config = { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: 50257, layerNormEpsilon: 1e-5 };
    assert.deepEqual(configFromHfJson(GPT2), base);
    assert.deepEqual(configFromHfJson(DISTILGPT2), { ...base, nLayer: 6 });
    assert.deepEqual(configFromHfJson(GPT2_MEDIUM), { ...base, nLayer: 24, nHead: 16, nEmbd: 1024 });
  });

  it('falls back to n_ctx and the default epsilon like transformers does', function () {
    const c = configFromHfJson(omit(omit(GPT2, 'n_positions'), 'layer_norm_epsilon'));
    assert.equal(c.nPositions, 1024);
    assert.equal(c.layerNormEpsilon, 1e-5);
  });

  it('round-trips through configToHfJson', function () {
    const c: Gpt2Config = { nLayer: 2, nHead: 4, nEmbd: 32, nPositions: 128, vocabSize: 50257, layerNormEpsilon: 1e-6 };
    const json = configToHfJson(c);
    assert.deepEqual(configFromHfJson(JSON.parse(JSON.stringify(json))), c);
    assert.equal(json.model_type, 'gpt2');
    assert.deepEqual(json.architectures, ['GPT2LMHeadModel']);
    assert.equal(json.eos_token_id, 50256);
    assert.equal(json.tie_word_embeddings, true);
  });

  it('names a missing or malformed field', function () {
    assert.throws(() => configFromHfJson(omit(GPT2, 'n_embd')), /missing field "n_embd"/);
    assert.throws(() => configFromHfJson(omit(GPT2, 'vocab_size')), /missing field "vocab_size"/);
    assert.throws(() => configFromHfJson({ ...GPT2, n_layer: '12' }), /"n_layer" must be a positive integer, got "12"/);
    assert.throws(() => configFromHfJson({ ...GPT2, n_head: 0 }), /"n_head" must be a positive integer/);
    assert.throws(() => configFromHfJson([]), /expected a JSON object/);
    assert.throws(() => configFromHfJson(null), /expected a JSON object/);
  });

  it('refuses n_embd not divisible by n_head', function () {
    assert.throws(() => configFromHfJson({ ...GPT2, n_head: 10 }), /n_embd \(768\) must be divisible by n_head \(10\)/);
    assert.throws(() => configToHfJson({ ...configFromHfJson(GPT2), nHead: 5 }), /nEmbd \(768\) must be divisible by nHead \(5\)/);
  });

  it('refuses configs whose math the graph does not implement', function () {
    assert.throws(() => configFromHfJson({ ...GPT2, model_type: 'llama' }), /model_type is "llama"/);
    assert.throws(() => configFromHfJson({ ...GPT2, activation_function: 'relu' }), /activation_function "relu"/);
    assert.throws(() => configFromHfJson({ ...GPT2, n_inner: 1000 }), /n_inner 1000/);
    assert.throws(() => configFromHfJson({ ...GPT2, tie_word_embeddings: false }), /tie_word_embeddings/);
    assert.throws(() => configFromHfJson({ ...GPT2, scale_attn_by_inverse_layer_idx: true }), /scale_attn_by_inverse_layer_idx/);
    assert.doesNotThrow(() => configFromHfJson({ ...GPT2, n_inner: null, activation_function: 'gelu_pytorch_tanh' }));
  });
});
