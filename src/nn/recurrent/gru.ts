// GRU: h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}, gates r, z, n. Variant 'pytorch' (default, torch.nn.GRU):
// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); variant 'cho' (Cho et al. 2014, as lectures write it):
// n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn). Same parameter names and shapes for both.

import type { Rng } from '../../random/rng.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export interface GRUOptions extends RecurrentOptions {
  /** Default 'pytorch'. */
  variant?: 'pytorch' | 'cho';
}

export class GRU extends Recurrent {
  constructor(opts: GRUOptions, rng: Rng) {
    // An invalid variant is rejected by Recurrent with the GRU options' other checks.
    super(opts?.variant === 'cho' ? 'gru_cho' : 'gru', opts, rng);
  }

  get variant(): 'pytorch' | 'cho' {
    return this.cell === 'gru_cho' ? 'cho' : 'pytorch';
  }
}
