// Attention: finite-difference checks of the new primitives (bmm, maskedSoftmax, indexSelect) and of every
// attention kind; masked source positions get weight exactly 0 and no gradient; options are validated.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { Attention, attentionKinds } from '../src/nn/attention.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const rng = new Rng(17);

test('bmm, plain and with b transposed', () => {
  const a = randomTensor(rng, [3, 2, 4]);
  const b = randomTensor(rng, [3, 4, 5]);
  gradcheck('bmm', () => ops.bmm(a, b), [a, b]);
  const bt = randomTensor(rng, [3, 5, 4]);
  gradcheck('bmm transB', () => ops.bmm(a, bt, true), [a, bt]);
  // Against matmul batch by batch.
  const out = ops.bmm(a, b);
  for (let n = 0; n < 3; n++) {
    const want = ops.matmul(ops.select(a, n), ops.select(b, n)).toArray();
    ops.select(out, n).toArray().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5));
  }
  assert.throws(() => ops.bmm(a, bt), /bmm: shapes \[3, 2, 4\] and \[3, 5, 4\] do not multiply/);
});

test('maskedSoftmax: gradients, exact zeros where masked, a fully masked row is 0 not NaN', () => {
  const x = randomTensor(rng, [3, 5], 3);
  const mask = [1, 1, 0, 1, 0, /**/ 1, 1, 1, 1, 1, /**/ 0, 1, 0, 0, 0];
  gradcheck('maskedSoftmax', () => ops.maskedSoftmax(x, mask), [x]);
  gradcheck('maskedSoftmax no mask', () => ops.maskedSoftmax(x, null), [x]);
  const y = ops.maskedSoftmax(x, mask).toArray();
  mask.forEach((m, i) => (m === 0 ? assert.equal(y[i], 0) : assert.ok(y[i] > 0)));
  assert.ok(Math.abs(y[10 + 1] - 1) < 1e-7, 'a single kept entry gets weight 1');
  for (let r = 0; r < 3; r++) assert.ok(Math.abs(y.slice(r * 5, r * 5 + 5).reduce((p, q) => p + q, 0) - 1) < 1e-6);
  // Huge logits do not overflow; nothing kept gives zeros.
  const big = Tensor.from([1000, -1000, 999, 5], [2, 2], true);
  const z = ops.maskedSoftmax(big, [1, 1, 0, 0]);
  assert.deepEqual(z.toArray(), [1, 0, 0, 0]);
  tidy(() => {
    backward(ops.sum(ops.mul(z, Tensor.from([1, 2, 3, 4], [2, 2]))));
    assert.deepEqual(Array.from(big.grad!.data), [0, 0, 0, 0]);
  });
  assert.throws(() => ops.maskedSoftmax(x, [1, 0]), /maskedSoftmax: mask has 2 entries, x \[3, 5\] has 15/);
});

test('indexSelect along each dimension, with repeats', () => {
  const x = randomTensor(rng, [3, 4, 2]);
  gradcheck('indexSelect dim 0', () => ops.indexSelect(x, 0, [2, 0, 2, 2]), [x]);
  gradcheck('indexSelect dim 1', () => ops.indexSelect(x, 1, [3, 3, 1]), [x]);
  gradcheck('indexSelect dim 2', () => ops.indexSelect(x, 2, [1, 0, 1]), [x]);
  const y = ops.indexSelect(x, 1, [3, 0]);
  assert.deepEqual(y.shape, [3, 2, 2]);
  assert.deepEqual(y.toArray().slice(0, 4), [...x.data.slice(6, 8), ...x.data.slice(0, 2)]);
  assert.throws(() => ops.indexSelect(x, 1, [4]), /indexSelect: index 4 \(position 0\) is outside dimension 1 of size 4/);
  assert.throws(() => ops.indexSelect(x, 3, [0]), /indexSelect: dim 3 is outside/);
});

test('every attention kind: gradients of context and weights w.r.t. query, keys and parameters', () => {
  for (const kind of attentionKinds) {
    const r = new Rng(5);
    const Q = 4;
    const E = kind === 'luong-dot' ? Q : 3;
    const att = new Attention({ kind, querySize: Q, keySize: E, ...(kind === 'bahdanau' ? { attentionSize: 5 } : {}) }, r);
    const B = 3;
    const S = 4;
    const q = randomTensor(r, [B, Q]);
    const keys = randomTensor(r, [B, S, E]);
    const lengths = [4, 2, 1];
    gradcheck(`attention ${kind}`, () => {
      const out = att.forward(q, att.prepare(keys, lengths));
      return [out.context, out.weights];
    }, [q, keys, ...att.parameters()]);
  }
});

