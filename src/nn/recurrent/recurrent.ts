// Recurrent: the generic multi-layer, optionally bidirectional recurrent layer over a whole sequence,
// for every cell kind, with PyTorch's parameter names, shapes, initialisation and semantics (packed
// sequences through `lengths`). Options and validation live here; the math is in recurrent-stack.ts
// and the backend's cell kernels. The named classes (RNN, LSTM, GRU, MUT1-3) are thin wrappers.

import type { Rng } from '../../random/rng.js';
import { embedding } from '../../autograd/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { uniformInit } from '../init.js';
import { Module } from '../module.js';
import { cellKinds, cellPlan, isCellKind, type CellKind, type CellPlan } from './cells.js';
import { recurrentStack, type DirectionWeights, type TokenInput } from './recurrent-stack.js';

export interface RecurrentOptions {
  /** D: features of each input step. */
  inputSize: number;
  /** H: features of the state. */
  hiddenSize: number;
  /** L: stacked layers; layer k > 0 reads the previous layer's output (dirs·H wide). Default 1. */
  numLayers?: number;
  /** Default true. MUT cells have bias_ih only (one bias per gate). */
  bias?: boolean;
  /** x and output are (B, T, ·) instead of (T, B, ·); h0/h/c0/c are (L·dirs, B, H) either way. Default false. */
  batchFirst?: boolean;
  /**
   * Dropout probability on the output of every layer but the last, in training mode only. Default 0.
   * With one layer there is nowhere to apply it, so a non-zero value is an error (PyTorch only warns).
   */
  dropout?: number;
  /** Adds a reverse-direction pass per layer; outputs concatenate [forward, reverse]. Default false. */
  bidirectional?: boolean;
}

export interface RecurrentForwardOptions {
  /** (L·dirs, B, H) initial state, ordered l0, l0_reverse, l1, ...; zeros when absent. */
  h0?: Tensor;
  /** (L·dirs, B, H) initial cell state, LSTM only; zeros when absent. */
  c0?: Tensor;
  /**
   * B lengths in [1, T] (PyTorch's packed sequences): outputs at t >= lengths[b] are 0, the final state
   * is the state after the last valid step, and the reverse direction starts at step lengths[b] - 1.
   */
  lengths?: ArrayLike<number>;
}

export interface RecurrentState {
  /** (T, B, dirs·H), or (B, T, dirs·H) batch-first: the last layer's states, [forward, reverse]. */
  output: Tensor;
  /** (L·dirs, B, H): the final state of every layer and direction. */
  h: Tensor;
  /** (L·dirs, B, H): the final cell state (LSTM); null for the other cells. */
  c: Tensor | null;
}

/** The keys of RecurrentOptions (anything else is rejected). */
export const RECURRENT_OPTION_KEYS = ['inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional'] as const;
/** Options the named subclasses pass through (checked against the cell kind below). */
const CELL_OPTION_KEYS: Partial<Record<CellKind, readonly string[]>> = {
  rnn_tanh: ['nonlinearity'],
  rnn_relu: ['nonlinearity'],
  gru: ['variant'],
  gru_cho: ['variant'],
};
const FORWARD_KEYS = ['h0', 'c0', 'lengths'] as const;

