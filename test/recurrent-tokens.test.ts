// Recurrent.forwardTokens (the first layer's input projection taken per table row, TokenInput in
// recurrent-stack.ts) against forward(embedding(table, ids)): outputs and every gradient, the table's
// included, for every cell kind and the layer options that change the stack's bookkeeping; plus a
// finite-difference check of the table's gradient and the errors for bad arguments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { cellKinds, createRecurrent, type CellKind } from '../src/nn/recurrent/index.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';
import type { LayerCase } from './util/layer-case.js';

const cases: LayerCase[] = [
  { name: 'L1', opts: {}, T: 7, B: 3 },
  { name: 'L2 bidi lengths', opts: { numLayers: 2, bidirectional: true }, T: 6, B: 4, lengths: [6, 2, 5, 1] },
  { name: 'L2 batchFirst no-bias', opts: { numLayers: 2, batchFirst: true, bias: false }, T: 5, B: 3 },
];

/** MUT1/MUT2 read x in an H-wide gate: their input is H wide (D = H), and a deep stack cannot be bidirectional. */
const readsX = (cell: CellKind): boolean => cell === 'mut1' || cell === 'mut2';
const D = (cell: CellKind, H: number): number => (readsX(cell) ? H : 3);

function results(cell: CellKind, c: LayerCase, viaTokens: boolean): Map<string, Float32Array> {
  const H = 4;
  const V = 5; // fewer rows than T·B ids, so forwardTokens takes the per-row path
  const layer = createRecurrent(cell, { inputSize: D(cell, H), hiddenSize: H, ...c.opts }, new Rng(1));
  const data = new Rng(2);
  const table = randomTensor(data, [V, D(cell, H)]);
  const ids = Int32Array.from({ length: c.T * c.B }, () => Math.floor(data.uniform() * V));
  const shape: [number, number] = c.opts.batchFirst ? [c.B, c.T] : [c.T, c.B];
  const dirs = c.opts.bidirectional ? 2 : 1;
  const L = c.opts.numLayers ?? 1;
  const h0 = randomTensor(data, [L * dirs, c.B, H]);
  const up = randomTensor(data, [...shape, dirs * H], 1, false);
  const upH = randomTensor(data, [L * dirs, c.B, H], 1, false);
  const out = new Map<string, Float32Array>();
  tidy(() => {
    const opts = { h0, lengths: c.lengths };
    const r = viaTokens ? layer.forwardTokens(table, ids, shape, opts) : layer.forward(ops.embedding(table, ids, shape), opts);
    backward(ops.add(ops.sum(ops.mul(r.output, up)), ops.sum(ops.mul(r.h, upH))));
    out.set('output', r.output.data.slice());
    out.set('h', r.h.data.slice());
    out.set('grad table', table.grad!.data.slice());
    out.set('grad h0', h0.grad!.data.slice());
    for (const [k, p] of layer.namedParameters()) out.set(`grad ${k}`, p.grad!.data.slice());
  });
  return out;
}

for (const cell of cellKinds) {
  test(`forwardTokens equals forward(embedding(...)): ${cell}`, () => {
    for (const c of cases) {
      if (readsX(cell) && c.opts.bidirectional && (c.opts.numLayers ?? 1) > 1) continue;
      const want = results(cell, c, false);
      const got = results(cell, c, true);
      assert.deepEqual([...got.keys()], [...want.keys()]);
      for (const [k, w] of want) {
        const g = got.get(k)!;
        const scale = Math.max(1e-3, ...w.map(Math.abs));
        for (let i = 0; i < w.length; i++) {
          assert.ok(Math.abs(g[i] - w[i]) <= 2e-6 * scale, `${cell} ${c.name} ${k}[${i}]: ${g[i]} vs ${w[i]} (scale ${scale})`);
        }
      }
    }
  });
}

test('gradcheck: forwardTokens, the table and the weights', () => {
  for (const cell of ['lstm', 'gru', 'rnn_tanh'] as const) {
    const layer = createRecurrent(cell, { inputSize: 3, hiddenSize: 3, numLayers: 2, bidirectional: true }, new Rng(3));
    const data = new Rng(4);
    const table = randomTensor(data, [4, 3]);
    const ids = Int32Array.from([0, 3, 3, 1, 2, 0, 1, 1, 3, 2]); // (T 5, B 2)
    const inputs = [table, ...layer.parameters()];
    gradcheck(`${cell} tokens`, () => {
      const r = layer.forwardTokens(table, ids, [5, 2], { lengths: [5, 3] });
      return [r.output, r.h];
    }, inputs, { eps: 1e-3, maxPerInput: 24 });
  }
});

test('forwardTokens: bad arguments name what is wrong', () => {
  const layer = createRecurrent('lstm', { inputSize: 3, hiddenSize: 2 }, new Rng(1));
  const table = new Tensor([4, 3]);
  assert.throws(() => layer.forwardTokens(new Tensor([4, 2]), new Int32Array(6), [3, 2]), /table must have shape \(V, inputSize\) with inputSize 3, got \[4, 2\]/);
  assert.throws(() => layer.forwardTokens(table, new Int32Array(5), [3, 2]), /ids must be an Int32Array of 3·2 = 6 ids, got 5/);
  assert.throws(() => layer.forwardTokens(table, Int32Array.from([0, 1, 4, 0, 0, 0]), [3, 2]), /id 4 at position 2 is outside the table \[0, 4\)/);
  assert.throws(() => layer.forwardTokens(table, new Int32Array(6), [3, 0] as unknown as [number, number]), /shape must be two positive integers/);
  table.dispose();
  layer.dispose();
});
