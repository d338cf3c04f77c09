// MaxPool2d: PyTorch's nn.MaxPool2d (dilation 1, floor sizes, no indices returned) on NCHW tensors. It
// has no parameters. The op is autograd/image-ops.ts's maxPool2d.

import { maxPool2d, type Pair } from '../../autograd/image-ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { outputPair } from './conv2d.js';
import { pair } from './window-options.js';

export interface MaxPool2dOptions {
  /** kh = kw, or [kh, kw]. */
  kernelSize: number | readonly [number, number];
  /** Default kernelSize (windows that tile the input). */
  stride?: number | readonly [number, number];
  /** -∞ on each side (never the maximum); at most half the kernel, as PyTorch requires. Default 0. */
  padding?: number | readonly [number, number];
}

const KEYS = ['kernelSize', 'stride', 'padding'];

/**
 * out[b, c, y, x] = max over the window of x[b, c] at (y·sh - ph, x·sw - pw), inside the image;
 * (B, C, H, W) -> (B, C, OH, OW), OH = ⌊(H + 2·padding - kh)/stride⌋ + 1. The gradient goes to the
 * first maximum of each window (row order), as PyTorch's.
 */
export class MaxPool2d extends Module {
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;

  constructor(opts: MaxPool2dOptions) {
    super();
    rejectUnknownKeys('MaxPool2d options', opts, KEYS);
    this.kernelSize = pair('MaxPool2d kernelSize', opts.kernelSize, 1);
    this.stride = pair('MaxPool2d stride', opts.stride ?? opts.kernelSize, 1);
    this.padding = pair('MaxPool2d padding', opts.padding ?? 0, 0);
    const [kh, kw] = this.kernelSize;
    if (2 * this.padding[0] > kh || 2 * this.padding[1] > kw) {
      throw new Error(`MaxPool2d padding ${JSON.stringify(opts.padding)} must be at most half the kernel size ${JSON.stringify(opts.kernelSize)}`);
    }
  }

  /** (B, C, H, W) -> (B, C, OH, OW). */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.stride, this.padding);
  }

  /** [OH, OW] for an input of H×W. */
  outputSize(H: number, W: number): [number, number] {
    return outputPair(H, W, this.kernelSize, this.stride, this.padding);
  }
}
