// The recurrent stack rebuilt from tape primitives (autograd/ops.ts), one step at a time, straight from
// the recurrences documented on Recurrent — the independent reference the fused layers' hand-derived
// BPTT is checked against. It reads the layer's own parameter tensors, so gradients land in the same
// place. Slow (one tape node per gate per step); for tests only.

import * as ops from '../../src/autograd/ops.js';
import type { Recurrent } from '../../src/nn/recurrent/index.js';
import { Rng, type RngState } from '../../src/random/rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

export interface TapeRecurrentOptions {
  h0?: Tensor;
  c0?: Tensor;
  lengths?: ArrayLike<number>;
  /** One (T, B, dirs·H) mask per layer but the last, multiplied into that layer's output. */
  dropMasks?: Tensor[];
}

interface Params {
  wih: Tensor;
  whh: Tensor;
  bih: Tensor | null;
  bhh: Tensor | null;
}

type Step = (p: Params, x: Tensor, h: Tensor, c: Tensor | null, H: number) => { h: Tensor; c: Tensor | null };

const { add, sub, mul, linear, narrow, sigmoid, tanh } = ops;
/** Gate block q (H wide) of the last dimension. */
const blk = (t: Tensor, q: number, H: number): Tensor => narrow(t, q * H, H);
/** a + b, or a when there is no bias. */
const plus = (a: Tensor, b: Tensor | null): Tensor => (b === null ? a : add(a, b));
/** Bias block q, or null. */
const bq = (b: Tensor | null, q: number, H: number): Tensor | null => (b === null ? null : blk(b, q, H));

const rnnStep = (act: (t: Tensor) => Tensor): Step => (p, x, h) => ({
  h: act(add(linear(x, p.wih, p.bih), linear(h, p.whh, p.bhh))), // (B, H)
  c: null,
});

const steps: Record<Recurrent['cell'], Step> = {
  rnn_tanh: rnnStep(tanh),
  rnn_relu: rnnStep(ops.relu),
  lstm: (p, x, h, c, H) => {
    const g = add(linear(x, p.wih, p.bih), linear(h, p.whh, p.bhh)); // (B, 4H) i, f, g, o
    const c2 = add(mul(sigmoid(blk(g, 1, H)), c!), mul(sigmoid(blk(g, 0, H)), tanh(blk(g, 2, H)))); // (B, H)
    return { h: mul(sigmoid(blk(g, 3, H)), tanh(c2)), c: c2 };
  },
  gru: (p, x, h, _c, H) => {
    const gi = linear(x, p.wih, p.bih); // (B, 3H) r, z, n
    const gh = linear(h, p.whh, p.bhh); // (B, 3H)
    const r = sigmoid(add(blk(gi, 0, H), blk(gh, 0, H)));
    const z = sigmoid(add(blk(gi, 1, H), blk(gh, 1, H)));
    const n = tanh(add(blk(gi, 2, H), mul(r, blk(gh, 2, H))));
    return { h: add(n, mul(z, sub(h, n))), c: null }; // (1 - z) n + z h
  },
  gru_cho: (p, x, h, _c, H) => {
    const gi = linear(x, p.wih, p.bih); // (B, 3H)
    const gh = linear(h, p.whh, p.bhh); // (B, 3H), r and z used
    const r = sigmoid(add(blk(gi, 0, H), blk(gh, 0, H)));
    const z = sigmoid(add(blk(gi, 1, H), blk(gh, 1, H)));
    const n = tanh(add(blk(gi, 2, H), blk(linear(mul(r, h), p.whh, p.bhh), 2, H))); // W_hn (r ⊙ h) + b_hn
    return { h: add(n, mul(z, sub(h, n))), c: null };
  },
  // MUT: W_ih [W_xz; W_xr], W_hh [W_hr; W_hh], bias_ih [b_z, b_r, b_h].
  mut1: (p, x, h, _c, H) => {
    const xi = linear(x, p.wih, null); // (B, 2H)
    const z = sigmoid(plus(blk(xi, 0, H), bq(p.bih, 0, H)));
    const r = sigmoid(plus(add(blk(xi, 1, H), blk(linear(h, p.whh, null), 0, H)), bq(p.bih, 1, H)));
    const n = tanh(plus(add(blk(linear(mul(r, h), p.whh, null), 1, H), tanh(x)), bq(p.bih, 2, H)));
    return { h: add(h, mul(z, sub(n, h))), c: null }; // n z + h (1 - z)
  },
  // W_ih [W_xz; W_xh], W_hh [W_hz; W_hr; W_hh].
  mut2: (p, x, h, _c, H) => {
    const xi = linear(x, p.wih, null); // (B, 2H)
    const hh = linear(h, p.whh, null); // (B, 3H)
    const z = sigmoid(plus(add(blk(xi, 0, H), blk(hh, 0, H)), bq(p.bih, 0, H)));
    const r = sigmoid(plus(add(x, blk(hh, 1, H)), bq(p.bih, 1, H)));
    const n = tanh(plus(add(blk(linear(mul(r, h), p.whh, null), 2, H), blk(xi, 1, H)), bq(p.bih, 2, H)));
    return { h: add(h, mul(z, sub(n, h))), c: null };
  },
  // W_ih [W_xz; W_xr; W_xh], W_hh [W_hz; W_hr; W_hh].
  mut3: (p, x, h, _c, H) => {
    const xi = linear(x, p.wih, null); // (B, 3H)
    const z = sigmoid(plus(add(blk(xi, 0, H), blk(linear(tanh(h), p.whh, null), 0, H)), bq(p.bih, 0, H)));
    const r = sigmoid(plus(add(blk(xi, 1, H), blk(linear(h, p.whh, null), 1, H)), bq(p.bih, 1, H)));
    const n = tanh(plus(add(blk(linear(mul(r, h), p.whh, null), 2, H), blk(xi, 2, H)), bq(p.bih, 2, H)));
    return { h: add(h, mul(z, sub(n, h))), c: null };
  },
};

