// The inverse of weightsFromTensors (checkpoint name -> data), for writing checkpoints.
import type { Gpt2Config } from '../../src/worker/gpt2/config';
import { numel, tensorSpecs, type Gpt2Weights, type Linear, type TensorSpec } from '../../src/worker/gpt2/weights';

/** Checkpoint name -> data, in tensorSpecs order. */
export function tensorsOfWeights(w: Gpt2Weights, c: Gpt2Config): { spec: TensorSpec; data: Float32Array }[] {
  const byName = new Map<string, Float32Array>([
    ['wte.weight', w.wte],
    ['wpe.weight', w.wpe],
    ['ln_f.weight', w.ln_f.weight],
    ['ln_f.bias', w.ln_f.bias],
  ]);
  w.h.forEach((b, l) => {
    const parts: [string, Linear][] = [
      ['ln_1', b.ln_1],
      ['attn.c_attn', b.attn.c_attn],
      ['attn.c_proj', b.attn.c_proj],
      ['ln_2', b.ln_2],
      ['mlp.c_fc', b.mlp.c_fc],
      ['mlp.c_proj', b.mlp.c_proj],
    ];
    for (const [n, p] of parts) {
      byName.set(`h.${l}.${n}.weight`, p.weight);
      byName.set(`h.${l}.${n}.bias`, p.bias);
    }
  });
  return tensorSpecs(c).map((spec) => {
    const data = byName.get(spec.name);
    if (!data || data.length !== numel(spec.shape)) {
      throw new Error(`tensor ${spec.name}: missing or wrong size for shape [${spec.shape}]`);
    }
    return { spec, data };
  });
}

