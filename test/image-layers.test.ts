// The image layers: finite-difference gradient checks of conv2d (stride, padding, rectangular kernels, no
// bias, odd sizes, batches), max pooling (stride, padding, overlapping windows) and the grid read-out;
// Conv2d's and MaxPool2d's options, names, init and errors; ImageEncoder's shapes, grid, receptive field
// and config. Runs on the backend RECURRENT_BACKEND selects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GROUP_FLOATS, conv2d, convGroupSize, imageGrid, maxPool2d, type Pair } from '../src/autograd/image-ops.js';
import { backend } from '../src/backend/registry.js';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { Conv2d, ImageEncoder, MaxPool2d } from '../src/nn/image/index.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const rng = new Rng(17);

interface ConvCase { B: number; C: number; O: number; H: number; W: number; k: Pair; s: Pair; p: Pair; bias: boolean }
const convCases: ConvCase[] = [
  { B: 2, C: 3, O: 4, H: 5, W: 6, k: [3, 3], s: [1, 1], p: [1, 1], bias: true },
  { B: 1, C: 2, O: 3, H: 7, W: 5, k: [3, 2], s: [2, 1], p: [0, 1], bias: false },
  { B: 3, C: 1, O: 2, H: 6, W: 7, k: [5, 5], s: [2, 2], p: [2, 2], bias: true },
  { B: 2, C: 4, O: 3, H: 3, W: 5, k: [1, 1], s: [1, 2], p: [0, 0], bias: true },
  { B: 1, C: 2, O: 2, H: 4, W: 4, k: [2, 3], s: [3, 2], p: [2, 0], bias: false }, // windows wholly in the padding
];

for (const c of convCases) {
  test(`conv2d gradients: B=${c.B} C=${c.C} O=${c.O} ${c.H}×${c.W} kernel ${c.k.join('×')} stride ${c.s.join('×')} padding ${c.p.join('×')}${c.bias ? '' : ' no bias'}`, () => {
    const x = randomTensor(rng, [c.B, c.C, c.H, c.W]);
    const w = randomTensor(rng, [c.O, c.C, ...c.k]);
    const b = c.bias ? randomTensor(rng, [c.O]) : null;
    gradcheck('conv2d', () => conv2d(x, w, b, c.s, c.p), b === null ? [x, w] : [x, w, b]);
  });
}

test('conv2d over several gemm groups, the last one partial, equals it image by image (output and every gradient)', () => {
  const [B, C, O, H, W] = [3, 64, 2, 48, 64]; // columns of 576 × 3072 floats: two images per group, then one
  assert.equal(convGroupSize(B, C * 9, H * W, 2), 2, 'the shapes make groups of two on two threads');
  assert.equal(convGroupSize(B, C * 9, H * W, 1), 1, 'and a gemm per image on one');
  assert.equal(convGroupSize(5, 27, 64, 2), 5, 'a small batch is one group');
  assert.equal(convGroupSize(2, C * 9, 2 * GROUP_FLOATS, 2), 1, 'columns over the bound: one image per group');
  // The fast backends run their gemms on two threads here, so that the groups are used (the reference has one).
  const be = backend();
  const saved = be.threads;
  if (be.setThreads !== undefined) be.setThreads(2);
  const x = randomTensor(rng, [B, C, H, W]);
  const w = randomTensor(rng, [O, C, 3, 3], 0.05);
  const b = randomTensor(rng, [O]);
  const dOut = randomTensor(rng, [B, O, H, W], 1, false);
  tidy(() => backward(conv2d(x, w, b, [1, 1], [1, 1]), dOut));
  const [out, dx, dw, db] = [tidy(() => conv2d(x, w, b, [1, 1], [1, 1]).toArray()), x.grad!.toArray(), w.grad!.toArray(), b.grad!.toArray()];
  w.zeroGrad();
  b.zeroGrad();
  const close = (what: string, got: ArrayLike<number>, want: ArrayLike<number>): void => {
    for (let j = 0; j < want.length; j++) assert.ok(Math.abs(got[j] - want[j]) <= 1e-4 * (1 + Math.abs(want[j])), `${what}[${j}]: ${got[j]} vs ${want[j]}`);
  };
  const n = C * H * W;
  for (let i = 0; i < B; i++) {
    const xi = Tensor.from(x.data.subarray(i * n, (i + 1) * n), [1, C, H, W], true);
    const m = O * H * W;
    tidy(() => {
      const yi = conv2d(xi, w, b, [1, 1], [1, 1]);
      close(`image ${i} output`, out.slice(i * m, (i + 1) * m), yi.data);
      backward(yi, Tensor.from(dOut.data.subarray(i * m, (i + 1) * m), yi.shape));
      close(`image ${i} dx`, dx.slice(i * n, (i + 1) * n), xi.grad!.data);
    });
    xi.dispose();
  }
  close('dweight', dw, w.grad!.data); // the three images' sums, accumulated one by one
  close('dbias', db, b.grad!.data);
  if (be.setThreads !== undefined) be.setThreads(saved!);
});

