// The parameter layout of each cell kind: which gate block each H-row block of weight_ih and weight_hh
// feeds, what each recurrent product multiplies, which biases exist. The per-step pointwise math and its
// cache are the backend's contract (CELL_LAYOUTS in backend/backend.ts); not here.

import { CELL_LAYOUTS, type CellKind, type CellLayout } from '../../backend/backend.js';

export type { CellKind };

/** Every cell kind, in a stable order (for command lines and error messages). */
export const cellKinds: readonly CellKind[] = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_cho', 'mut1', 'mut2', 'mut3'];

/** What an H-row block of weight_hh multiplies: hPrev, tanh(hPrev) (MUT3's z), or u = r ⊙ hPrev (stage 2). */
export type RecurrentOperand = 'h' | 'tanh_h' | 'u';

export interface CellPlan extends CellLayout {
  /** The layer name used in messages ('LSTM', 'GRU (cho)', ...). */
  readonly title: string;
  /** Gate names, one per block of xg/hg and of the biases. */
  readonly gateNames: readonly string[];
  /** The gate block fed by each H-row block of weight_ih, in row order. */
  readonly ih: readonly number[];
  /** The gate block and operand of each H-row block of weight_hh, in row order ('u' last, at most once). */
  readonly hh: readonly { readonly gate: number; readonly operand: RecurrentOperand }[];
  /** bias_ih always has G blocks (one per gate); bias_hh exists (also G blocks) only for the PyTorch-style cells. */
  readonly biasHh: boolean;
}

const h = (gate: number) => ({ gate, operand: 'h' as const });
const tanhH = (gate: number) => ({ gate, operand: 'tanh_h' as const });
const u = (gate: number) => ({ gate, operand: 'u' as const });

type PlanRest = Omit<CellPlan, keyof CellLayout>;

const rest: { readonly [K in CellKind]: PlanRest } = {
  rnn_tanh: { title: 'RNN', gateNames: ['a'], ih: [0], hh: [h(0)], biasHh: true },
  rnn_relu: { title: 'RNN', gateNames: ['a'], ih: [0], hh: [h(0)], biasHh: true },
  lstm: { title: 'LSTM', gateNames: ['i', 'f', 'g', 'o'], ih: [0, 1, 2, 3], hh: [h(0), h(1), h(2), h(3)], biasHh: true },
  gru: { title: 'GRU', gateNames: ['r', 'z', 'n'], ih: [0, 1, 2], hh: [h(0), h(1), h(2)], biasHh: true },
  gru_cho: { title: 'GRU (cho)', gateNames: ['r', 'z', 'n'], ih: [0, 1, 2], hh: [h(0), h(1), u(2)], biasHh: true },
  // MUT (Jozefowicz et al. 2015): gate blocks z, r, h; one bias per gate, all in bias_ih.
  mut1: { title: 'MUT1', gateNames: ['z', 'r', 'h'], ih: [0, 1], hh: [h(1), u(2)], biasHh: false },
  mut2: { title: 'MUT2', gateNames: ['z', 'r', 'h'], ih: [0, 2], hh: [h(0), h(1), u(2)], biasHh: false },
  mut3: { title: 'MUT3', gateNames: ['z', 'r', 'h'], ih: [0, 1, 2], hh: [tanhH(0), h(1), u(2)], biasHh: false },
};

export function cellPlan(cell: CellKind): CellPlan {
  return { ...CELL_LAYOUTS[cell], ...rest[cell] };
}

export function isCellKind(v: unknown): v is CellKind {
  return typeof v === 'string' && (cellKinds as readonly string[]).includes(v);
}

/** A contiguous run of weight rows feeding contiguous gate blocks with one operand: one gemm. */
export interface BlockRun {
  readonly row: number; // first H-row block of the weight
  readonly gate: number; // first gate block of xg/hg
  readonly n: number; // blocks
  readonly operand: RecurrentOperand;
}

/** Groups blocks into runs a single gemm can do (rows and gates both consecutive, same operand). */
export function blockRuns(blocks: readonly { gate: number; operand: RecurrentOperand }[]): BlockRun[] {
  const runs: BlockRun[] = [];
  blocks.forEach((b, row) => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.operand === b.operand && last.gate + last.n === b.gate && last.row + last.n === row) {
      runs[runs.length - 1] = { ...last, n: last.n + 1 };
    } else runs.push({ row, gate: b.gate, n: 1, operand: b.operand });
  });
  return runs;
}