/**
 * A stack of `numLayers` recurrent layers of one cell kind, each run over the whole sequence as one fused
 * op with hand-derived BPTT. Per layer k and direction, with x_t the layer input (dirs·H wide for k > 0):
 *
 *   rnn_tanh/rnn_relu  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *   lstm               [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   σ on i, f, o and tanh on g
 *                      c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
 *   gru                r = σ(W_ir x_t + b_ir + W_hr h + b_hr),  z = σ(W_iz x_t + b_iz + W_hz h + b_hz)
 *                      n = tanh(W_in x_t + b_in + r ⊙ (W_hn h + b_hn)),  h_t = (1 - z) ⊙ n + z ⊙ h
 *   gru_cho            as gru but n = tanh(W_in x_t + b_in + W_hn (r ⊙ h) + b_hn)   (Cho et al. 2014)
 *   mut1               z = σ(W_xz x + b_z),  r = σ(W_xr x + W_hr h + b_r)
 *                      h_t = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 - z)
 *   mut2               z = σ(W_xz x + W_hz h + b_z),  r = σ(x + W_hr h + b_r)
 *                      h_t = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z)
 *   mut3               z = σ(W_xz x + W_hz tanh(h) + b_z),  r = σ(W_xr x + W_hr h + b_r)
 *                      h_t = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z)
 *   (h = h_{t-1}; MUT: Jozefowicz, Zaremba & Sutskever 2015)
 *
 * Parameters, per layer k and direction (suffix `_reverse`), registered in this order, all drawn from
 * U(-1/√H, 1/√H) in this order (PyTorch's names, shapes and order for rnn/lstm/gru):
 *
 *   cell      weight_ih_l{k}        weight_hh_l{k}          bias_ih_l{k}      bias_hh_l{k}
 *   rnn_*     (H, D) [a]            (H, H) [a]              (H)               (H)
 *   lstm      (4H, D) [i,f,g,o]     (4H, H) [i,f,g,o]       (4H)              (4H)
 *   gru, gru_cho (3H, D) [r,z,n]    (3H, H) [r,z,n]         (3H) [r,z,n]      (3H) [r,z,n]
 *   mut1      (2H, D) [W_xz; W_xr]  (2H, H) [W_hr; W_hh]    (3H) [b_z,b_r,b_h]  none
 *   mut2      (2H, D) [W_xz; W_xh]  (3H, H) [W_hz; W_hr; W_hh]  (3H) [b_z,b_r,b_h]  none
 *   mut3      (3H, D) [W_xz; W_xr; W_xh]  (3H, H) [W_hz; W_hr; W_hh]  (3H) [b_z,b_r,b_h]  none
 *
 * MUT1's tanh(x) and MUT2's bare x need the layer input to be H wide (inputSize == hiddenSize, and not
 * bidirectional when numLayers > 1). With bias false there are no bias tensors at all.
 */
export class Recurrent extends Module {
  readonly cell: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  private readonly plan: CellPlan;
  private readonly weights: DirectionWeights[] = [];

  constructor(cell: CellKind, opts: RecurrentOptions, private readonly rng: Rng) {
    super();
    if (!isCellKind(cell)) throw new Error(`Recurrent: cell must be one of ${cellKinds.join(', ')}, got ${JSON.stringify(cell)}`);
    const plan = cellPlan(cell);
    const name = plan.title;
    if (opts === null || typeof opts !== 'object') throw new Error(`${name}: options must be an object, got ${String(opts)}`);
    const extra = CELL_OPTION_KEYS[cell] ?? [];
    rejectUnknownKeys(`${name} options`, opts, [...RECURRENT_OPTION_KEYS, ...extra]);
    checkCellOption(cell, opts as unknown as Record<string, unknown>);
    const { inputSize, hiddenSize, numLayers = 1, bias = true, batchFirst = false, dropout = 0, bidirectional = false } = opts;
    positiveInt(`${name} inputSize`, inputSize);
    positiveInt(`${name} hiddenSize`, hiddenSize);
    positiveInt(`${name} numLayers`, numLayers);
    bool(`${name} bias`, bias);
    bool(`${name} batchFirst`, batchFirst);
    bool(`${name} bidirectional`, bidirectional);
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      throw new Error(`${name} dropout must be a number in [0, 1), got ${String(dropout)}`);
    }
    if (dropout > 0 && numLayers === 1) {
      throw new Error(`${name} dropout ${dropout} would do nothing with numLayers 1 (it applies between layers); drop it or add layers`);
    }
    const H = hiddenSize;
    const dirs = bidirectional ? 2 : 1;
    if (plan.readsX) {
      if (inputSize !== H) {
        throw new Error(`${name} inputSize must equal hiddenSize (${H}): its ${cell === 'mut1' ? 'tanh(x)' : 'bare x'} term adds x to an H-wide gate, got inputSize ${inputSize}`);
      }
      if (bidirectional && numLayers > 1) {
        throw new Error(`${name} cannot be bidirectional with numLayers ${numLayers}: layer 1 would read 2H = ${2 * H} features, and its x term needs exactly hiddenSize ${H}`);
      }
    }
    this.cell = cell;
    this.plan = plan;
    this.inputSize = inputSize;
    this.hiddenSize = H;
    this.numLayers = numLayers;
    this.bias = bias;
    this.batchFirst = batchFirst;
    this.dropout = dropout;
    this.bidirectional = bidirectional;