/** The layer's forward, from primitives; same arguments and result shapes as Recurrent.forward. */
export function tapeRecurrent(layer: Recurrent, x: Tensor, opts: TapeRecurrentOptions = {}): { output: Tensor; h: Tensor; c: Tensor | null } {
  const { hiddenSize: H, numLayers: L, batchFirst, cell } = layer;
  const dirs = layer.bidirectional ? 2 : 1;
  const T = batchFirst ? x.shape[1] : x.shape[0];
  const B = batchFirst ? x.shape[0] : x.shape[1];
  const named = new Map(layer.namedParameters());
  const param = (name: string): Tensor | null => named.get(name) ?? null;

  // Inputs per time step, (B, D) each.
  let inputs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    inputs.push(batchFirst ? ops.stack(Array.from({ length: B }, (_, b) => ops.select(ops.select(x, b), t))) : ops.select(x, t));
  }
  const masks = Array.from({ length: T }, (_, t) => {
    if (opts.lengths === undefined) return null;
    const m = new Tensor([B, H]); // (B, H) 1 inside the sequence
    for (let b = 0; b < B; b++) if (t < opts.lengths[b]) m.data.fill(1, b * H, b * H + H);
    return m;
  });

  const finalsH: Tensor[] = [];
  const finalsC: Tensor[] = [];
  for (let l = 0; l < L; l++) {
    const ys: Tensor[][] = [];
    for (let d = 0; d < dirs; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const p: Params = { wih: param(`weight_ih${sfx}`)!, whh: param(`weight_hh${sfx}`)!, bih: param(`bias_ih${sfx}`), bhh: param(`bias_hh${sfx}`) };
      const slot = l * dirs + d;
      let h = opts.h0 !== undefined ? ops.select(opts.h0, slot) : new Tensor([B, H]); // (B, H)
      let c = cell !== 'lstm' ? null : opts.c0 !== undefined ? ops.select(opts.c0, slot) : new Tensor([B, H]);
      const y: Tensor[] = new Array(T);
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        const next = steps[cell](p, inputs[t], h, c, H);
        const m = masks[t];
        if (m === null) {
          h = next.h;
          c = next.c;
          y[t] = h;
        } else {
          // state = prev + m ⊙ (new - prev); output = m ⊙ state
          h = add(h, mul(m, sub(next.h, h)));
          if (c !== null) c = add(c, mul(m, sub(next.c!, c)));
          y[t] = mul(m, h);
        }
      }
      ys.push(y);
      finalsH.push(h);
      if (c !== null) finalsC.push(c);
    }
    inputs = Array.from({ length: T }, (_, t) => {
      const yt = dirs === 2 ? ops.concat([ys[0][t], ys[1][t]]) : ys[0][t]; // (B, dirs·H)
      const drop = l < L - 1 ? opts.dropMasks?.[l] : undefined;
      return drop === undefined ? yt : mul(yt, ops.select(drop, t));
    });
  }
  const output = batchFirst
    ? ops.stack(Array.from({ length: B }, (_, b) => ops.stack(inputs.map((yt) => ops.select(yt, b))))) // (B, T, dirs·H)
    : ops.stack(inputs); // (T, B, dirs·H)
  return { output, h: ops.stack(finalsH), c: finalsC.length > 0 ? ops.stack(finalsC) : null };
}

/**
 * The dropout masks a layer draws from an rng in state `state`, as documented: per layer boundary a
 * (T, B, dirs·H) mask, one uniform per element in storage order, 0 if below p else 1/(1-p).
 */
export function replayDropoutMasks(state: RngState, layer: Recurrent, T: number, B: number): Tensor[] {
  const rng = new Rng(state);
  const dirs = layer.bidirectional ? 2 : 1;
  const p = layer.dropout;
  return Array.from({ length: layer.numLayers - 1 }, () => {
    const m = new Tensor([T, B, dirs * layer.hiddenSize]); // (T, B, dirs·H)
    const v = m.data;
    for (let i = 0; i < v.length; i++) v[i] = rng.uniform() < p ? 0 : 1 / (1 - p);
    return m;
  });
}
