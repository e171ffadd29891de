// A small seedable PRNG (mulberry32): the same seed gives the same samples on every platform,
// which Math.random() cannot promise. Used by the sampler and by random model weights.

export type Rng = () => number; // uniform in [0, 1)

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for requests that did not ask for one. */
export function randomSeed(): number {
  return (Math.random() * 2 ** 32) >>> 0;
}
