// A recurrent stack (src/nn/recurrent/) as ONNX nodes, over a whole sequence or one step. RNN (tanh, relu),
// LSTM and GRU become ONNX's own RNN, LSTM and GRU operators — time-major (layout 0), one node per layer
// holding both directions, gate blocks reordered from PyTorch's (LSTM i,f,g,o -> ONNX i,o,f,c; GRU r,z,n
// -> z,r,h with linear_before_reset = 1, which is PyTorch's r ⊙ (W_hn h + b_hn)). GRU-Cho and MUT1–3,
// which ONNX has no operator for, are their step written in MatMul/Sigmoid/Tanh, run over a sequence by
// Scan with a mask, so padding neither moves the state nor reaches the output (PyTorch's packed semantics,
// as recurrent's own stack). Not here: embeddings and heads (the model exporters).

import type { CellKind } from '../nn/recurrent/cells.js';
import type { Recurrent } from '../nn/recurrent/recurrent.js';
import type { Graph } from './graph.js';

/** Cells with an ONNX operator of their own; the others are written in plain operators. */
const ONNX_OP: Partial<Record<CellKind, { op: 'RNN' | 'LSTM' | 'GRU'; order: number[]; attrs: (dirs: number) => Record<string, { strings: string[] } | { int: number }> }>> = {
  rnn_tanh: { op: 'RNN', order: [0], attrs: (dirs) => ({ activations: { strings: Array(dirs).fill('Tanh') } }) },
  rnn_relu: { op: 'RNN', order: [0], attrs: (dirs) => ({ activations: { strings: Array(dirs).fill('Relu') } }) },
  lstm: { op: 'LSTM', order: [0, 3, 1, 2], attrs: () => ({}) }, // PyTorch blocks i,f,g,o in ONNX's order i,o,f,c
  gru: { op: 'GRU', order: [1, 0, 2], attrs: () => ({ linear_before_reset: { int: 1 } }) }, // r,z,n in ONNX's z,r,h
};

/** One layer-direction's tensors, PyTorch's `*_l{k}[_reverse]`. */
interface Weights {
  wih: Float32Array; // (|ih|·H, D)
  whh: Float32Array; // (|hh|·H, H)
  bih: Float32Array | null; // (G·H)
  bhh: Float32Array | null; // (G·H)
  D: number;
}

function weightsOf(rnn: Recurrent, l: number, d: number): Weights {
  const p = new Map(rnn.namedParameters());
  const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
  const get = (n: string): Float32Array | null => p.get(`${n}${sfx}`)?.data ?? null;
  const wih = get('weight_ih')!;
  const D = l === 0 ? rnn.inputSize : (rnn.bidirectional ? 2 : 1) * rnn.hiddenSize; // layer k > 0 reads the previous layer's output
  return { wih, whh: get('weight_hh')!, bih: get('bias_ih'), bhh: get('bias_hh'), D };
}

/** Rows of a (blocks·H, cols) matrix, H-row blocks taken in `order`. */
function blocks(data: Float32Array, H: number, cols: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(order.length * H * cols);
  order.forEach((b, i) => out.set(data.subarray(b * H * cols, (b + 1) * H * cols), i * H * cols));
  return out;
}

