// recurrentSteps: a recurrent layer run one time step at a time, so that the state after every step is
// its own tensor on the tape and backward leaves ∂loss/∂h_t in its grad — what the vanishing-gradient
// curve ‖∂L/∂h_{T-1-k}‖ against k is read from. The math is the fused layer's (each step is the layer
// itself over a sequence of one step, from the previous state); only the bookkeeping is here.
// Not here: the fused whole-sequence layer (recurrent.ts), which is much faster and what training uses.

import { reshape, select, stack } from '../../autograd/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { rejectUnknownKeys, type Recurrent, type RecurrentState } from './recurrent.js';

export interface RecurrentStepsOptions {
  /** (L, B, H) initial state; zeros when absent. */
  h0?: Tensor;
  /** (L, B, H) initial cell state, LSTM only; zeros when absent. */
  c0?: Tensor;
}

export interface RecurrentSteps extends RecurrentState {
  /**
   * T tensors (L, B, H): hs[t] is the state of every layer after step t. Every later step, and the
   * output, reads the state through these tensors, so after backward(loss) hs[t].grad is the whole
   * ∂loss/∂h_t (null when the loss does not depend on it). hs[T-1] is also `h`.
   */
  hs: Tensor[];
  /**
   * T tensors (L, B, H), the cell states, likewise (LSTM); null for the other cells. `c` is cs[T-1]. The
   * state after step t is the pair (h_t, c_t): hs[t].grad holds c_t fixed and cs[t].grad holds h_t fixed,
   * as the fused layer's h0 and c0 gradients do (so cs[T-1].grad is null when the loss reads only h).
   */
  cs: Tensor[] | null;
}

const KEYS = ['h0', 'c0'] as const;

/**
 * Runs `layer` over x (T, B, D) as T calls of layer.forward on one step each, the state passed on as
 * h0 (and c0): h_t = layer(x_t; h_{t-1}). Outputs equal the fused layer's over the whole sequence
 * (output (T, B, H) is the last layer's h_t; h, c the final states), with T tape nodes instead of one.
 * Unidirectional, time-major layers only (a reverse direction's state at t depends on later inputs).
 * In training mode with dropout between layers, masks are drawn step by step, so for the same rng state
 * they differ from the fused layer's draw.
 */
export function recurrentSteps(layer: Recurrent, x: Tensor, opts: RecurrentStepsOptions = {}): RecurrentSteps {
  const name = 'recurrentSteps';
  if (opts === null || typeof opts !== 'object') throw new Error(`${name}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${name} options`, opts, KEYS);
  if (layer.bidirectional) throw new Error(`${name}: the layer is bidirectional; a reverse direction's state at step t depends on later steps, so it cannot be stepped forward`);
  if (layer.batchFirst) throw new Error(`${name}: the layer is batchFirst; step a time-major layer (batchFirst false) with x of shape (T, B, D)`);
  if (!(x instanceof Tensor) || x.shape.length !== 3 || x.shape[2] !== layer.inputSize || x.shape[0] === 0 || x.shape[1] === 0) {
    const got = x instanceof Tensor ? `[${x.shape.join(', ')}]` : String(x);
    throw new Error(`${name}: x must have shape (T, B, inputSize) with T, B >= 1 and inputSize ${layer.inputSize}, got ${got}`);
  }
  const [T, B, D] = x.shape;
  const L = layer.numLayers;
  let h = opts.h0; // (L, B, H) or undefined: the layer checks the shapes
  let c = opts.c0; // (L, B, H) or undefined
  const hs: Tensor[] = [];
  const cs: Tensor[] = [];
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const xt = reshape(select(x, t), [1, B, D]); // (1, B, D)
    const r = layer.forward(xt, { ...(h === undefined ? {} : { h0: h }), ...(c === undefined ? {} : { c0: c }) });
    h = r.h; // (L, B, H)
    hs.push(h);
    if (r.c !== null) {
      c = r.c; // (L, B, H)
      cs.push(c);
    }
    // The output is read from h_t, not from the step's own output tensor, so that every path from the
    // loss to step t passes through hs[t] and its grad is the whole derivative.
    outs.push(select(h, L - 1)); // (B, H)
  }
  const output = stack(outs); // (T, B, H)
  return { output, h: hs[T - 1], c: cs.length > 0 ? cs[T - 1] : null, hs, cs: cs.length > 0 ? cs : null };
}
