// The long-range experiment's two library pieces: the recall-task generator and its accuracy metric
// (src/data/long-range-task.ts), and recurrentSteps (src/nn/recurrent/recurrent-steps.ts), whose per-step
// state gradients ∂L/∂h_t are checked three ways: the stepped layer equals the fused one (outputs and
// every gradient), each hs[t].grad equals the fused layer's h0 gradient when it is restarted from h_t,
// and central differences on h_t itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { longRangeAccuracy, longRangeBatch, longRangeVocabSize } from '../src/data/long-range-task.js';
import { createRecurrent, type CellKind, type Recurrent } from '../src/nn/recurrent/index.js';
import { recurrentSteps } from '../src/nn/recurrent/recurrent-steps.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { randomTensor } from './util/gradcheck.js';

// ---- the task ----

test('long-range batches: the label is the first token, distractors after it, the same seed gives the same batch', () => {
  const opts = { distance: 7, numClasses: 3, numDistractors: 5 };
  const a = longRangeBatch(opts, 400, new Rng(3));
  const b = longRangeBatch(opts, 400, new Rng(3));
  const c = longRangeBatch(opts, 400, new Rng(4));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.ids, c.ids);
  assert.equal(a.T, 8);
  assert.equal(a.B, 400);
  assert.equal(a.ids.length, 8 * 400);
  assert.equal(longRangeVocabSize(opts), 8);
  const classes = new Array(3).fill(0);
  const distractors = new Array(8).fill(0);
  for (let b = 0; b < a.B; b++) {
    assert.equal(a.ids[b], a.labels[b], `sequence ${b} starts with its label`);
    classes[a.labels[b]]++;
    for (let t = 1; t < a.T; t++) {
      const id = a.ids[t * a.B + b];
      assert.ok(id >= 3 && id < 8, `step ${t} of sequence ${b} is a distractor, got id ${id}`);
      distractors[id]++;
    }
  }
  for (const n of classes) assert.ok(n > 100 && n < 170, `classes are drawn uniformly: counts ${classes}`);
  for (let id = 3; id < 8; id++) assert.ok(distractors[id] > 400 && distractors[id] < 720, `distractors are drawn uniformly: counts ${distractors}`);
  assert.equal(longRangeBatch({ distance: 1 }, 2, new Rng(1)).T, 2);
});

test('long-range task options: bad values and unknown keys are rejected by name', () => {
  const rng = new Rng(1);
  assert.throws(() => longRangeBatch({ distance: 0 }, 4, rng), /distance must be an integer >= 1, got 0/);
  assert.throws(() => longRangeBatch({ distance: 2.5 }, 4, rng), /distance must be an integer >= 1, got 2.5/);
  assert.throws(() => longRangeBatch({ distance: 5, numClasses: 1 }, 4, rng), /numClasses must be an integer >= 2, got 1/);
  assert.throws(() => longRangeBatch({ distance: 5, numDistractors: 0 }, 4, rng), /numDistractors must be an integer >= 1, got 0/);
  assert.throws(() => longRangeBatch({ distance: 5, gap: 3 } as never, 4, rng), /unknown option "gap"/);
  assert.throws(() => longRangeBatch({ distance: 5 }, 0, rng), /batchSize must be a positive integer, got 0/);
  assert.throws(() => longRangeVocabSize({} as never), /distance must be an integer >= 1, got undefined/);
});

test('long-range accuracy: argmax against the labels, the first class on ties', () => {
  tidy(() => {
    const logits = Tensor.from([0.1, 0.9, 2, -1, 0.5, 0.5, 3, 3.5], [4, 2]); // (B, K)
    assert.equal(longRangeAccuracy(logits, [1, 0, 0, 1]), 1);
    assert.equal(longRangeAccuracy(logits, [0, 0, 1, 1]), 0.5);
    assert.throws(() => longRangeAccuracy(logits, [1, 0]), /logits must have shape \(B, K\) with B = 2 labels, got \[4, 2\]/);
  });
});

// ---- recurrentSteps ----

interface Case {
  cell: CellKind;
  numLayers: number;
  initialState: boolean;
}

const CASES: Case[] = [
  { cell: 'rnn_tanh', numLayers: 1, initialState: true },
  { cell: 'lstm', numLayers: 1, initialState: true },
  { cell: 'gru', numLayers: 1, initialState: false },
  { cell: 'lstm', numLayers: 2, initialState: false },
  { cell: 'gru', numLayers: 2, initialState: true },
];

const T = 6;
const B = 2;
const D = 3;
const H = 4;

