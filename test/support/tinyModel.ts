// The shared test model: models/tiny (2 layers, 32 dims, 4 heads, GPT-2 vocabulary, random seeded weights),
// built in-process through the same code as `npm run make-model -- --preset tiny` when missing or stale.
import { makeModel, presetOptions, PRESETS } from '../../scripts/make-model';

export const TINY = PRESETS.tiny; // { dir, config, seed }: regenerate its weights with randomWeights(config, seed)

let building: Promise<string> | undefined;

/** Absolute path of models/tiny, (re)built at most once per process. */
export function tinyModelDir(): Promise<string> {
  building ??= makeModel(presetOptions('tiny')).then((r) => r.dir);
  return building;
}
