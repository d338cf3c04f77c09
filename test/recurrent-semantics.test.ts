// What the recurrent layers promise besides gradients: packed-sequence semantics (zeros past a length,
// final state at the last valid step), dropout only in training, PyTorch's parameter names, shapes and
// init, option validation with errors that name the option, no caches without the tape, flat memory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../src/autograd/tape.js';
import * as ops from '../src/autograd/ops.js';
import { CELL_LAYOUTS } from '../src/backend/backend.js';
import {
  GRU, LSTM, MUT1, MUT2, MUT3, RNN, Recurrent, cellKinds, createRecurrent, type CellKind, type RecurrentOptions,
} from '../src/nn/recurrent/index.js';
import { cellPlan } from '../src/nn/recurrent/cells.js';
import { blockBytes, heap } from '../src/tensor/heap.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { randomTensor } from './util/gradcheck.js';

const square = (cell: CellKind): boolean => cell === 'mut1' || cell === 'mut2';

/** Rows [b0, b0+n) of the batch dimension (1) of a (T, B, K) or (L, B, K) tensor, a plain copy. */
function batchRows(t: Tensor, b0: number, n: number, steps = t.shape[0]): Tensor {
  const [, B, K] = t.shape;
  const out = new Tensor([steps, n, K], t.requiresGrad);
  for (let s = 0; s < steps; s++) out.data.set(t.data.subarray((s * B + b0) * K, (s * B + b0 + n) * K), s * n * K);
  return out;
}

function assertAllClose(what: string, got: Float32Array, want: Float32Array, tol = 1e-6): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

test('outputs past a length are exactly zero; the final state is the truncated sequence run alone', () => {
  for (const cell of cellKinds) {
    const rng = new Rng(3);
    const H = 4;
    const D = square(cell) ? H : 3;
    const layer = createRecurrent(cell, { inputSize: D, hiddenSize: H, numLayers: 2, bidirectional: !square(cell) }, rng);
    const dirs = layer.bidirectional ? 2 : 1;
    const T = 5;
    const lengths = [5, 2, 1, 4];
    const B = lengths.length;
    const x = randomTensor(rng, [T, B, D], 1, false);
    const h0 = randomTensor(rng, [2 * dirs, B, H], 0.5, false);
    const c0 = cell === 'lstm' ? randomTensor(rng, [2 * dirs, B, H], 0.5, false) : undefined;
    tidy(() => {
      const r = layer.forward(x, { h0, c0, lengths });
      for (let b = 0; b < B; b++) {
        for (let t = lengths[b]; t < T; t++) {
          for (let j = 0; j < dirs * H; j++) assert.equal(r.output.data[(t * B + b) * dirs * H + j], 0, `${cell}: output[${t}, ${b}] past length ${lengths[b]}`);
        }
        // Sequence b alone, cut to its length, with its own initial state.
        const alone = layer.forward(batchRows(x, b, 1, lengths[b]), { h0: batchRows(h0, b, 1), c0: c0 && batchRows(c0, b, 1) });
        assertAllClose(`${cell}: h of sequence ${b}`, batchRows(r.h, b, 1).data, alone.h.data);
        if (r.c !== null) assertAllClose(`${cell}: c of sequence ${b}`, batchRows(r.c, b, 1).data, alone.c!.data);
        assertAllClose(`${cell}: outputs of sequence ${b}`, batchRows(r.output, b, 1, lengths[b]).data, alone.output.data);
      }
    });
    for (const t of [x, h0, c0]) t?.dispose();
    layer.dispose();
  }
});

test('carrying h (and c) across chunks equals one long run', () => {
  for (const cell of cellKinds) {
    const rng = new Rng(8);
    const layer = createRecurrent(cell, { inputSize: 3, hiddenSize: 3, numLayers: 2 }, rng);
    const x = randomTensor(rng, [6, 2, 3], 1, false);
    tidy(() => {
      const whole = layer.forward(x);
      const first = layer.forward(batchRows(x, 0, 2, 3));
      const rest = new Tensor([3, 2, 3]);
      rest.data.set(x.data.subarray(3 * 2 * 3));
      const second = layer.forward(rest, { h0: first.h, c0: first.c ?? undefined });
      assertAllClose(`${cell}: h`, second.h.data, whole.h.data);
      assertAllClose(`${cell}: last outputs`, second.output.data, whole.output.data.subarray(3 * 2 * 3));
    });
    x.dispose();
    layer.dispose();
  }
});

