// The differentiable ops of the image layers, on NCHW tensors: 2-D convolution (im2col, then one gemm
// per group of images), max pooling (the arg-max kept for the backward), and the (B, C, H, W) ->
// (B, H·W, C) grid of feature vectors an attention reads. Not here: parameters and options as PyTorch spells them
// (nn/image/), the kernels (backend/).

import { backend } from '../backend/registry.js';
import type { WindowGeometry } from '../backend/backend.js';
import { heap } from '../tensor/heap.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { record, swapAxes01Into } from './ops.js';

const fmt = (s: Shape): string => `[${s.join(', ')}]`;

/** [height, width] of a window, a stride or a padding. */
export type Pair = readonly [number, number];

/** PyTorch's floor output size of a k-window moved by s over n + 2p (may be < 1: the caller rejects it). */
export const outputSize = (n: number, k: number, s: number, p: number): number => Math.floor((n + 2 * p - k) / s) + 1;

/** The geometry of a window over the planes of x (B, C, H, W): one image's C planes, or all B·C when `allPlanes`. */
function geometry(op: string, x: Tensor, C: number, kernel: Pair, stride: Pair, padding: Pair, allPlanes: boolean): WindowGeometry {
  const [, , H, W] = x.shape;
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  const [ph, pw] = padding;
  const OH = outputSize(H, kh, sh, ph);
  const OW = outputSize(W, kw, sw, pw);
  if (OH < 1 || OW < 1) {
    throw new Error(`${op}: a ${kh}×${kw} window with padding ${ph}×${pw} does not fit the ${H}×${W} input ${fmt(x.shape)}`);
  }
  return { C: allPlanes ? x.shape[0] * C : C, H, W, kh, kw, sh, sw, ph, pw, OH, OW };
}

function check4d(op: string, x: Tensor): void {
  if (!(x instanceof Tensor) || x.shape.length !== 4) {
    throw new Error(`${op}: input must be (B, C, H, W), got ${x instanceof Tensor ? fmt(x.shape) : String(x)}`);
  }
}

/** A group's columns stay under this many floats (16 MB). */
export const GROUP_FLOATS = 1 << 22;

/**
 * Images per gemm, for a batch of B images whose columns are K×P floats each, on a backend running gemms on
 * `threads` threads: one on one thread, else as many as keep the columns under GROUP_FLOATS (at least one).
 * NOTE: measured by scripts/bench-conv.ts (the encoder on 16 images of 64×64, native): on one thread a gemm
 * per image cost 93 ms of CPU a step against 137 for groups (an image's columns stay in cache); split across
 * two threads, a gemm per image cost 400 ms against 164 (the threads' hand-offs, per call, dominate).
 */
export function convGroupSize(B: number, K: number, P: number, threads: number): number {
  return threads > 1 ? Math.max(1, Math.min(B, Math.floor(GROUP_FLOATS / (K * P)))) : 1;
}