    const init = uniformInit(rng, 1 / Math.sqrt(H));
    for (let k = 0; k < numLayers; k++) {
      const D = k === 0 ? inputSize : dirs * H;
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${k}${d === 1 ? '_reverse' : ''}`;
        this.weights.push({
          wih: this.param(`weight_ih${sfx}`, [plan.ih.length * H, D], init), // (|ih|·H, D)
          whh: this.param(`weight_hh${sfx}`, [plan.hh.length * H, H], init), // (|hh|·H, H)
          bih: bias ? this.param(`bias_ih${sfx}`, [plan.gates * H], init) : null, // (G·H)
          bhh: bias && plan.biasHh ? this.param(`bias_hh${sfx}`, [plan.gates * H], init) : null, // (G·H)
        });
      }
    }
  }

  /** Runs the whole sequence; see RecurrentForwardOptions for h0, c0 and lengths. */
  forward(x: Tensor, opts: RecurrentForwardOptions = {}): RecurrentState {
    const name = `${this.plan.title}.forward`;
    const layout = this.batchFirst ? '(B, T, inputSize)' : '(T, B, inputSize)';
    if (!(x instanceof Tensor) || x.shape.length !== 3 || x.shape[2] !== this.inputSize) {
      const got = x instanceof Tensor ? `[${x.shape.join(', ')}]` : String(x);
      throw new Error(`${name}: x must have shape ${layout} with inputSize ${this.inputSize}, got ${got}`);
    }
    if (x.shape[0] === 0 || x.shape[1] === 0) throw new Error(`${name}: x must have at least one step and one sequence, got shape [${x.shape.join(', ')}]`);
    return this.run(name, x, [x.shape[0], x.shape[1]], opts);
  }

  /**
   * The same as forward(embedding(table, ids, shape)) — the input is rows of an embedding table (V,
   * inputSize) picked by `ids` of `shape` (T, B), or (B, T) batch-first — but the first layer's input
   * projection is computed once per table row and gathered, and its gradient scattered back, so the
   * products over T·B input rows become products over V (TokenInput in recurrent-stack.ts). Results equal
   * forward's up to the rounding of sums. Cells that read their input directly (MUT1, MUT2), and tables
   * with as many rows as there are ids, take the embedded tensor as usual.
   */
  forwardTokens(table: Tensor, ids: Int32Array, shape: readonly [number, number], opts: RecurrentForwardOptions = {}): RecurrentState {
    const name = `${this.plan.title}.forwardTokens`;
    if (!(table instanceof Tensor) || table.shape.length !== 2 || table.shape[1] !== this.inputSize) {
      const got = table instanceof Tensor ? `[${table.shape.join(', ')}]` : String(table);
      throw new Error(`${name}: table must have shape (V, inputSize) with inputSize ${this.inputSize}, got ${got}`);
    }
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error(`${name}: shape must be two positive integers ${this.batchFirst ? '(B, T)' : '(T, B)'}, got ${JSON.stringify(shape)}`);
    }
    if (!(ids instanceof Int32Array) || ids.length !== shape[0] * shape[1]) {
      throw new Error(`${name}: ids must be an Int32Array of ${shape[0]}·${shape[1]} = ${shape[0] * shape[1]} ids, got ${ids instanceof Int32Array ? ids.length : String(ids)}`);
    }
    const V = table.shape[0];
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i] >= 0 && ids[i] < V)) throw new Error(`${name}: id ${ids[i]} at position ${i} is outside the table [0, ${V})`);
    }
    // Per-row projections pay only when there are fewer table rows than input rows.
    if (this.plan.readsX || V >= ids.length) return this.forward(embedding(table, ids, shape), opts);
    return this.run(name, { table, ids: ids.slice() }, shape, opts);
  }

  private run(name: string, x: Tensor | TokenInput, dims: readonly [number, number], opts: RecurrentForwardOptions): RecurrentState {
    if (opts === null || typeof opts !== 'object') throw new Error(`${name}: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys(`${name} options`, opts, FORWARD_KEYS);
    const { h0, c0, lengths } = opts;
    const H = this.hiddenSize;
    const dirs = this.bidirectional ? 2 : 1;
    const T = this.batchFirst ? dims[1] : dims[0];
    const B = this.batchFirst ? dims[0] : dims[1];
    const stateShape = [this.numLayers * dirs, B, H];
    if (h0 !== undefined) checkState(name, 'h0', h0, stateShape);
    if (c0 !== undefined) {
      if (!this.plan.hasCell) throw new Error(`${name}: c0 is only for LSTM, this layer is ${this.cell} (pass h0 only)`);
      checkState(name, 'c0', c0, stateShape);
    }
    if (lengths !== undefined) checkLengths(name, lengths, T, B);
    return recurrentStack(
      {
        cell: this.cell, plan: this.plan, H, L: this.numLayers, dirs, batchFirst: this.batchFirst,
        dropout: this.dropout, training: this.training, rng: this.rng, weights: this.weights,
      },
      x, h0 ?? null, c0 ?? null, lengths ?? null, dims,
    );
  }
}

