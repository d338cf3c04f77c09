// Conv2d: PyTorch's nn.Conv2d (groups 1, dilation 1, zero padding) on NCHW tensors, with its options,
// its state_dict names (weight (O, C, kh, kw), bias (O)) and its default init. The op is
// autograd/image-ops.ts's conv2d (im2col + gemm).

import { conv2d, outputSize, type Pair } from '../../autograd/image-ops.js';
import type { Rng } from '../../random/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { uniformInit } from '../init.js';
import { positiveInt } from '../linear.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { pair } from './window-options.js';

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  /** kh = kw, or [kh, kw]. */
  kernelSize: number | readonly [number, number];
  /** Default 1. */
  stride?: number | readonly [number, number];
  /** Zeros on each side; default 0. */
  padding?: number | readonly [number, number];
  /** Default true. */
  bias?: boolean;
}

const KEYS = ['inChannels', 'outChannels', 'kernelSize', 'stride', 'padding', 'bias'];

/**
 * out[b, o] = bias[o] + Σ_c weight[o, c] ⋆ x[b, c]   (⋆ the 2-D cross-correlation, over the zero-padded input)
 * x (B, C, H, W) -> (B, O, OH, OW), OH = ⌊(H + 2·padding - kh)/stride⌋ + 1 (and OW likewise).
 * Init as PyTorch: kaiming_uniform(a=√5) for weight, which is U(-1/√fanIn, 1/√fanIn) with fanIn = C·kh·kw,
 * and the same bound for bias.
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;

  constructor(opts: Conv2dOptions, rng: Rng) {
    super();
    rejectUnknownKeys('Conv2d options', opts, KEYS);
    const { inChannels, outChannels, bias = true } = opts;
    positiveInt('Conv2d inChannels', inChannels);
    positiveInt('Conv2d outChannels', outChannels);
    this.kernelSize = pair('Conv2d kernelSize', opts.kernelSize, 1);
    this.stride = pair('Conv2d stride', opts.stride ?? 1, 1);
    this.padding = pair('Conv2d padding', opts.padding ?? 0, 0);
    if (typeof bias !== 'boolean') throw new Error(`Conv2d bias must be a boolean, got ${JSON.stringify(bias)}`);
    const [kh, kw] = this.kernelSize;
    const bound = 1 / Math.sqrt(inChannels * kh * kw);
    this.weight = this.param('weight', [outChannels, inChannels, kh, kw], uniformInit(rng, bound)); // (O, C, kh, kw)
    this.bias = bias ? this.param('bias', [outChannels], uniformInit(rng, bound)) : null; // (O)
  }

  /** (B, C, H, W) -> (B, O, OH, OW). */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.stride, this.padding);
  }

  /** [OH, OW] for an input of H×W (at least 1 each, else the input is too small). */
  outputSize(H: number, W: number): [number, number] {
    return outputPair(H, W, this.kernelSize, this.stride, this.padding);
  }
}

/** PyTorch's floor output size of a window over H×W. */
export function outputPair(H: number, W: number, k: Pair, s: Pair, p: Pair): [number, number] {
  return [outputSize(H, k[0], s[0], p[0]), outputSize(W, k[1], s[1], p[1])];
}
