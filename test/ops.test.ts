// Finite-difference gradient checks for every differentiable primitive in autograd/ops.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { Rng } from '../src/random/rng.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const rng = new Rng(7);

test('matmul', () => {
  const a = randomTensor(rng, [3, 5]);
  const b = randomTensor(rng, [5, 4]);
  gradcheck('matmul', () => ops.matmul(a, b), [a, b]);
});

test('linear with bias', () => {
  const x = randomTensor(rng, [2, 3, 5]);
  const w = randomTensor(rng, [4, 5]);
  const b = randomTensor(rng, [4]);
  gradcheck('linear', () => ops.linear(x, w, b), [x, w, b]);
});

test('unary ops', () => {
  for (const f of [ops.tanh, ops.sigmoid, ops.exp, ops.neg]) {
    const x = randomTensor(rng, [4, 3]);
    gradcheck(f.name, () => f(x), [x]);
  }
});

test('binary ops with broadcasting', () => {
  for (const f of [ops.add, ops.sub, ops.mul]) {
    const a = randomTensor(rng, [3, 4]);
    const b = randomTensor(rng, [4]);
    gradcheck('binary', () => f(a, b), [a, b]);
  }
});

test('relu away from 0', () => {
  // Inputs at least 0.2 from the kink, so the ±eps (1e-2) differences never cross it.
  const x = randomTensor(rng, [4, 3]);
  x.data.forEach((v, i, d) => (d[i] = Math.sign(v || 1) * (0.2 + Math.abs(v))));
  gradcheck('relu', () => ops.relu(x), [x]);
});

test('scale, sum, mean', () => {
  const x = randomTensor(rng, [3, 4]);
  gradcheck('scale', () => ops.scale(x, -2.5), [x]);
  gradcheck('sum', () => ops.sum(x), [x]);
  gradcheck('mean', () => ops.mean(x), [x]);
});

test('reshape', () => {
  const x = randomTensor(rng, [2, 6]);
  gradcheck('reshape', () => ops.reshape(x, [3, 2, 2]), [x]);
});

test('narrow', () => {
  const x = randomTensor(rng, [2, 3, 7]);
  gradcheck('narrow', () => ops.narrow(x, 2, 4), [x]);
  gradcheck('narrow at 0', () => ops.narrow(x, 0, 1), [x]);
});

test('concat along the last dimension', () => {
  const a = randomTensor(rng, [2, 3, 2]);
  const b = randomTensor(rng, [2, 3, 5]);
  const c = randomTensor(rng, [2, 3, 1]);
  gradcheck('concat', () => ops.concat([a, b, c]), [a, b, c]);
});

test('select and stack', () => {
  const x = randomTensor(rng, [3, 2, 4]);
  gradcheck('select', () => ops.select(x, 1), [x]);
  const ys = [0, 1, 2].map(() => randomTensor(rng, [2, 3]));
  gradcheck('stack', () => ops.stack(ys), ys);
  // The same tensor twice: both uses add into its grad.
  gradcheck('stack repeated', () => ops.stack([ys[0], ys[1], ys[0]]), [ys[0], ys[1]]);
});

test('swapAxes01', () => {
  const x = randomTensor(rng, [3, 2, 4]);
  gradcheck('swapAxes01 3-d', () => ops.swapAxes01(x), [x]);
  const y = randomTensor(rng, [2, 5]);
  gradcheck('swapAxes01 2-d', () => ops.swapAxes01(y), [y]);
  const z = ops.swapAxes01(x);
  assert.deepEqual(z.shape, [2, 3, 4]);
  assert.equal(z.data[(1 * 3 + 2) * 4 + 3], x.data[(2 * 2 + 1) * 4 + 3], 'out[1][2][3] = x[2][1][3]');
});

test('embedding, with repeated ids', () => {
  const w = randomTensor(rng, [5, 3]);
  const ids = Int32Array.from([4, 0, 4, 2, 2, 2]);
  gradcheck('embedding', () => ops.embedding(w, ids, [2, 3]), [w]);
});

test('embedding and indexSelect: backward uses the ids given at forward time, even if the caller reuses the buffer', () => {
  const w = randomTensor(rng, [4, 2]);
  const ids = Int32Array.from([1, 1, 3]);
  const out = ops.embedding(w, ids, [3]);
  const picked = ops.indexSelect(w, 0, ids);
  ids.fill(0); // e.g. a decoder overwriting its previous-token buffer for the next step
  backward(ops.add(ops.sum(out), ops.sum(picked)));
  assert.deepEqual(Array.from(w.grad!.data), [0, 0, 4, 4, 0, 0, 2, 2]);
});

test('crossEntropy, including ignored rows', () => {
  const logits = randomTensor(rng, [6, 5], 2);
  gradcheck('crossEntropy', () => ops.crossEntropy(logits, Int32Array.from([1, -100, 4, 0, -100, 3])), [logits]);
  gradcheck('crossEntropy ignoreIndex 2', () => ops.crossEntropy(logits, Int32Array.from([2, 0, 2, 1, 4, 2]), 2), [logits]);
  gradcheck('crossEntropy label smoothing 0.2', () => ops.crossEntropy(logits, Int32Array.from([1, -100, 4, 0, -100, 3]), -100, 0.2), [logits]);
  const seq = randomTensor(rng, [2, 3, 4], 2); // (B, T, V)
  gradcheck('crossEntropy (B, T, V)', () => ops.crossEntropy(seq, Int32Array.from([0, 3, -100, 1, 2, 2])), [seq]);
});

test('mse', () => {
  const a = randomTensor(rng, [3, 4]);
  const b = randomTensor(rng, [3, 4]);
  gradcheck('mse', () => ops.mse(a, b), [a, b]);
});

test('dropout with a fixed mask (a fresh generator of the same seed per call)', () => {
  const x = randomTensor(rng, [4, 5]);
  gradcheck('dropout', () => ops.dropout(x, 0.4, new Rng(11), true), [x]);
  // The mask is what it says: each output is 0 or x / (1 - p), and both occur.
  const y = ops.dropout(x, 0.4, new Rng(11), true).toArray();
  let zeros = 0;
  y.forEach((v, i) => {
    if (v === 0) zeros++;
    else assert.ok(Math.abs(v - x.data[i] / 0.6) < 1e-6, `kept element ${i} is scaled by 1/(1-p)`);
  });
  assert.ok(zeros > 0 && zeros < y.length);
  // Evaluation mode and p = 0 return the input itself.
  assert.equal(ops.dropout(x, 0.4, new Rng(11), false), x);
  assert.equal(ops.dropout(x, 0, new Rng(11), true), x);
});
