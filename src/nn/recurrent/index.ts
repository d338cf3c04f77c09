// The recurrent family: one fused, hand-differentiated layer (Recurrent) for every cell kind, and the
// named layers over it. PyTorch's parameter names, shapes, gate orders and packed-sequence semantics.

export { cellKinds, type CellKind } from './cells.js';
export { Recurrent, type RecurrentOptions, type RecurrentForwardOptions, type RecurrentState } from './recurrent.js';
export { RNN, type RNNOptions } from './rnn.js';
export { LSTM } from './lstm.js';
export { GRU, type GRUOptions } from './gru.js';
export { MUT1, MUT2, MUT3 } from './mut.js';
export { createRecurrent } from './create-recurrent.js';
