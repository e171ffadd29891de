// GPT-2 ONNX exports on the hub differ in their inputs: Optimum's merged decoders select the with-past
// branch of an If node with `use_cache_branch`, and older exports have no `position_ids` (the graph then
// derives positions from the length of the past it is given). The decoder adapts to what the file has.

export interface ModelInputs {
  /** The graph takes explicit positions, so stale past slots can stay in the buffer, hidden by the mask. */
  positionIds: boolean;
  /** Optimum merged decoder: true selects the branch that reads past_key_values. */
  useCacheBranch: boolean;
  /** A lean graph's `logits_from` (leanGraph.ts): -1 for the last position's logits, 0 for every position's. */
  logitsFrom: boolean;
  /** The embedding's rows come in as `token_rows` (tokenRows.ts), read from the model file by the decoder. */
  tokenRows: boolean;
}

const KNOWN = /^(input_ids|attention_mask|position_ids|use_cache_branch|logits_from|token_rows|past_key_values\.\d+\.(key|value))$/;

/** Reads the inputs a session declares; a required input the engine cannot feed is refused by name. */
export function modelInputsOf(inputNames: readonly string[]): ModelInputs {
  const unknown = inputNames.filter((name) => !KNOWN.test(name));
  if (unknown.length > 0) throw new Error(`unsupported model input${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  for (const required of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
    if (!inputNames.includes(required)) throw new Error(`the model has no ${required} input`);
  }
  return { positionIds: inputNames.includes('position_ids'), useCacheBranch: inputNames.includes('use_cache_branch'), logitsFrom: inputNames.includes('logits_from'), tokenRows: inputNames.includes('token_rows') };
}