/** Throws if `opts` has a key outside `allowed` (even with an undefined value: it is a typo either way). */
export function rejectUnknownKeys(what: string, opts: object, allowed: readonly string[]): void {
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new Error(`${what}: unknown option "${k}" (expected one of ${allowed.join(', ')})`);
    }
  }
}

function checkCellOption(cell: CellKind, opts: Record<string, unknown>): void {
  const { nonlinearity, variant } = opts;
  if (nonlinearity !== undefined) {
    if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new Error(`RNN nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(nonlinearity)}`);
    if (cell !== `rnn_${nonlinearity}`) throw new Error(`RNN nonlinearity '${nonlinearity}' contradicts cell ${cell}`);
  }
  if (variant !== undefined) {
    if (variant !== 'pytorch' && variant !== 'cho') throw new Error(`GRU variant must be 'pytorch' or 'cho', got ${JSON.stringify(variant)}`);
    if (cell !== (variant === 'cho' ? 'gru_cho' : 'gru')) throw new Error(`GRU variant '${variant}' contradicts cell ${cell}`);
  }
}

function positiveInt(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${String(v)}`);
}

function bool(name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new Error(`${name} must be true or false, got ${String(v)}`);
}

function checkState(name: string, arg: string, t: unknown, shape: number[]): void {
  if (!(t instanceof Tensor) || t.shape.length !== 3 || t.shape.some((d, i) => d !== shape[i])) {
    const got = t instanceof Tensor ? `[${t.shape.join(', ')}]` : String(t);
    throw new Error(`${name}: ${arg} must have shape (numLayers·dirs, B, hiddenSize) = [${shape.join(', ')}], got ${got}`);
  }
}

function checkLengths(name: string, lengths: ArrayLike<number>, T: number, B: number): void {
  if (lengths === null || typeof lengths !== 'object' || typeof lengths.length !== 'number' || lengths.length !== B) {
    const got = lengths !== null && typeof lengths === 'object' ? `${lengths.length} lengths` : String(lengths);
    throw new Error(`${name}: lengths must hold one length per sequence (B = ${B}), got ${got}`);
  }
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (!Number.isInteger(n) || n < 1 || n > T) throw new Error(`${name}: lengths[${b}] must be an integer in [1, T = ${T}], got ${n}`);
  }
}
