// createRecurrent: the layer for a cell kind by name (command lines, configs, checkpoints), as an
// instance of its named class (RNN, LSTM, GRU, MUT1-3).

import type { Rng } from '../../random/rng.js';
import { cellKinds, isCellKind, type CellKind } from './cells.js';
import { GRU } from './gru.js';
import { LSTM } from './lstm.js';
import { MUT1, MUT2, MUT3 } from './mut.js';
import { RECURRENT_OPTION_KEYS, rejectUnknownKeys, type Recurrent, type RecurrentOptions } from './recurrent.js';
import { RNN } from './rnn.js';

const makers: { readonly [K in CellKind]: (opts: RecurrentOptions, rng: Rng) => Recurrent } = {
  rnn_tanh: (o, rng) => new RNN({ ...o, nonlinearity: 'tanh' }, rng),
  rnn_relu: (o, rng) => new RNN({ ...o, nonlinearity: 'relu' }, rng),
  lstm: (o, rng) => new LSTM(o, rng),
  gru: (o, rng) => new GRU({ ...o, variant: 'pytorch' }, rng),
  gru_cho: (o, rng) => new GRU({ ...o, variant: 'cho' }, rng),
  mut1: (o, rng) => new MUT1(o, rng),
  mut2: (o, rng) => new MUT2(o, rng),
  mut3: (o, rng) => new MUT3(o, rng),
};

export function createRecurrent(cell: CellKind, opts: RecurrentOptions, rng: Rng): Recurrent {
  if (!isCellKind(cell)) throw new Error(`createRecurrent: cell must be one of ${cellKinds.join(', ')}, got ${JSON.stringify(cell)}`);
  // The cell kind says the nonlinearity or variant: a second say in the options would be ignored.
  if (opts !== null && typeof opts === 'object') {
    rejectUnknownKeys('createRecurrent options', opts, RECURRENT_OPTION_KEYS);
  }
  return makers[cell](opts, rng);
}
