// PyTorch's default initialisations, drawn from our seeded generator (same distributions as PyTorch,
// not the same numbers: PyTorch's generator is not reproduced).

import type { Rng } from '../random/rng.js';

/** U(-bound, bound) into `data`. */
export function uniformInit(rng: Rng, bound: number): (data: Float32Array) => void {
  return (data) => {
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * bound;
  };
}

/** N(0, 1), as nn.Embedding. */
export function normalInit(rng: Rng): (data: Float32Array) => void {
  return (data) => {
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  };
}
