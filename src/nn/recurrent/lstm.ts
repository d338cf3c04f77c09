// LSTM: c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t), gates i, f, g, o as torch.nn.LSTM (no
// projection, no peepholes). Everything but the choice of cell is Recurrent's.

import type { Rng } from '../../random/rng.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export class LSTM extends Recurrent {
  constructor(opts: RecurrentOptions, rng: Rng) {
    super('lstm', opts, rng);
  }
}
