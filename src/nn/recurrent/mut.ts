// MUT1, MUT2, MUT3: the three architectures found by search in Jozefowicz, Zaremba & Sutskever (2015),
// "An Empirical Exploration of Recurrent Network Architectures". Recurrences and parameter layout are
// documented on Recurrent; MUT1 and MUT2 need inputSize == hiddenSize.

import type { Rng } from '../../random/rng.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

/** z = σ(W_xz x + b_z), r = σ(W_xr x + W_hr h + b_r), h' = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 - z). */
export class MUT1 extends Recurrent {
  constructor(opts: RecurrentOptions, rng: Rng) {
    super('mut1', opts, rng);
  }
}

/** z = σ(W_xz x + W_hz h + b_z), r = σ(x + W_hr h + b_r), h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z). */
export class MUT2 extends Recurrent {
  constructor(opts: RecurrentOptions, rng: Rng) {
    super('mut2', opts, rng);
  }
}

/** z = σ(W_xz x + W_hz tanh(h) + b_z), r = σ(W_xr x + W_hr h + b_r), h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z). */
export class MUT3 extends Recurrent {
  constructor(opts: RecurrentOptions, rng: Rng) {
    super('mut3', opts, rng);
  }
}
