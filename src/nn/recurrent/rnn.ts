// RNN: the Elman layer, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) with act tanh or relu, as
// torch.nn.RNN. Everything but the choice of cell is Recurrent's.

import type { Rng } from '../../random/rng.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export interface RNNOptions extends RecurrentOptions {
  /** Default 'tanh'. */
  nonlinearity?: 'tanh' | 'relu';
}

export class RNN extends Recurrent {
  constructor(opts: RNNOptions, rng: Rng) {
    // An invalid nonlinearity is rejected by Recurrent with the RNN options' other checks.
    super(opts?.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh', opts, rng);
  }

  get nonlinearity(): 'tanh' | 'relu' {
    return this.cell === 'rnn_relu' ? 'relu' : 'tanh';
  }
}