/** The transpose of rows [b·H, (b+n)·H) of a (rows, cols) matrix: (cols, n·H), for MatMul(x, Wᵀ). */
function transposedBlocks(data: Float32Array, H: number, cols: number, b: number, n = 1): Float32Array {
  const rows = n * H;
  const out = new Float32Array(cols * rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[(b * H + r) * cols + c];
  return out;
}

export interface StackIn {
  /** (L·dirs, B, H) initial states; zeros when null. */
  h0: string | null;
  c0: string | null;
  /** (B) int32 lengths for the ONNX operators, and (T, B, 1) bool mask (t < length) for the Scan cells; null: every step. */
  lengths32: string | null;
  mask: string | null;
}

export interface StackOut {
  y: string; // (T, B, dirs·H), 0 past each length
  h: string; // (L·dirs, B, H)
  c: string | null; // (L·dirs, B, H), LSTM only
}

/** The stack over x (T, B, D), time-major. */
export function stackSequence(g: Graph, rnn: Recurrent, prefix: string, x: string, s: StackIn): StackOut {
  const { hiddenSize: H, numLayers: L, cell } = rnn;
  const dirs = rnn.bidirectional ? 2 : 1;
  const std = ONNX_OP[cell];
  const hs: string[] = [];
  const cs: string[] = [];
  let input = x;
  for (let l = 0; l < L; l++) {
    const rows = (t: string | null): string => (t === null ? '' : g.op('Slice', [t, g.ints([l * dirs]), g.ints([(l + 1) * dirs]), g.ints([0])])); // (dirs, B, H)
    if (std !== undefined) {
      const ws = Array.from({ length: dirs }, (_, d) => weightsOf(rnn, l, d));
      const D = ws[0].D;
      const G = std.order.length;
      const cat = (f: (w: Weights) => Float32Array): Float32Array => {
        const parts = ws.map(f);
        const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        return out;
      };
      const W = g.weight(`${prefix}.W_l${l}`, cat((w) => blocks(w.wih, H, D, std.order)), [dirs, G * H, D]);
      const R = g.weight(`${prefix}.R_l${l}`, cat((w) => blocks(w.whh, H, H, std.order)), [dirs, G * H, H]);
      const B = g.weight(`${prefix}.B_l${l}`, cat((w) => {
        const b = new Float32Array(2 * G * H);
        if (w.bih !== null) b.set(blocks(w.bih, H, 1, std.order), 0);
        if (w.bhh !== null) b.set(blocks(w.bhh, H, 1, std.order), G * H);
        return b;
      }), [dirs, 2 * G * H]);
      const inputs = [input, W, R, B, s.lengths32 ?? '', rows(s.h0)];
      if (cell === 'lstm') inputs.push(rows(s.c0));
      while (inputs[inputs.length - 1] === '') inputs.pop();
      const attrs = { hidden_size: { int: H }, direction: { string: dirs === 2 ? 'bidirectional' : 'forward' }, ...std.attrs(dirs) };
      const [Y, Yh, Yc] = g.opN(std.op, inputs, cell === 'lstm' ? 3 : 2, attrs); // (T, dirs, B, H), (dirs, B, H), (dirs, B, H)
      input = g.op('Reshape', [g.op('Transpose', [Y], { perm: { ints: [0, 2, 1, 3] } }), g.ints([0, 0, dirs * H])]); // (T, B, dirs·H)
      hs.push(Yh);
      if (cell === 'lstm') cs.push(Yc);
    } else {
      const ys: string[] = [];
      for (let d = 0; d < dirs; d++) {
        const slot = l * dirs + d;
        const h0 = s.h0 === null
          ? zerosLike(g, input, H) // (B, H)
          : g.op('Squeeze', [g.op('Slice', [s.h0, g.ints([slot]), g.ints([slot + 1]), g.ints([0])]), g.ints([0])]); // (B, H)
        const { y, h } = scanDirection(g, rnn, l, d, input, h0, s.mask, prefix);
        ys.push(y);
        hs.push(g.op('Unsqueeze', [h, g.ints([0])])); // (1, B, H)
      }
      input = dirs === 1 ? ys[0] : g.op('Concat', ys, { axis: { int: 2 } }); // (T, B, dirs·H)
    }
  }
  const h = hs.length === 1 ? hs[0] : g.op('Concat', hs, { axis: { int: 0 } }); // (L·dirs, B, H)
  const c = cs.length === 0 ? null : cs.length === 1 ? cs[0] : g.op('Concat', cs, { axis: { int: 0 } });
  return { y: input, h, c };
}

/** (B, H) zeros with x's batch size, x (T, B, ·). */
function zerosLike(g: Graph, x: string, H: number): string {
  const B = g.op('Slice', [g.op('Shape', [x]), g.ints([1]), g.ints([2])]); // [B]
  return g.op('ConstantOfShape', [g.op('Concat', [B, g.ints([H])], { axis: { int: 0 } })]); // (B, H) float zeros
}

/** One direction of one layer of a plain-operator cell: Scan over x (T, B, D) from h0 (B, H). */
function scanDirection(g: Graph, rnn: Recurrent, l: number, d: number, x: string, h0: string, mask: string | null, prefix: string): { y: string; h: string } {
  const H = rnn.hiddenSize;
  const body = g.subgraph(`${prefix}_l${l}${d === 1 ? '_reverse' : ''}_step`);
  const hPrev = body.input(`${prefix}.scan_h_l${l}_d${d}`, 'float', ['batch', H]);
  const xt = body.input(`${prefix}.scan_x_l${l}_d${d}`, 'float', ['batch', 'features']);
  const mt = mask === null ? null : body.input(`${prefix}.scan_m_l${l}_d${d}`, 'bool', ['batch', 1]);
  const hNew = plainCellStep(body, rnn.cell, weightsOf(rnn, l, d), H, xt, hPrev, `${prefix}.l${l}${d === 1 ? '_reverse' : ''}`); // (B, H)
  // Past a sequence's length the state is carried and the output is 0 (exact: Where, not arithmetic).
  const hNext = mt === null ? hNew : body.op('Where', [mt, hNew, hPrev]);
  const yt = mt === null ? hNew : body.op('Where', [mt, hNew, body.floats([0], [])]);
  body.output(`${prefix}.scan_h_out_l${l}_d${d}`, hNext, 'float', ['batch', H]);
  body.output(`${prefix}.scan_y_l${l}_d${d}`, yt, 'float', ['batch', H]);
  return scanOutputs(g, body, x, h0, mask, d);
}

function scanOutputs(g: Graph, body: Graph, x: string, h0: string, mask: string | null, d: number): { y: string; h: string } {
  const n = mask === null ? 1 : 2;
  const [h, y] = g.opN('Scan', mask === null ? [h0, x] : [h0, x, mask], 2, {
    body: { graph: body }, num_scan_inputs: { int: n }, scan_input_directions: { ints: Array(n).fill(d) }, scan_output_directions: { ints: [d] },
  });
  return { y, h };
}

/**
 * One step of a cell ONNX has no operator for, x (B, D) and h (B, H) to h' (B, H), with the recurrence of
 * Recurrent's JSDoc. Each gate's pre-activation is its products plus one summed bias.
 */
export function plainCellStep(g: Graph, cell: CellKind, w: Weights, H: number, x: string, h: string, name: string): string {
  const bias = (gate: number): string => {
    const b = new Float32Array(H);
    for (const src of [w.bih, w.bhh]) if (src !== null) for (let j = 0; j < H; j++) b[j] += src[gate * H + j];
    return g.weight(`${name}.bias_${gate}`, b, [H]);
  };
  const xw = (block: number): string => g.op('MatMul', [x, g.weight(`${name}.ih_${block}`, transposedBlocks(w.wih, H, w.D, block), [w.D, H])]); // (B, H)
  const hw = (block: number, operand: string): string => g.op('MatMul', [operand, g.weight(`${name}.hh_${block}`, transposedBlocks(w.whh, H, H, block), [H, H])]); // (B, H)
  const sum = (...terms: string[]): string => terms.reduce((a, b) => g.op('Add', [a, b]));
  const sigmoid = (t: string): string => g.op('Sigmoid', [t]);
  const tanh = (t: string): string => g.op('Tanh', [t]);
  const mix = (n: string, z: string, keep: 'z' | 'one_minus_z'): string => {
    // gru_cho: (1 - z) ⊙ n + z ⊙ h;  mut: n ⊙ z + h ⊙ (1 - z)
    const oneMinusZ = g.op('Sub', [g.floats([1], []), z]);
    return keep === 'z' ? g.op('Add', [g.op('Mul', [oneMinusZ, n]), g.op('Mul', [z, h])]) : g.op('Add', [g.op('Mul', [n, z]), g.op('Mul', [h, oneMinusZ])]);
  };
  switch (cell) {
    case 'gru_cho': { // ih [r, z, n]; hh [r·h, z·h, n·(r ⊙ h)]
      const r = sigmoid(sum(xw(0), hw(0, h), bias(0)));
      const z = sigmoid(sum(xw(1), hw(1, h), bias(1)));
      const n = tanh(sum(xw(2), hw(2, g.op('Mul', [r, h])), bias(2)));
      return mix(n, z, 'z');
    }
    case 'mut1': { // ih [z, r]; hh [r·h, h·(r ⊙ h)]; z = σ(W_xz x + b_z), h' uses tanh(x)
      const z = sigmoid(sum(xw(0), bias(0)));
      const r = sigmoid(sum(xw(1), hw(0, h), bias(1)));
      const n = tanh(sum(hw(1, g.op('Mul', [r, h])), tanh(x), bias(2)));
      return mix(n, z, 'one_minus_z');
    }
    case 'mut2': { // ih [z, h]; hh [z·h, r·h, h·(r ⊙ h)]; r reads x bare
      const z = sigmoid(sum(xw(0), hw(0, h), bias(0)));
      const r = sigmoid(sum(x, hw(1, h), bias(1)));
      const n = tanh(sum(hw(2, g.op('Mul', [r, h])), xw(1), bias(2)));
      return mix(n, z, 'one_minus_z');
    }
    case 'mut3': { // ih [z, r, h]; hh [z·tanh(h), r·h, h·(r ⊙ h)]
      const z = sigmoid(sum(xw(0), hw(0, tanh(h)), bias(0)));
      const r = sigmoid(sum(xw(1), hw(1, h), bias(1)));
      const n = tanh(sum(hw(2, g.op('Mul', [r, h])), xw(2), bias(2)));
      return mix(n, z, 'one_minus_z');
    }
    case 'rnn_tanh': case 'rnn_relu': case 'lstm': case 'gru':
      throw new Error(`plainCellStep: ${cell} has an ONNX operator of its own`);
    default:
      return cell satisfies never;
  }
}

/**
 * One step of a unidirectional stack: x (B, D), h and c (L, B, H) to the top layer's output (B, H) and the
 * new states. The ONNX operators run over a sequence of one step.
 */
export function stackStep(g: Graph, rnn: Recurrent, prefix: string, x: string, h: string, c: string | null): StackOut {
  if (rnn.bidirectional) throw new Error('stackStep: a bidirectional stack cannot be stepped');
  const { hiddenSize: H, numLayers: L, cell } = rnn;
  if (ONNX_OP[cell] !== undefined) {
    const r = stackSequence(g, rnn, prefix, g.op('Unsqueeze', [x, g.ints([0])]), { h0: h, c0: c, lengths32: null, mask: null }); // x (1, B, D)
    return { ...r, y: g.op('Squeeze', [r.y, g.ints([0])]) }; // (B, H)
  }
  const hs: string[] = [];
  let input = x;
  for (let l = 0; l < L; l++) {
    const hl = g.op('Squeeze', [g.op('Slice', [h, g.ints([l]), g.ints([l + 1]), g.ints([0])]), g.ints([0])]); // (B, H)
    input = plainCellStep(g, cell, weightsOf(rnn, l, 0), H, input, hl, `${prefix}.l${l}`);
    hs.push(g.op('Unsqueeze', [input, g.ints([0])])); // (1, B, H)
  }
  return { y: input, h: hs.length === 1 ? hs[0] : g.op('Concat', hs, { axis: { int: 0 } }), c: null };
}

/** (T, B, 1) bool mask t < lengths[b] and the int32 lengths, from int64 lengths (B) and any (T, B, ·) tensor x. */
export function lengthMasks(g: Graph, lengths: string, x: string): { lengths32: string; mask: string } {
  const T = g.op('Slice', [g.op('Shape', [x]), g.ints([0]), g.ints([1])]); // [T]
  const t = g.op('Range', [g.ints([0], true), g.op('Squeeze', [T, g.ints([0])]), g.ints([1], true)]); // (T)
  const mask = g.op('Less', [g.op('Unsqueeze', [t, g.ints([1, 2])]), g.op('Unsqueeze', [lengths, g.ints([0, 2])])]); // (T, 1, 1) < (1, B, 1) -> (T, B, 1)
  return { lengths32: g.op('Cast', [lengths], { to: { int: 6 } }), mask }; // 6 = INT32
}