test('dropout: off in eval mode, p = 0 is no dropout, on (and drawn from the layer rng) in training', () => {
  const make = (dropout: number, seed: number) => new LSTM({ inputSize: 2, hiddenSize: 4, numLayers: 3, dropout }, new Rng(seed));
  const data = new Rng(1);
  const x = randomTensor(data, [4, 3, 2], 1, false);
  const withDrop = make(0.5, 11);
  const without = make(0, 11);
  tidy(() => {
    const ref = without.forward(x).output.toArray();
    assert.deepEqual(without.eval().forward(x).output.toArray(), ref, 'p = 0: eval and training agree');
    without.train();
    assert.deepEqual(withDrop.eval().forward(x).output.toArray(), ref, 'eval mode: dropout is off');
    const a = withDrop.train().forward(x).output.toArray();
    const b = withDrop.forward(x).output.toArray();
    assert.notDeepEqual(a, ref, 'training mode: dropout changes the output');
    assert.notDeepEqual(a, b, 'each forward draws fresh masks');
    // Under noGrad training mode still drops (mode, not the tape, decides).
    const c = noGrad(() => withDrop.forward(x).output.toArray());
    assert.notDeepEqual(c, ref);
  });
  // The same seed gives the same masks.
  const again = make(0.5, 11);
  const again2 = make(0.5, 11);
  tidy(() => assert.deepEqual(again.forward(x).output.toArray(), again2.forward(x).output.toArray()));
  for (const m of [withDrop, without, again, again2]) m.dispose();
  x.dispose();
});

test('LSTM 2-layer bidirectional: PyTorch parameter names, order and shapes', () => {
  const H = 5;
  const D = 3;
  const lstm = new LSTM({ inputSize: D, hiddenSize: H, numLayers: 2, bidirectional: true }, new Rng(0));
  const want: Array<[string, number[]]> = [];
  for (const [k, Dk] of [[0, D], [1, 2 * H]]) {
    for (const sfx of ['', '_reverse']) {
      want.push([`weight_ih_l${k}${sfx}`, [4 * H, Dk]], [`weight_hh_l${k}${sfx}`, [4 * H, H]], [`bias_ih_l${k}${sfx}`, [4 * H]], [`bias_hh_l${k}${sfx}`, [4 * H]]);
    }
  }
  assert.deepEqual(lstm.namedParameters().map(([k, t]) => [k, [...t.shape]]), want);
  assert.deepEqual([...new Map(lstm.namedParameters()).get('weight_ih_l1_reverse')!.shape], [4 * H, 2 * H]);
  lstm.dispose();
});

test('parameter shapes of every cell; no bias tensors with bias false', () => {
  const H = 2;
  const D = 2; // MUT1/2 need D == H
  const shapes = (cell: CellKind, bias = true) => {
    const m = createRecurrent(cell, { inputSize: D, hiddenSize: H, bias }, new Rng(0));
    const s = Object.fromEntries(m.namedParameters().map(([k, t]) => [k, [...t.shape]]));
    m.dispose();
    return s;
  };
  const pytorch = (G: number) => ({ weight_ih_l0: [G * H, D], weight_hh_l0: [G * H, H], bias_ih_l0: [G * H], bias_hh_l0: [G * H] });
  assert.deepEqual(shapes('rnn_tanh'), pytorch(1));
  assert.deepEqual(shapes('rnn_relu'), pytorch(1));
  assert.deepEqual(shapes('lstm'), pytorch(4));
  assert.deepEqual(shapes('gru'), pytorch(3));
  assert.deepEqual(shapes('gru_cho'), pytorch(3));
  assert.deepEqual(shapes('mut1'), { weight_ih_l0: [2 * H, D], weight_hh_l0: [2 * H, H], bias_ih_l0: [3 * H] });
  assert.deepEqual(shapes('mut2'), { weight_ih_l0: [2 * H, D], weight_hh_l0: [3 * H, H], bias_ih_l0: [3 * H] });
  assert.deepEqual(shapes('mut3'), { weight_ih_l0: [3 * H, D], weight_hh_l0: [3 * H, H], bias_ih_l0: [3 * H] });
  for (const cell of cellKinds) assert.deepEqual(Object.keys(shapes(cell, false)), ['weight_ih_l0', 'weight_hh_l0'], `${cell} bias false`);
});