/**
 * 2-D cross-correlation (PyTorch's conv2d, groups 1, dilation 1) of x (B, C, H, W) with weight (O, C, kh, kw):
 *   out[b, o, y, x] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x[b, c, y·sh - ph + i, x·sw - pw + j]   (0 off the image)
 * per group of G images: cols (C·kh·kw, G·OH·OW) = their im2col side by side, Y (O, G·OH·OW) = weight (O,
 * C·kh·kw) @ cols, each image's block of Y copied to its (O, OH, OW). Backward, per group (dY gathered the same way):
 *   dweight += dY colsᵀ,  dbias += dY 1,  dx_b += col2im(weightᵀ dY) for each image's block.
 * G is convGroupSize's (one image on one thread, more when the gemm is split across threads); the bound
 * keeps the columns, 9× the input for a 3×3 kernel, from growing with the batch, and the backward makes them
 * again rather than keep them.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, stride: Pair, padding: Pair): Tensor {
  check4d('conv2d', x);
  if (weight.shape.length !== 4) throw new Error(`conv2d: weight must be (O, C, kh, kw), got ${fmt(weight.shape)}`);
  const [B, C] = x.shape;
  const [O, Cw, kh, kw] = weight.shape;
  if (Cw !== C) throw new Error(`conv2d: input ${fmt(x.shape)} has ${C} channels, the weight ${fmt(weight.shape)} takes ${Cw}`);
  if (bias !== null && (bias.shape.length !== 1 || bias.shape[0] !== O)) throw new Error(`conv2d: bias has shape ${fmt(bias.shape)}, expected [${O}]`);
  const g = geometry('conv2d', x, C, [kh, kw], stride, padding, false);
  const K = C * kh * kw;
  const P = g.OH * g.OW;
  const CHW = C * g.H * g.W;
  const be = backend();
  const G = convGroupSize(B, K, P, be.threads ?? 1); // images per gemm
  const GP = G * P; // the row stride of a group's columns and outputs
  const out = Tensor.empty([B, O, g.OH, g.OW]); // (B, O, OH, OW) every element written
  const cols = Tensor.empty([K, GP]); // (C·kh·kw, G·OH·OW) a group's columns
  const y = Tensor.empty([O, GP]); // (O, G·OH·OW) a group's outputs
  for (let b0 = 0; b0 < B; b0 += G) {
    const n = Math.min(G, B - b0);
    for (let b = 0; b < n; b++) be.im2col(g, x.data.subarray((b0 + b) * CHW, (b0 + b + 1) * CHW), cols.data.subarray(b * P), GP);
    if (bias !== null) {
      const yd = y.data;
      const bd = bias.data;
      for (let o = 0; o < O; o++) yd.fill(bd[o], o * GP, o * GP + n * P);
    }
    be.gemm(false, false, O, n * P, K, 1, weight.data, K, cols.data, GP, bias === null ? 0 : 1, y.data, GP); // Y (+)= weight cols
    for (let b = 0; b < n; b++) be.copyRows(O, P, y.data.subarray(b * P), GP, out.data.subarray((b0 + b) * O * P), P, false);
  }
  cols.dispose();
  y.dispose();
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, parents, () => {
    // Every allocation before the views (an allocation can grow the heap).
    const colsG = Tensor.empty([K, GP]); // (C·kh·kw, G·OH·OW) a group's im2col, then weightᵀ dY
    const dY = Tensor.empty([O, GP]); // (O, G·OH·OW) a group's output gradients
    const ones = bias?.requiresGrad ? Tensor.full([GP], 1) : null; // (G·OH·OW)
    for (const t of parents) if (t.requiresGrad) t.ensureGrad();
    const dx = x.requiresGrad ? x.grad!.data : null;
    const dw = weight.requiresGrad ? weight.grad!.data : null;
    const db = bias !== null && bias.requiresGrad ? bias.grad!.data : null;
    const dOut = out.grad!.data;
    const c = colsG.data;
    const d = dY.data;
    for (let b0 = 0; b0 < B; b0 += G) {
      const n = Math.min(G, B - b0);
      const N = n * P;
      for (let b = 0; b < n; b++) be.copyRows(O, P, dOut.subarray((b0 + b) * O * P), P, d.subarray(b * P), GP, false);
      if (dw !== null) {
        for (let b = 0; b < n; b++) be.im2col(g, x.data.subarray((b0 + b) * CHW, (b0 + b + 1) * CHW), c.subarray(b * P), GP);
        be.gemm(false, true, O, K, N, 1, d, GP, c, GP, 1, dw, K); // dweight += dY colsᵀ
      }
      if (db !== null) be.gemm(false, false, O, 1, N, 1, d, GP, ones!.data, 1, 1, db, 1); // dbias += dY 1
      if (dx !== null) {
        be.gemm(true, false, K, N, O, 1, weight.data, K, d, GP, 0, c, GP); // dcols = weightᵀ dY
        for (let b = 0; b < n; b++) be.col2imAcc(g, c.subarray(b * P), GP, dx.subarray((b0 + b) * CHW, (b0 + b + 1) * CHW));
      }
    }
    colsG.dispose();
    dY.dispose();
    ones?.dispose();
  });
}

/** An Int32Array over a tensor's storage (the heap holds the arg-max indices as int32). */
const int32View = (t: Tensor): Int32Array => new Int32Array(heap.memory.buffer, t.offset, t.size);

/**
 * 2-D max pooling (PyTorch's max_pool2d, dilation 1, floor sizes) of x (B, C, H, W): each output is the
 * maximum of its window over the image (padding is never the maximum). Backward: the gradient goes to the
 * arg-max, the first maximum in row order on ties (a NaN always wins), as PyTorch's CPU kernel.
 */
export function maxPool2d(x: Tensor, kernel: Pair, stride: Pair, padding: Pair): Tensor {
  check4d('maxPool2d', x);
  const [B, C] = x.shape;
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw new Error(`maxPool2d: padding ${padding[0]}×${padding[1]} must be at most half the ${kernel[0]}×${kernel[1]} kernel`);
  }
  const g = geometry('maxPool2d', x, C, kernel, stride, padding, true);
  const out = Tensor.empty([B, C, g.OH, g.OW]); // (B, C, OH, OW) every element written
  const argmax = Tensor.empty([B, C, g.OH, g.OW]); // int32 storage: the index of each maximum in its plane
  backend().maxPool2dForward(g, x.data, out.data, int32View(argmax));
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    backend().maxPool2dBackwardAcc(g, out.grad!.data, int32View(argmax), dx);
  });
}

/**
 * The feature grid of x (B, C, H, W) as rows: out (B, H·W, C), out[b, y·W + x] = x[b, :, y, x] (row y,
 * column x, row-major): the L = H·W annotation vectors of D = C features an attention reads.
 */
export function imageGrid(x: Tensor): Tensor {
  check4d('imageGrid', x);
  const [B, C, H, W] = x.shape;
  const L = H * W;
  const out = Tensor.empty([B, L, C]); // (B, L, C) every element written
  for (let b = 0; b < B; b++) swapAxes01Into(x.data.subarray(b * C * L, (b + 1) * C * L), out.data.subarray(b * L * C, (b + 1) * L * C), C, L, 1, false);
  return record(out, [x], () => {
    const dx = x.ensureGrad().data; // before the view of out.grad
    const dOut = out.grad!.data;
    for (let b = 0; b < B; b++) swapAxes01Into(dOut.subarray(b * L * C, (b + 1) * L * C), dx.subarray(b * C * L, (b + 1) * C * L), L, C, 1, true);
  });
}