test('conv2d forward is the cross-correlation of its definition (direct sum, float64)', () => {
  tidy(() => {
    const [B, C, O, H, W, kh, kw, sh, sw, ph, pw] = [2, 3, 2, 6, 5, 3, 2, 2, 1, 1, 2];
    const x = randomTensor(rng, [B, C, H, W], 1, false);
    const w = randomTensor(rng, [O, C, kh, kw], 1, false);
    const bias = randomTensor(rng, [O], 1, false);
    const out = conv2d(x, w, bias, [sh, sw], [ph, pw]);
    const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
    const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
    assert.deepEqual(out.shape, [B, O, OH, OW]);
    for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) for (let y = 0; y < OH; y++) for (let z = 0; z < OW; z++) {
      let s = bias.data[o];
      for (let ci = 0; ci < C; ci++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const yy = y * sh - ph + i;
        const xx = z * sw - pw + j;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += w.data[((o * C + ci) * kh + i) * kw + j] * x.data[((b * C + ci) * H + yy) * W + xx];
      }
      const got = out.data[((b * O + o) * OH + y) * OW + z];
      assert.ok(Math.abs(got - s) < 1e-5, `out[${b}, ${o}, ${y}, ${z}] = ${got}, direct sum ${s}`);
    }
  });
});

/** Distinct values 0.1 apart (shuffled), so that a step of 1e-2 never changes a window's maximum. */
function spreadTensor(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => 0.1 * (i - n / 2));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [v[i], v[j]] = [v[j], v[i]];
  }
  return Tensor.from(v, shape, true);
}

const poolCases: Array<{ shape: number[]; k: Pair; s: Pair; p: Pair }> = [
  { shape: [2, 3, 6, 6], k: [2, 2], s: [2, 2], p: [0, 0] },
  { shape: [1, 2, 7, 5], k: [3, 3], s: [2, 2], p: [1, 1] }, // overlapping windows, padding, odd sizes
  { shape: [3, 1, 5, 8], k: [3, 2], s: [1, 3], p: [1, 0] },
  { shape: [1, 2, 5, 5], k: [2, 2], s: [1, 1], p: [1, 1] },
];
for (const c of poolCases) {
  test(`maxPool2d gradients: ${c.shape.join('×')} kernel ${c.k.join('×')} stride ${c.s.join('×')} padding ${c.p.join('×')}`, () => {
    const x = spreadTensor(c.shape);
    gradcheck('maxPool2d', () => maxPool2d(x, c.k, c.s, c.p), [x], { maxPerInput: 80 });
  });
}

test('maxPool2d: ties send the gradient to the first maximum in row order, overlapping windows add up, -∞ and NaN as PyTorch', () => {
  tidy(() => {
    const x = Tensor.from([1, 3, 3, 0, 3, 1, 2, 3, 0], [1, 1, 3, 3], true);
    const y = maxPool2d(x, [2, 2], [1, 1], [0, 0]); // windows at (0,0), (0,1), (1,0), (1,1)
    assert.deepEqual(y.toArray(), [3, 3, 3, 3]);
    backward(ops.sum(y));
    // (0,0): 1 3 / 0 3 -> (0,1); (0,1): 3 3 / 3 1 -> (0,1); (1,0): 0 3 / 2 3 -> (1,1); (1,1): 3 1 / 3 0 -> (1,1)
    assert.deepEqual(x.grad!.toArray(), [0, 2, 0, 0, 2, 0, 0, 0, 0]);
    const inf = maxPool2d(Tensor.from([-Infinity, -Infinity, -Infinity, -Infinity], [1, 1, 2, 2]), [2, 2], [2, 2], [0, 0]);
    assert.deepEqual(inf.toArray(), [-Infinity]);
    const nan = maxPool2d(Tensor.from([1, NaN, 5, 2], [1, 1, 2, 2]), [2, 2], [2, 2], [0, 0]);
    assert.ok(Number.isNaN(nan.data[0]), 'a NaN in the window is its maximum');
  });
});

