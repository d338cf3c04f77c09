// The image kernels of every fast backend against the reference (the definition): im2col, col2imAcc, and
// max pooling forward (values and arg-max; the 2×2 tiles' vector path and the general one) and backward on random and odd shapes — strides larger than
// the kernel, padding wider than the image, rectangular windows, one-pixel planes, ties, -∞ and NaN. They
// move and compare floats in the same order, so they must agree exactly. Also their checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, WindowGeometry } from '../src/backend/backend.js';
import { referenceBackend as ref } from '../src/backend/reference.js';
import { heap } from '../src/tensor/heap.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { fastBackends } from './util/backends.js';

const fast = fastBackends();
const rng = new Rng(1717);

const rand = (n: number): Tensor => Tensor.from(Float32Array.from({ length: n }, () => rng.normal()));
const ints = (t: Tensor): Int32Array => new Int32Array(heap.memory.buffer, t.offset, t.size);

function geometry(C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): WindowGeometry {
  return { C, H, W, kh, kw, sh, sw, ph, pw, OH: Math.floor((H + 2 * ph - kh) / sh) + 1, OW: Math.floor((W + 2 * pw - kw) / sw) + 1 };
}

/** [C, H, W, kh, kw, sh, sw, ph, pw] */
const convShapes: number[][] = [
  [1, 1, 1, 1, 1, 1, 1, 0, 0], [3, 5, 6, 3, 3, 1, 1, 1, 1], [2, 7, 5, 3, 2, 2, 1, 0, 1], [4, 9, 11, 5, 5, 2, 2, 2, 2],
  [3, 8, 8, 1, 1, 1, 1, 0, 0], [2, 6, 7, 2, 3, 3, 4, 2, 0], [1, 3, 3, 3, 3, 5, 5, 4, 4], [5, 13, 4, 3, 1, 1, 3, 1, 0],
  [2, 17, 19, 4, 6, 3, 2, 1, 3], [3, 33, 31, 3, 3, 1, 1, 1, 1],
];
const label = (g: WindowGeometry): string =>
  `C=${g.C} ${g.H}×${g.W} kernel ${g.kh}×${g.kw} stride ${g.sh}×${g.sw} padding ${g.ph}×${g.pw} -> ${g.OH}×${g.OW}`;

/** Runs fn on the reference and on `be` with copies of the same operands; returns both results' floats. */
function both(be: Backend, make: () => Tensor[], fn: (b: Backend, ts: Tensor[]) => Tensor[]): [number[][], number[][]] {
  return tidy(() => {
    const a = make();
    const copies = a.map((t) => Tensor.from(t.data, t.shape));
    return [fn(ref, a).map((t) => t.toArray()), fn(be, copies).map((t) => t.toArray())];
  });
}

