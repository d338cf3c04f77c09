// Finite-difference gradient checks of the Transformer ops (autograd/transformer-ops.ts and the helpers
// in ops.ts): LayerNorm, GELU, fused attention over every operand layout and mask (and its weights
// output), first-dimension slices, means over an axis, positions added along time. Runs on the backend
// RECURRENT_BACKEND selects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/autograd/ops.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const rng = new Rng(31);

test('layerNorm with and without weight and bias', () => {
  const x = randomTensor(rng, [3, 2, 5], 2);
  const w = randomTensor(rng, [5]);
  const b = randomTensor(rng, [5]);
  gradcheck('layerNorm affine', () => ops.layerNorm(x, 5, w, b, 1e-5), [x, w, b]);
  gradcheck('layerNorm over two dims, weight only', () => ops.layerNorm(x, 10, randomTensorOnce, null, 1e-5), [x, randomTensorOnce]);
  gradcheck('layerNorm plain', () => ops.layerNorm(x, 5, null, null, 1e-3), [x]);
});
const randomTensorOnce = randomTensor(new Rng(2), [10]);

test('gelu, exact and tanh', () => {
  const x = randomTensor(rng, [4, 7], 3);
  gradcheck('gelu', () => ops.gelu(x), [x]);
  gradcheck('gelu tanh', () => ops.gelu(x, 'tanh'), [x]);
  assert.throws(() => ops.gelu(x, 'erf' as never), /approximate must be 'none' or 'tanh', got "erf"/);
});

test('attention: separate q, k, v time-major, with an attention mask, key padding and the weights output', () => {
  const [B, heads, L, S, D] = [2, 2, 3, 4, 3];
  const E = heads * D;
  const q = randomTensor(rng, [L, B, E]);
  const k = randomTensor(rng, [S, B, E]);
  const v = randomTensor(rng, [S, B, E]);
  const mask = Tensor.from(Array.from({ length: L * S }, (_, i) => (i % 5 === 3 ? -Infinity : Math.sin(i))), [L, S]);
  const kpm = Tensor.from([0, 0, 0, -Infinity, 0, 0, 0.5, 0], [B, S]);
  gradcheck('attention', () => {
    const { output, weights } = ops.scaledDotProductAttention({ tensor: q, batchFirst: false }, { tensor: k, batchFirst: false }, { tensor: v, batchFirst: false },
      { heads, embedDim: E, attnMask: mask, keyPaddingMask: kpm });
    return [output, weights];
  }, [q, k, v]);
});

test('attention: packed q/k/v columns of one batch-first tensor, causal, per-problem mask, dropout', () => {
  const [B, heads, T, D] = [2, 3, 4, 2];
  const E = heads * D;
  const qkv = randomTensor(rng, [B, T, 3 * E]);
  const mask = Tensor.from(Array.from({ length: B * heads * T * T }, (_, i) => 0.3 * Math.cos(i)), [B * heads, T, T]);
  gradcheck('attention packed causal dropout', () => {
    const o = (column: number) => ({ tensor: qkv, batchFirst: true, column });
    const { output, weights } = ops.scaledDotProductAttention(o(0), o(E), o(2 * E), {
      heads, embedDim: E, attnMask: mask, causal: true, dropout: { p: 0.3, rng: new Rng(9) }, // the same mask on every call
    });
    return [output, weights];
  }, [qkv]);
});

test('attention: a cache-like key operand (its first `length` steps) and L < S with causal alignment at the end', () => {
  const [B, heads, L, S, D] = [2, 1, 2, 5, 3];
  const q = randomTensor(rng, [B, L, D]);
  const kv = randomTensor(rng, [B, 7, 2 * D]); // capacity 7, 5 filled
  gradcheck('attention cache', () => ops.scaledDotProductAttention({ tensor: q, batchFirst: true }, { tensor: kv, batchFirst: true, length: S },
    { tensor: kv, batchFirst: true, column: D, length: S }, { heads, embedDim: D, causal: true }).output, [q, kv]);
  // The last query sees every key, the first all but the last (causal, aligned at the end).
  const w = noGrad(() => tidy(() => ops.scaledDotProductAttention({ tensor: q, batchFirst: true }, { tensor: kv, batchFirst: true, length: S },
    { tensor: kv, batchFirst: true, column: D, length: S }, { heads, embedDim: D, causal: true }).weights.toArray()));
  assert.equal(w[S - 1], 0);
  assert.ok(w.slice(S, 2 * S).every((x) => x > 0));
});

test('attention rejects bad shapes with one line naming them', () => {
  const q = randomTensor(rng, [3, 2, 6], 1, false);
  const k = randomTensor(rng, [4, 2, 6], 1, false);
  const o = (t: Tensor) => ({ tensor: t, batchFirst: false });
  assert.throws(() => ops.scaledDotProductAttention(o(q), o(k), o(k), { heads: 4, embedDim: 6 }), /4 heads do not divide the width 6/);
  assert.throws(() => ops.scaledDotProductAttention(o(q), o(k), o(k), { heads: 2, embedDim: 6, attnMask: new Tensor([3, 3]) }), /attnMask has shape \[3, 3\], expected \[3, 4\] or \[4, 3, 4\]/);
  assert.throws(() => ops.scaledDotProductAttention(o(q), o(k), o(k), { heads: 2, embedDim: 6, keyPaddingMask: new Tensor([4, 2]) }), /keyPaddingMask has shape \[4, 2\], expected \[2, 4\]/);
  assert.throws(() => ops.scaledDotProductAttention(o(q), o(randomTensor(rng, [4, 3, 6], 1, false)), o(k), { heads: 2, embedDim: 6 }), /batch sizes differ/);
});

test('sliceRows, meanAxis, addPositions (time-major and batch-first)', () => {
  const w = randomTensor(rng, [6, 4]);
  gradcheck('sliceRows', () => ops.sliceRows(w, 2, 3), [w]);
  const x = randomTensor(rng, [2, 3, 4, 2]);
  gradcheck('meanAxis 1', () => ops.meanAxis(x, 1), [x]);
  gradcheck('meanAxis 3', () => ops.meanAxis(x, 3), [x]);
  const table = randomTensor(rng, [6, 4]);
  for (const batchFirst of [false, true]) {
    const s = randomTensor(rng, batchFirst ? [2, 3, 4] : [3, 2, 4]);
    gradcheck(`addPositions ${batchFirst ? 'batch-first' : 'time-major'}`, () => ops.addPositions(s, table, 2, batchFirst), [s, table]);
  }
  noGrad(() => tidy(() => {
    const t = Tensor.from([1, 2, 3, 4, 5, 6], [3, 2]);
    const y = ops.addPositions(Tensor.zeros([2, 2, 2]), t, 1, false); // (T=2, B=2, E=2): rows 1 and 2 of the table
    assert.deepEqual(y.toArray(), [3, 4, 3, 4, 5, 6, 5, 6]);
    assert.throws(() => ops.addPositions(Tensor.zeros([3, 1, 2]), t, 1, false), /positions \[1, 4\) are outside the table's 3/);
  }));
});