test('imageGrid: (B, C, H, W) -> (B, H·W, C) row-major, and its gradient', () => {
  tidy(() => {
    const x = Tensor.from(Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i), [2, 3, 2, 2]);
    const g = imageGrid(x);
    assert.deepEqual(g.shape, [2, 4, 3]);
    // batch 1, cell (1, 0) = row 2: channels 0..2 at pixel (1, 0) = 12 + c·4 + 2
    assert.deepEqual(Array.from(g.data.subarray((4 + 2) * 3, (4 + 3) * 3)), [14, 18, 22]);
  });
  const x = randomTensor(rng, [2, 3, 2, 3]);
  gradcheck('imageGrid', () => imageGrid(x), [x]);
});

test('Conv2d: PyTorch options, state_dict names and shapes, kaiming-uniform bound, output sizes', () => {
  const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: [3, 2], stride: 2, padding: [1, 0] }, new Rng(1));
  assert.deepEqual(conv.namedParameters().map(([n, t]) => [n, t.shape]), [['weight', [8, 3, 3, 2]], ['bias', [8]]]);
  const bound = 1 / Math.sqrt(3 * 3 * 2);
  for (const t of conv.parameters()) {
    const d = t.toArray();
    assert.ok(d.every((v) => Math.abs(v) <= bound), 'inside ±1/√fanIn');
    assert.ok(Math.max(...d.map(Math.abs)) > 0.8 * bound, 'spread over the bound');
  }
  assert.deepEqual(conv.outputSize(7, 6), [4, 3]);
  tidy(() => assert.deepEqual(conv.forward(Tensor.zeros([2, 3, 7, 6])).shape, [2, 8, 4, 3]));
  const noBias = new Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 1, bias: false }, new Rng(1));
  assert.deepEqual(noBias.namedParameters().map(([n]) => n), ['weight']);
  assert.equal(noBias.bias, null);
  assert.deepEqual(new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }).outputSize(7, 8), [4, 4]);
  assert.deepEqual(new MaxPool2d({ kernelSize: [2, 3] }).stride, [2, 3]);
});

test('image layers: bad input and unsupported options are one-line errors naming what is wrong', () => {
  const r = new Rng(1);
  assert.throws(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dilation: 2 } as never, r), /^Error: Conv2d options: unknown option "dilation"/);
  assert.throws(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 3 } as never, r), /unknown option "groups"/);
  assert.throws(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: [3, 0] }, r), /^Error: Conv2d kernelSize must be an integer >= 1 or a pair \[h, w\] of them, got \[3,0\]$/);
  assert.throws(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: -1 }, r), /Conv2d padding must be an integer >= 0/);
  assert.throws(() => new Conv2d({ inChannels: 0, outChannels: 4, kernelSize: 3 }, r), /Conv2d inChannels must be a positive integer, got 0/);
  assert.throws(() => new MaxPool2d({ kernelSize: 2, ceilMode: true } as never), /^Error: MaxPool2d options: unknown option "ceilMode"/);
  assert.throws(() => new MaxPool2d({ kernelSize: 3, padding: 2 }), /MaxPool2d padding 2 must be at most half the kernel size 3/);
  const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 5 }, r);
  tidy(() => {
    assert.throws(() => conv.forward(Tensor.zeros([2, 3, 8])), /^Error: conv2d: input must be \(B, C, H, W\), got \[2, 3, 8\]$/);
    assert.throws(() => conv.forward(Tensor.zeros([2, 1, 8, 8])), /^Error: conv2d: input \[2, 1, 8, 8\] has 1 channels, the weight \[4, 3, 5, 5\] takes 3$/);
    assert.throws(() => conv.forward(Tensor.zeros([1, 3, 4, 9])), /^Error: conv2d: a 5×5 window with padding 0×0 does not fit the 4×9 input \[1, 3, 4, 9\]$/);
    assert.throws(() => maxPool2d(Tensor.zeros([1, 1, 1, 1]), [2, 2], [2, 2], [0, 0]), /maxPool2d: a 2×2 window with padding 0×0 does not fit the 1×1 input/);
  });
});