test('Luong attention with Tq queries per row: the same as Tq single queries, with gradients; bahdanau refuses', () => {
  for (const kind of ['luong-dot', 'luong-general'] as const) {
    const r = new Rng(9);
    const Q = 3;
    const att = new Attention({ kind, querySize: Q, keySize: kind === 'luong-dot' ? Q : 5 }, r);
    const [B, Tq, S] = [2, 3, 4];
    const q = randomTensor(r, [B, Tq, Q]);
    const keys = randomTensor(r, [B, S, att.keySize]);
    const lengths = [4, 2];
    const many = att.forward(q, att.prepare(keys, lengths));
    assert.deepEqual(many.context.shape, [B, Tq, att.keySize]);
    assert.deepEqual(many.weights.shape, [B, Tq, S]);
    for (let t = 0; t < Tq; t++) {
      const qt = Tensor.from(Float32Array.from({ length: B * Q }, (_, i) => q.data[(Math.floor(i / Q) * Tq + t) * Q + (i % Q)]), [B, Q]); // (B, Q)
      const one = att.forward(qt, att.prepare(keys, lengths));
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < S; s++) assert.ok(Math.abs(one.weights.data[b * S + s] - many.weights.data[(b * Tq + t) * S + s]) < 1e-6, `${kind} weight b${b} t${t} s${s}`);
        for (let e = 0; e < att.keySize; e++) {
          assert.ok(Math.abs(one.context.data[b * att.keySize + e] - many.context.data[(b * Tq + t) * att.keySize + e]) < 1e-6, `${kind} context b${b} t${t}`);
        }
      }
    }
    gradcheck(`attention ${kind}, Tq queries`, () => {
      const out = att.forward(q, att.prepare(keys, lengths));
      return [out.context, out.weights];
    }, [q, keys, ...att.parameters()]);
  }
  const r = new Rng(1);
  const bahdanau = new Attention({ kind: 'bahdanau', querySize: 3, keySize: 3 }, r);
  assert.throws(() => bahdanau.forward(randomTensor(r, [2, 2, 3]), bahdanau.prepare(randomTensor(r, [2, 4, 3]))), /'bahdanau' takes one query per row/);
});

test('masked source positions get weight exactly 0 and no gradient', () => {
  for (const kind of attentionKinds) {
    const r = new Rng(9);
    const att = new Attention({ kind, querySize: 3, keySize: 3 }, r);
    const B = 2;
    const S = 5;
    const lengths = [2, 5];
    const q = randomTensor(r, [B, 3], 2);
    const keys = randomTensor(r, [B, S, 3], 2);
    keys.zeroGrad();
    tidy(() => {
      const { context, weights } = att.forward(q, att.prepare(keys, lengths));
      const w = weights.toArray();
      for (let s = 2; s < S; s++) assert.equal(w[s], 0, `${kind}: weight of padded position ${s}`);
      for (let b = 0; b < B; b++) assert.ok(Math.abs(w.slice(b * S, (b + 1) * S).reduce((p, v) => p + v, 0) - 1) < 1e-6, `${kind}: row ${b} sums to 1`);
      // The context only sees real positions: changing a padded key changes nothing.
      backward(ops.sum(ops.add(ops.sum(context), ops.sum(ops.mul(weights, Tensor.from(Array.from({ length: B * S }, (_, i) => i), [B, S]))))));
      const g = keys.grad!.data;
      for (let s = 2; s < S; s++) for (let j = 0; j < 3; j++) assert.equal(g[s * 3 + j], 0, `${kind}: gradient at padded key ${s}`);
      assert.ok(g.slice(0, 6).some((v) => v !== 0), `${kind}: real keys do get a gradient`);
    });
  }
});

test('attention options are validated', () => {
  const r = new Rng(1);
  assert.throws(() => new Attention({ kind: 'cosine' as never, querySize: 3, keySize: 3 }, r), /Attention kind must be one of bahdanau, luong-dot, luong-general, got "cosine"/);
  assert.throws(() => new Attention({ kind: 'luong-dot', querySize: 3, keySize: 4 }, r), /'luong-dot' needs keySize = querySize/);
  assert.throws(() => new Attention({ kind: 'luong-dot', querySize: 3, keySize: 3, scale: 2 } as never, r), /unknown option "scale"/);
  assert.throws(() => new Attention({ kind: 'luong-general', querySize: 3, keySize: 3, attentionSize: 4 }, r), /attentionSize applies to 'bahdanau' only/);
  const att = new Attention({ kind: 'bahdanau', querySize: 3, keySize: 2 }, r);
  assert.deepEqual(att.namedParameters().map(([n, t]) => [n, t.shape]), [['query.weight', [3, 3]], ['key.weight', [3, 2]], ['v.weight', [1, 3]]]);
  const keys = randomTensor(r, [2, 4, 2], 1, false);
  assert.throws(() => att.prepare(keys, [4, 0]), /lengths\[1\] must be an integer in \[1, S = 4\], got 0/);
  assert.throws(() => att.prepare(randomTensor(r, [2, 4, 3], 1, false)), /keys must have shape \(B, S, keySize = 2\), got \[2, 4, 3\]/);
  assert.throws(() => att.forward(randomTensor(r, [3, 3], 1, false), att.prepare(keys)), /query must have shape \(B = 2, querySize = 3\) or \(B, Tq, querySize\), got \[3, 3\]/);
});
