// The KV-reuse check shared by the engine's own graph and the hub layouts: a seeded sequence of editor-like
// edits (typing, backspace, an edit earlier in the file, a paste across the 64-slot chunks and 256-token
// prefill slices, a big deletion), each prompt prefilled by a decoder that keeps its cache and compared with
// a full recomputation by a reference decoder that starts empty every time.
import * as assert from 'node:assert/strict';
import type { TokenDecoder } from '../../src/worker/engine/decoder';
import { mulberry32 } from '../../src/worker/rng';
import { maxAbsDiff } from './maxAbsDiff';

export interface ReuseCheck {
  seed: number;
  steps: number;
  tolerance: number;
}

/** Returns the worst |difference| seen and how many prompt tokens the cache saved; fails on the first step over tolerance. */
export async function expectReuseMatchesRecomputation(
  reusing: TokenDecoder,
  reference: TokenDecoder & { reset(): void },
  { seed, steps, tolerance }: ReuseCheck,
): Promise<{ worst: number; reused: number }> {
  const rng = mulberry32(seed);
  const randomToken = () => Math.floor(rng() * 50257);
  let ids = Array.from({ length: 10 }, randomToken);
  let reused = 0;
  let worst = 0;
  for (let step = 0; step < steps; step++) {
    const r = rng();
    if (r < 0.5) ids.push(...Array.from({ length: 1 + Math.floor(rng() * 3) }, randomToken)); // typing
    else if (r < 0.7) ids = ids.slice(0, Math.max(1, ids.length - 1 - Math.floor(rng() * 4))); // backspace
    else if (r < 0.85) ids[Math.floor(rng() * ids.length)] = randomToken(); // edit earlier in the file
    else if (r < 0.95) ids.push(...Array.from({ length: 40 + Math.floor(rng() * 300) }, randomToken)); // paste
    else ids = ids.slice(0, Math.max(1, Math.floor(ids.length / 3))); // big deletion
    if (ids.length > 1000) ids = ids.slice(-500);
    const got = await reusing.prefill(ids);
    reused += got!.reused;
    reference.reset();
    const diff = maxAbsDiff(got!.logits, (await reference.prefill(ids))!.logits);
    worst = Math.max(worst, diff);
    assert.ok(diff < tolerance, `step ${step}: ${ids.length} tokens, ${got!.reused} reused, max |diff| ${diff}`);
  }
  return { worst, reused };
}
