// Batches of examples of similar length: padding is computed and thrown away, so grouping by length
// makes a step of variable-length sequences cheaper without changing what is learned on average. Each
// epoch's order comes from its own seeded generator, so a resumed run only needs (epoch, batch index).

import { Rng, shuffle } from '../random/rng.js';

/**
 * The batches of epoch `epoch`: the examples shuffled, cut into pools of `poolBatches` batches, each pool
 * sorted by length (stable) and cut into batches of `batchSize` (the last one may be smaller), and the
 * batches shuffled. Every example appears exactly once.
 */
export function lengthBucketedBatches(lengths: ArrayLike<number>, batchSize: number, seed: number, epoch: number, poolBatches = 32): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`lengthBucketedBatches: batchSize must be a positive integer, got ${batchSize}`);
  const rng = new Rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
  const order = shuffle(Array.from({ length: lengths.length }, (_, i) => i), rng);
  const batches: number[][] = [];
  const pool = batchSize * poolBatches;
  for (let p = 0; p < order.length; p += pool) {
    const chunk = order.slice(p, p + pool).sort((a, b) => lengths[a] - lengths[b]);
    for (let b = 0; b < chunk.length; b += batchSize) batches.push(chunk.slice(b, b + batchSize));
  }
  return shuffle(batches, rng);
}

