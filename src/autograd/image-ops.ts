// The differentiable ops of the image layers, on NCHW tensors: 2-D convolution (im2col, then one gemm
// per image), max pooling (the arg-max kept for the backward), and the (B, C, H, W) -> (B, H·W, C) grid
// of feature vectors an attention reads. Not here: parameters and options as PyTorch spells them
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

/**
 * 2-D cross-correlation (PyTorch's conv2d, groups 1, dilation 1) of x (B, C, H, W) with weight (O, C, kh, kw):
 *   out[b, o, y, x] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x[b, c, y·sh - ph + i, x·sw - pw + j]   (0 off the image)
 * as out_b (O, OH·OW) = weight (O, C·kh·kw) @ im2col(x_b) per image. Backward, per image:
 *   dweight += dout_b colsᵀ,  dbias += dout_b 1,  dx_b += col2im(weightᵀ dout_b).
 * NOTE: the columns (C·kh·kw·OH·OW floats) are one image's scratch, made again in the backward rather
 * than kept for the whole batch: an unfold is cheap beside its gemm, and a batch's columns are 9× its input.
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
  const out = Tensor.empty([B, O, g.OH, g.OW]); // (B, O, OH, OW) every element written
  const cols = Tensor.empty([K, P]); // (C·kh·kw, OH·OW) one image's columns
  const o = out.data;
  if (bias !== null) {
    const bd = bias.data;
    for (let r = 0; r < B * O; r++) o.fill(bd[r % O], r * P, (r + 1) * P);
  }
  for (let b = 0; b < B; b++) {
    be.im2col(g, x.data.subarray(b * CHW, (b + 1) * CHW), cols.data);
    be.gemm(false, false, O, P, K, 1, weight.data, K, cols.data, P, bias === null ? 0 : 1, out.data.subarray(b * O * P, (b + 1) * O * P), P);
  }
  cols.dispose();
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, parents, () => {
    // Every allocation before the views (an allocation can grow the heap).
    const colsB = Tensor.empty([K, P]); // (C·kh·kw, OH·OW) im2col(x_b), then weightᵀ dout_b
    const ones = bias?.requiresGrad ? Tensor.full([P], 1) : null; // (OH·OW)
    const dx = x.requiresGrad ? x.ensureGrad().data : null;
    const dw = weight.requiresGrad ? weight.ensureGrad().data : null;
    const db = bias !== null && bias.requiresGrad ? bias.ensureGrad().data : null;
    const dOut = out.grad!.data;
    const c = colsB.data;
    for (let b = 0; b < B; b++) {
      const dy = dOut.subarray(b * O * P, (b + 1) * O * P); // (O, OH·OW)
      if (dw !== null) {
        be.im2col(g, x.data.subarray(b * CHW, (b + 1) * CHW), c);
        be.gemm(false, true, O, K, P, 1, dy, P, c, P, 1, dw, K); // dweight += dy colsᵀ
      }
      if (db !== null) be.gemm(false, false, O, 1, P, 1, dy, P, ones!.data, 1, 1, db, 1); // dbias += dy 1
      if (dx !== null) {
        be.gemm(true, false, K, P, O, 1, weight.data, K, dy, P, 0, c, P); // dcols = weightᵀ dy
        be.col2imAcc(g, c, dx.subarray(b * CHW, (b + 1) * CHW));
      }
    }
    colsB.dispose();
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