for (const be of fast) {
  test(`${be.name}: im2col and col2imAcc equal the reference exactly, rows packed or strided`, () => {
    for (const s of convShapes) {
      const g = geometry(...(s as [number, number, number, number, number, number, number, number, number]));
      const K = g.C * g.kh * g.kw;
      const P = g.OH * g.OW;
      for (const ldc of [P, P + 3]) {
        const [want, got] = both(be, () => [rand(g.C * g.H * g.W), rand(K * ldc + 2)], (b, [x, cols]) => {
          b.im2col(g, x.data, cols.data, ldc); // the floats between and after the rows stay as they were
          return [cols];
        });
        assert.deepEqual(got, want, `im2col ${label(g)} ldc ${ldc}`);
        const [want2, got2] = both(be, () => [rand(K * ldc), rand(g.C * g.H * g.W)], (b, [cols, dx]) => {
          b.col2imAcc(g, cols.data, ldc, dx.data); // accumulates into a nonzero dx
          return [dx];
        });
        assert.deepEqual(got2, want2, `col2imAcc ${label(g)} ldc ${ldc}`);
      }
    }
  });

  test(`${be.name}: max pooling forward (values and arg-max) and backward equal the reference exactly`, () => {
    const poolShapes = [
      [6, 4, 4, 2, 2, 2, 2, 0, 0], [3, 7, 5, 3, 3, 2, 2, 1, 1], [2, 5, 8, 3, 2, 1, 3, 1, 0], [1, 1, 1, 1, 1, 1, 1, 0, 0],
      [4, 9, 9, 2, 2, 1, 1, 1, 1], [2, 11, 6, 5, 3, 4, 2, 2, 1], [3, 6, 6, 2, 2, 3, 3, 0, 0], [5, 32, 31, 2, 2, 2, 2, 0, 0],
      [2, 9, 16, 2, 2, 2, 2, 0, 0], [3, 8, 17, 2, 2, 2, 2, 0, 0], // the 2×2 tiles' vector path: whole rows of it, an odd last column
    ];
    for (const s of poolShapes) {
      const g = geometry(...(s as [number, number, number, number, number, number, number, number, number]));
      const n = g.C * g.OH * g.OW;
      const input = (): Tensor => {
        // Small integers (many ties), a few -∞ and NaN.
        const x = Tensor.from(Float32Array.from({ length: g.C * g.H * g.W }, () => {
          const u = rng.uniform();
          return u < 0.05 ? -Infinity : u < 0.08 ? NaN : Math.floor(4 * rng.uniform()) - 2;
        }));
        return x;
      };
      const [want, got] = both(be, () => [input(), rand(n), new Tensor([n]), rand(n), rand(g.C * g.H * g.W)], (b, [x, y, idx, dy, dx]) => {
        b.maxPool2dForward(g, x.data, y.data, ints(idx));
        b.maxPool2dBackwardAcc(g, dy.data, ints(idx), dx.data);
        return [y, Tensor.from(Array.from(ints(idx))), dx];
      });
      const nan = (a: number[][]): string => JSON.stringify(a.map((r) => r.map((v) => (Number.isNaN(v) ? 'NaN' : v))));
      assert.equal(nan(got), nan(want), `max pool ${label(g)}`);
    }
  });
}

for (const be of [ref, ...fast]) {
  test(`${be.name}: image kernels check their geometry, buffers and indices`, () => {
    tidy(() => {
      const g = geometry(2, 5, 5, 3, 3, 1, 1, 1, 1); // 5×5 out, 18 rows of 25
      const x = rand(50);
      assert.throws(() => be.im2col(g, x.data, rand(449).data, 25), /^Error: (reference|wasm) backend: im2col: cols has 449 elements, needs 450$/);
      assert.throws(() => be.im2col(g, x.data, rand(534).data, 30), /im2col: cols has 534 elements, needs 535$/); // 17 rows of 30, then 25
      assert.throws(() => be.im2col(g, x.data, rand(450).data, 24), /im2col: the row stride ldc must be an integer >= OH·OW = 25, got 24/);
      assert.throws(() => be.im2col({ ...g, OH: 4 }, x.data, rand(450).data, 25), /im2col: output 4×5 is not the 5×5 of a 3×3 window over 5×5/);
      assert.throws(() => be.col2imAcc({ ...g, sh: 0 }, rand(450).data, 25, x.data), /col2imAcc: sh must be a positive integer, got 0/);
      assert.throws(() => be.col2imAcc(g, rand(450).data, 25, rand(49).data), /col2imAcc: dx has 49 elements, needs C·H·W = 50/);
      const p = geometry(2, 4, 4, 2, 2, 2, 2, 0, 0);
      const idx = new Tensor([8]);
      const wide = geometry(2, 4, 4, 3, 3, 2, 2, 2, 1);
      assert.throws(() => be.maxPool2dForward(wide, rand(32).data, rand(50).data, ints(new Tensor([50]))), /padding 2×1 is more than half the 3×3 window/);
      be.maxPool2dForward(p, rand(32).data, rand(8).data, ints(idx));
      const ids = ints(idx);
      ids[5] = 16;
      const dx = new Tensor([32]);
      assert.throws(() => be.maxPool2dBackwardAcc(p, rand(8).data, ints(idx), dx.data), /maxPool2dBackwardAcc: argmax 16 at 5 is outside its plane of 4×4/);
      assert.ok(dx.toArray().every((v) => v === 0), 'nothing written when an index is bad');
    });
  });
}