/** Max |a - b| within 1e-5 of b's scale (plus a floor for tiny values). */
function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: lengths`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    assert.ok(e <= rel * scale + 1e-7, `${what}[${i}]: ${got[i]} vs ${want[i]} (scale ${scale.toExponential(2)})`);
  }
}

interface Setup {
  layer: Recurrent;
  x: Tensor; // (T, B, D)
  h0: Tensor | undefined; // (L, B, H)
  c0: Tensor | undefined; // (L, B, H)
  dOut: Tensor; // (T, B, H)
  dh: Tensor; // (L, B, H)
  dc: Tensor | null; // (L, B, H)
}

function setup(c: Case, seed: number): Setup {
  const rng = new Rng(seed);
  const layer = createRecurrent(c.cell, { inputSize: D, hiddenSize: H, numLayers: c.numLayers }, rng);
  const L = c.numLayers;
  const lstm = c.cell === 'lstm';
  return {
    layer,
    x: randomTensor(rng, [T, B, D]),
    h0: c.initialState ? randomTensor(rng, [L, B, H], 0.8) : undefined,
    c0: c.initialState && lstm ? randomTensor(rng, [L, B, H], 0.8) : undefined,
    dOut: randomTensor(rng, [T, B, H], 1, false),
    dh: randomTensor(rng, [L, B, H], 1, false),
    dc: lstm ? randomTensor(rng, [L, B, H], 1, false) : null,
  };
}

/** The loss the tests differentiate: sum(output ⊙ dOut) + sum(h ⊙ dh) (+ sum(c ⊙ dc)). */
function lossOf(s: Setup, r: { output: Tensor; h: Tensor; c: Tensor | null }): Tensor {
  let l = ops.add(ops.sum(ops.mul(r.output, s.dOut)), ops.sum(ops.mul(r.h, s.dh)));
  if (r.c !== null && s.dc !== null) l = ops.add(l, ops.sum(ops.mul(r.c, s.dc)));
  return l; // [1]
}

function initial(s: Setup): { h0?: Tensor; c0?: Tensor } {
  return { ...(s.h0 === undefined ? {} : { h0: s.h0 }), ...(s.c0 === undefined ? {} : { c0: s.c0 }) };
}

/** Values and gradients of one forward/backward, copied out. */
function snapshot(s: Setup, run: () => { output: Tensor; h: Tensor; c: Tensor | null }): Map<string, Float32Array> {
  const inputs: Array<[string, Tensor | undefined]> = [['x', s.x], ['h0', s.h0], ['c0', s.c0]];
  for (const [, t] of inputs) t?.zeroGrad();
  s.layer.zeroGrad();
  return tidy(() => {
    const r = run();
    backward(lossOf(s, r));
    const out = new Map<string, Float32Array>([['output', r.output.data.slice()], ['h', r.h.data.slice()]]);
    if (r.c !== null) out.set('c', r.c.data.slice());
    for (const [k, t] of inputs) if (t !== undefined) out.set(`grad ${k}`, t.grad!.data.slice());
    for (const [k, p] of s.layer.namedParameters()) out.set(`grad ${k}`, p.grad!.data.slice());
    return out;
  });
}

/**
 * The part of the loss that h_k and c_k can still change, computed with the fused layer restarted from
 * them: sum(h_k[L-1] ⊙ dOut_k) + the loss of steps k+1..T-1 (plus the final-state terms).
 */
function lossFrom(s: Setup, k: number, hk: Tensor, ck: Tensor | null): Tensor {
  const L = s.layer.numLayers;
  const here = ops.sum(ops.mul(ops.select(hk, L - 1), ops.select(s.dOut, k))); // [1]
  if (k === T - 1) {
    let l = ops.add(here, ops.sum(ops.mul(hk, s.dh)));
    if (ck !== null && s.dc !== null) l = ops.add(l, ops.sum(ops.mul(ck, s.dc)));
    return l;
  }
  const rest = Tensor.from(s.x.data.subarray((k + 1) * B * D), [T - 1 - k, B, D]); // (T-1-k, B, D)
  const r = s.layer.forward(rest, ck === null ? { h0: hk } : { h0: hk, c0: ck });
  const dOutRest = Tensor.from(s.dOut.data.subarray((k + 1) * B * H), [T - 1 - k, B, H]); // (T-1-k, B, H)
  let l = ops.add(here, ops.add(ops.sum(ops.mul(r.output, dOutRest)), ops.sum(ops.mul(r.h, s.dh))));
  if (r.c !== null && s.dc !== null) l = ops.add(l, ops.sum(ops.mul(r.c, s.dc)));
  return l;
}

for (const c of CASES) {
  const name = `${c.cell} L${c.numLayers}${c.initialState ? ' h0' : ''}`;

  test(`recurrentSteps equals the fused layer, values and every gradient: ${name}`, () => {
    const s = setup(c, 11 + c.numLayers);
    const fused = snapshot(s, () => s.layer.forward(s.x, initial(s)));
    const stepped = snapshot(s, () => recurrentSteps(s.layer, s.x, initial(s)));
    assert.deepEqual([...stepped.keys()], [...fused.keys()]);
    for (const [k, want] of fused) assertClose(`${name} ${k}`, stepped.get(k)!, want);
  });

  test(`recurrentSteps: hs[k].grad is ∂L/∂h_k, against the fused layer restarted from h_k and central differences: ${name}`, () => {
    const s = setup(c, 21 + c.numLayers);
    const L = c.numLayers;
    s.layer.zeroGrad();
    tidy(() => {
      const r = recurrentSteps(s.layer, s.x, initial(s));
      assert.equal(r.hs.length, T);
      assert.equal(r.cs === null, c.cell !== 'lstm');
      backward(lossOf(s, r));
      for (let k = 0; k < T; k++) {
        // Chain rule check: restart the fused layer from copies of h_k, c_k and take its h0/c0 gradient.
        const hk = Tensor.from(r.hs[k].data, [L, B, H], true); // (L, B, H)
        const ck = r.cs === null ? null : Tensor.from(r.cs[k].data, [L, B, H], true); // (L, B, H)
        backward(lossFrom(s, k, hk, ck));
        assertClose(`${name} ∂L/∂h_${k}`, r.hs[k].grad!.data, hk.grad!.data);
        if (ck !== null) assertClose(`${name} ∂L/∂c_${k}`, r.cs![k].grad!.data, ck.grad!.data);
      }
      // Central differences on every coordinate of h_2 (and c_2), through the fused forward.
      const k = 2;
      const hk = Tensor.from(r.hs[k].data, [L, B, H]);
      const ck = r.cs === null ? null : Tensor.from(r.cs[k].data, [L, B, H]);
      const f = (): number => noGrad(() => tidy(() => lossFrom(s, k, hk, ck).item()));
      const eps = 1e-2;
      for (const [what, t, grad] of [['h', hk, r.hs[k].grad!], ...(ck === null ? [] : [['c', ck, r.cs![k].grad!] as const])] as const) {
        const g = grad.data;
        for (let i = 0; i < t.size; i++) {
          const orig = t.data[i];
          t.data[i] = orig + eps;
          const up = f();
          t.data[i] = orig - eps;
          const down = f();
          t.data[i] = orig;
          const numeric = (up - down) / (2 * eps);
          assert.ok(Math.abs(g[i] - numeric) <= 2e-2 * Math.max(1, Math.abs(numeric)), `${name} ∂L/∂${what}_${k}[${i}]: tape ${g[i]} vs central difference ${numeric}`);
        }
      }
    });
    s.layer.dispose();
  });
}

test('recurrentSteps: only the loss-reachable states get gradients, and they decay from the loss back for a contracting RNN', () => {
  const rng = new Rng(5);
  const layer = createRecurrent('rnn_tanh', { inputSize: 2, hiddenSize: 3 }, rng);
  for (const [, p] of layer.namedParameters()) p.data.forEach((v, i, a) => (a[i] = v * 0.5)); // spectral radius < 1
  tidy(() => {
    const x = randomTensor(rng, [12, 1, 2], 1, false); // (T, B, D)
    const r = recurrentSteps(layer, x);
    backward(ops.sum(r.h)); // the loss reads the final state only
    const norms = r.hs.map((h) => Math.hypot(...h.grad!.data));
    for (let t = 1; t < norms.length; t++) assert.ok(norms[t - 1] < norms[t], `‖∂L/∂h_t‖ grows towards the loss: ${norms.map((n) => n.toExponential(1)).join(' ')}`);
  });
  layer.dispose();
});

test('recurrentSteps rejects what it cannot step', () => {
  const rng = new Rng(2);
  const bi = createRecurrent('gru', { inputSize: 2, hiddenSize: 3, bidirectional: true }, rng);
  const bf = createRecurrent('gru', { inputSize: 2, hiddenSize: 3, batchFirst: true }, rng);
  const ok = createRecurrent('lstm', { inputSize: 2, hiddenSize: 3 }, rng);
  tidy(() => {
    const x = randomTensor(rng, [4, 1, 2]); // (T, B, D)
    assert.throws(() => recurrentSteps(bi, x), /bidirectional/);
    assert.throws(() => recurrentSteps(bf, x), /batchFirst/);
    assert.throws(() => recurrentSteps(ok, x, { lengths: [4] } as never), /unknown option "lengths"/);
    assert.throws(() => recurrentSteps(ok, randomTensor(rng, [4, 1, 3])), /x must have shape \(T, B, inputSize\) .* inputSize 2, got \[4, 1, 3\]/);
    assert.throws(() => recurrentSteps(ok, x, { h0: randomTensor(rng, [2, 1, 3]) }), /h0 must have shape/);
  });
  for (const l of [bi, bf, ok]) l.dispose();
});
