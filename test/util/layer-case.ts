// The shape of a recurrent-layer test case, shared by the gradcheck, tape and token-input suites.

import type { RecurrentOptions } from '../../src/nn/recurrent/index.js';

/** A layer configuration (sizes aside) and a batch: T steps of B sequences, optional lengths. */
export interface LayerCase {
  name: string;
  opts: Omit<RecurrentOptions, 'inputSize' | 'hiddenSize'>;
  T: number;
  B: number;
  lengths?: number[];
}
