// Finite-difference gradient checks for every differentiable primitive in autograd/ops.ts.

import { test } from 'node:test';
import * as ops from '../src/autograd/ops.js';
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