test('ImageEncoder: (B, C, H, W) -> (B, L, D) in row-major grid order, its grid and receptive field, its config', () => {
  const enc = new ImageEncoder({ channels: [4, 6, 5] }, new Rng(3));
  assert.deepEqual(enc.config, { inChannels: 3, channels: [4, 6, 5], convsPerStage: 1 });
  assert.deepEqual(JSON.parse(JSON.stringify(enc.config)), enc.config);
  assert.deepEqual(enc.namedParameters().map(([n, t]) => `${n} ${t.shape.join('×')}`),
    ['conv1_1.weight 4×3×3×3', 'conv1_1.bias 4', 'conv2_1.weight 6×4×3×3', 'conv2_1.bias 6', 'conv3_1.weight 5×6×3×3', 'conv3_1.bias 5']);
  assert.equal(enc.featureSize, 5);
  assert.deepEqual(enc.gridSize(64, 64), [8, 8]);
  assert.deepEqual(enc.gridSize(30, 17), [3, 2]);
  assert.deepEqual(enc.receptiveField(), { size: 22, stride: 8, offset: -7 });
  assert.deepEqual(new ImageEncoder({ channels: [4, 6, 5], convsPerStage: 2 }, new Rng(3)).receptiveField(), { size: 36, stride: 8, offset: -14 });
  assert.deepEqual(enc.gridCell(5, 30, 17), { row: 2, col: 1, tile: { y0: 16, x0: 8, y1: 24, x1: 16 }, field: { y0: 9, x0: 1, y1: 30, x1: 17 } });
  tidy(() => {
    const images = randomTensor(rng, [2, 3, 30, 17], 1, false);
    const grid = enc.forward(images);
    assert.deepEqual(grid.shape, [2, 6, 5]);
    // Row i of image b is the last feature map's column at cell (i / W', i % W'): the same as the layers by hand.
    const last = tidy(() => {
      let x = images;
      for (const name of ['conv1_1', 'conv2_1', 'conv3_1']) {
        const p = new Map(enc.namedParameters());
        x = maxPool2d(ops.relu(conv2d(x, p.get(`${name}.weight`)!, p.get(`${name}.bias`)!, [1, 1], [1, 1])), [2, 2], [2, 2], [0, 0]);
      }
      return x; // (2, 5, 3, 2)
    });
    for (let b = 0; b < 2; b++) for (let i = 0; i < 6; i++) for (let d = 0; d < 5; d++) {
      assert.equal(grid.data[(b * 6 + i) * 5 + d], last.data[((b * 5 + d) * 3 + Math.floor(i / 2)) * 2 + (i % 2)]);
    }
  });
  assert.throws(() => tidy(() => enc.forward(Tensor.zeros([1, 1, 16, 16]))), /^Error: ImageEncoder: images must be \(B, 3, H, W\), got \[1, 1, 16, 16\]$/);
  assert.throws(() => tidy(() => enc.forward(Tensor.zeros([1, 3, 7, 16]))), /ImageEncoder: images of 7×16 are smaller than the 8×8 its 3 pools need/);
  assert.throws(() => new ImageEncoder({ channels: [] }, new Rng(1)), /ImageEncoder channels must be a non-empty array/);
  assert.throws(() => new ImageEncoder({ channels: [4], convsPerStage: 3 as never }, new Rng(1)), /convsPerStage must be 1 or 2, got 3/);
  assert.throws(() => new ImageEncoder({ channels: [4], kernel: 5 } as never, new Rng(1)), /ImageEncoder config: unknown option "kernel"/);
  assert.throws(() => enc.gridCell(6, 30, 17), /cell 6 is outside the 3×2 grid of a 30×17 image/);
});