test('init: U(-1/√H, 1/√H) for every tensor, drawn from the rng in registration order', () => {
  const H = 4;
  const rng = new Rng(42);
  const gru = new GRU({ inputSize: 3, hiddenSize: H, numLayers: 2 }, rng);
  const replay = new Rng(42);
  const bound = 1 / Math.sqrt(H);
  for (const [k, t] of gru.namedParameters()) {
    for (const v of t.data) {
      assert.ok(Math.abs(v) <= bound, `${k}: ${v} outside ±${bound}`);
      assert.equal(v, Math.fround((2 * replay.uniform() - 1) * bound), `${k}: drawn in order`);
    }
  }
  assert.deepEqual(rng.getState(), replay.getState(), 'nothing else drawn');
  gru.dispose();
});

test('named classes and createRecurrent build the right cells', () => {
  const o = { inputSize: 2, hiddenSize: 2 };
  const rng = new Rng(0);
  assert.equal(new RNN(o, rng).cell, 'rnn_tanh');
  assert.equal(new RNN({ ...o, nonlinearity: 'relu' }, rng).nonlinearity, 'relu');
  assert.equal(new GRU(o, rng).cell, 'gru');
  assert.equal(new GRU({ ...o, variant: 'cho' }, rng).cell, 'gru_cho');
  assert.equal(new MUT1(o, rng).cell, 'mut1');
  assert.equal(new MUT2(o, rng).cell, 'mut2');
  assert.equal(new MUT3(o, rng).cell, 'mut3');
  const classes: Record<CellKind, new (...a: never[]) => Recurrent> = {
    rnn_tanh: RNN, rnn_relu: RNN, lstm: LSTM, gru: GRU, gru_cho: GRU, mut1: MUT1, mut2: MUT2, mut3: MUT3,
  };
  for (const cell of cellKinds) {
    const m = createRecurrent(cell, o, rng);
    assert.equal(m.cell, cell);
    assert.ok(m instanceof classes[cell], `${cell} is a ${classes[cell].name}`);
  }
  // The kernel contract and the parameter layout agree on which block is the stage-2 product.
  for (const cell of cellKinds) {
    const plan = cellPlan(cell);
    const u = plan.hh.filter((b) => b.operand === 'u');
    assert.equal(u.length, CELL_LAYOUTS[cell].stage0Gate === null ? 0 : 1, `${cell}: two-stage iff it has a u product`);
    assert.equal(plan.gateNames.length, plan.gates);
  }
});

function throwsNaming(fn: () => unknown, ...parts: RegExp[]): void {
  assert.throws(fn, (e: Error) => {
    for (const p of parts) assert.match(e.message, p);
    return true;
  });
}