test('ImageEncoder: a grid cell depends only on the pixels of its receptive field', () => {
  const enc = new ImageEncoder({ channels: [3, 4], convsPerStage: 2 }, new Rng(5));
  const [H, W] = [21, 19];
  const [, gw] = enc.gridSize(H, W); // 5×4
  const images = randomTensor(rng, [1, 3, H, W]);
  for (const i of [0, 6, 19]) {
    images.zeroGrad();
    tidy(() => {
      const grid = enc.forward(images); // (1, 20, 4)
      const seed = new Tensor(grid.shape);
      seed.data.fill(1, i * 4, (i + 1) * 4);
      backward(grid, seed);
    });
    const { field } = enc.gridCell(i, H, W);
    let inside = 0;
    const g = images.grad!.data;
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const v = g[(c * H + y) * W + x];
      const inField = y >= field.y0 && y < field.y1 && x >= field.x0 && x < field.x1;
      if (!inField) assert.equal(v, 0, `cell ${i} (of a ${gw}-wide grid): pixel (${y}, ${x}) is outside its field but has gradient ${v}`);
      else if (v !== 0) inside++;
    }
    assert.ok(inside > 0, `cell ${i}: some gradient inside its field`);
  }
});

test('ImageEncoder gradients (finite differences through convs, ReLU, pools and the grid)', () => {
  const enc = new ImageEncoder({ inChannels: 2, channels: [3, 2] }, new Rng(8));
  // NOTE: a pool window whose ReLUs are all 0 is a tie, where the maximum has no derivative (the one-sided
  // differences disagree); biases of 1 over inputs of ±0.5 keep most units on, and the rest apart. ReLU and
  // max are piecewise linear, so a small step is exact unless it crosses a kink, and float32 rounding of
  // the sum stays far below the tolerance.
  for (const [name, t] of enc.namedParameters()) if (name.endsWith('.bias')) t.data.fill(1);
  const images = randomTensor(rng, [1, 2, 9, 8], 0.5);
  gradcheck('ImageEncoder', () => enc.forward(images), [images, ...enc.parameters()], { maxPerInput: 20, eps: 3e-4 });
});

test('README image example: an ImageEncoder and a linear head learn which quadrant holds the square', async () => {
  const { ImageEncoder, Linear, Rng, Tensor, backward, createOptimizer, crossEntropy, noGrad, ops, optimizerStep, tidy } = await import('../src/index.js');
  const data = new Rng(7);
  /** B 16×16 images, each a bright 4×4 square on noise in quadrant labels[b] (0 top left, 1 top right, 2, 3). */
  const batch = (B: number) => {
    const labels = Int32Array.from({ length: B }, () => data.int(4));
    const pixels = Float32Array.from({ length: B * 256 }, () => 0.3 * data.uniform());
    labels.forEach((q, b) => {
      const [y0, x0] = [(q >> 1) * 8 + data.int(5), (q & 1) * 8 + data.int(5)];
      for (let y = y0; y < y0 + 4; y++) for (let x = x0; x < x0 + 4; x++) pixels[b * 256 + y * 16 + x] = 1;
    });
    return { images: Tensor.from(pixels, [B, 1, 16, 16]), labels };
  };
  // --- README example begins ---
  const rng = new Rng(1);
  const encoder = new ImageEncoder({ inChannels: 1, channels: [8, 16] }, rng); // 16×16 images -> a 4×4 grid of 16 features
  const head = new Linear({ inFeatures: 16 * 16, outFeatures: 4 }, rng); // the whole grid -> which quadrant holds the square
  const params = [...encoder.namedParameters(), ...head.namedParameters().map(([n, t]) => [`head.${n}`, t] as [string, typeof t])];
  const optim = createOptimizer('adam', params, { lr: 3e-3 });
  for (let step = 0; step < 60; step++) {
    tidy(() => {
      const { images, labels } = batch(16); // (16, 1, 16, 16) noise with a bright 4×4 square; labels its quadrant
      const grid = encoder.forward(images); // (B, L = 16, D = 16), cell i = (row ⌊i/4⌋, column i % 4)
      backward(crossEntropy(head.forward(ops.reshape(grid, [16, 16 * 16])), labels));
    });
    optimizerStep(optim, params);
    encoder.zeroGrad();
    head.zeroGrad();
  }
  // --- README example ends ---
  const accuracy = tidy(() => noGrad(() => {
    const { images, labels } = batch(200);
    const logits = head.forward(ops.reshape(encoder.forward(images), [200, 16 * 16])).data; // (200, 4)
    let right = 0;
    labels.forEach((q, b) => {
      const row = Array.from(logits.subarray(b * 4, b * 4 + 4));
      if (row.indexOf(Math.max(...row)) === q) right++;
    });
    return right / labels.length;
  }));
  assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
});