test('bad options throw errors that name the option, what was expected and what was given', () => {
  const rng = new Rng(0);
  const base: RecurrentOptions = { inputSize: 3, hiddenSize: 4 };
  throwsNaming(() => new LSTM({ ...base, inputSize: 0 }, rng), /LSTM inputSize/, /positive integer/, /got 0/);
  throwsNaming(() => new LSTM({ ...base, hiddenSize: -2 }, rng), /hiddenSize/, /got -2/);
  throwsNaming(() => new GRU({ ...base, numLayers: 1.5 }, rng), /GRU numLayers/, /got 1.5/);
  throwsNaming(() => new LSTM({ ...base, dropout: 1 }, rng), /dropout/, /\[0, 1\)/, /got 1/);
  throwsNaming(() => new LSTM({ ...base, dropout: -0.1 }, rng), /dropout/, /got -0.1/);
  throwsNaming(() => new LSTM({ ...base, dropout: 0.5 }, rng), /dropout 0.5 would do nothing with numLayers 1/);
  throwsNaming(() => new LSTM({ ...base, bidirectional: 'yes' as unknown as boolean }, rng), /bidirectional/, /true or false/, /got yes/);
  throwsNaming(() => new LSTM({ ...base, hidenSize: 4 } as unknown as RecurrentOptions, rng), /unknown option "hidenSize"/, /hiddenSize/);
  throwsNaming(() => new LSTM({ ...base, nonlinearity: 'relu' } as unknown as RecurrentOptions, rng), /unknown option "nonlinearity"/);
  throwsNaming(() => new LSTM({ ...base, projSize: undefined } as unknown as RecurrentOptions, rng), /unknown option "projSize"/);
  throwsNaming(() => new RNN({ ...base, nonlinearity: 'sigmoid' as 'tanh' }, rng), /nonlinearity/, /'tanh' or 'relu'/, /sigmoid/);
  throwsNaming(() => new GRU({ ...base, variant: 'keras' as 'cho' }, rng), /variant/, /'pytorch' or 'cho'/, /keras/);
  throwsNaming(() => createRecurrent('rnn_relu', { ...base, nonlinearity: 'tanh' } as RecurrentOptions, rng), /createRecurrent/, /nonlinearity/);
  throwsNaming(() => createRecurrent('lstmm' as CellKind, base, rng), /cell/, /lstmm/, /lstm, gru/);
  throwsNaming(() => new MUT1(base, rng), /MUT1 inputSize must equal hiddenSize \(4\)/, /got inputSize 3/);
  throwsNaming(() => new MUT2(base, rng), /MUT2 inputSize/);
  throwsNaming(() => new MUT2({ inputSize: 4, hiddenSize: 4, numLayers: 2, bidirectional: true }, rng), /MUT2/, /bidirectional/, /numLayers 2/);
  // MUT3 has no x term: any input size, any stacking.
  new MUT3({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true }, rng).dispose();

  const lstm = new LSTM({ ...base, numLayers: 2 }, rng);
  const gru = new GRU({ ...base, batchFirst: true }, rng);
  tidy(() => {
    const x = new Tensor([5, 2, 3]); // (T, B, D)
    throwsNaming(() => lstm.forward(new Tensor([5, 2, 4])), /LSTM.forward: x/, /inputSize 3/, /\[5, 2, 4\]/);
    throwsNaming(() => lstm.forward(new Tensor([5, 3])), /x must have shape \(T, B, inputSize\)/, /\[5, 3\]/);
    throwsNaming(() => lstm.forward(x, { h0: new Tensor([1, 2, 4]) }), /h0/, /\[2, 2, 4\]/, /got \[1, 2, 4\]/);
    throwsNaming(() => lstm.forward(x, { c0: new Tensor([2, 3, 4]) }), /c0/, /\[2, 2, 4\]/, /got \[2, 3, 4\]/);
    throwsNaming(() => lstm.forward(x, { lengths: [5] }), /lengths/, /B = 2/, /got 1 lengths/);
    throwsNaming(() => lstm.forward(x, { lengths: [5, 6] }), /lengths\[1\]/, /\[1, T = 5\]/, /got 6/);
    throwsNaming(() => lstm.forward(x, { lengths: [0, 2] }), /lengths\[0\]/, /got 0/);
    throwsNaming(() => lstm.forward(x, { lengths: [2.5, 2] }), /lengths\[0\]/, /integer/, /got 2.5/);
    throwsNaming(() => lstm.forward(x, { h: x } as never), /unknown option "h"/, /h0, c0, lengths/);
    throwsNaming(() => gru.forward(new Tensor([5, 2, 3]), { c0: new Tensor([1, 5, 4]) }), /c0 is only for LSTM/);
    throwsNaming(() => gru.forward(new Tensor([5, 2, 4])), /GRU.forward: x must have shape \(B, T, inputSize\)/);
    // c0: undefined is "not passed" (callers spread optional state).
    gru.forward(new Tensor([2, 5, 3]), { h0: undefined, c0: undefined });
  });
  lstm.dispose();
  gru.dispose();
});

test('without the tape nothing is cached; with it, memory returns to the baseline after each step', () => {
  for (const cell of ['lstm', 'mut3', 'gru_cho'] as const) {
    const layer = createRecurrent(cell, { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.2 }, new Rng(1));
    const x = randomTensor(new Rng(2), [6, 3, 3], 1, false);
    tidy(() => {
      const before = heap.stats().bytesInUse;
      const r = noGrad(() => layer.forward(x, { lengths: [6, 3, 5] }));
      const held = heap.stats().bytesInUse - before;
      assert.equal(held, [r.output, r.h, r.c].reduce((s, t) => s + (t === null ? 0 : blockBytes(t.size)), 0), `${cell}: only the results are held`);
      assert.equal(r.output.requiresGrad, false);
    });
    const step = (): void => tidy(() => {
      const r = layer.forward(x, { lengths: [6, 3, 5] });
      backward(ops.add(ops.sum(r.output), ops.sum(r.h)));
    });
    step(); // creates the parameter grads, which persist
    const baseline = heap.stats().bytesInUse;
    step();
    assert.equal(heap.stats().bytesInUse, baseline, `${cell}: a training step leaves nothing behind`);
    x.dispose();
    layer.dispose();
  }
});
