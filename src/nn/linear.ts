// Linear: y = x Wᵀ + b, W (OUT, IN) as in PyTorch. Init as nn.Linear: kaiming_uniform(a=√5) for W,
// which is U(-1/√IN, 1/√IN), and the same bound for b.

import { linear } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { uniformInit } from './init.js';
import { Module } from './module.js';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(opts: LinearOptions, rng: Rng) {
    super();
    const { inFeatures, outFeatures, bias = true } = opts;
    positiveInt('Linear inFeatures', inFeatures);
    positiveInt('Linear outFeatures', outFeatures);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', [outFeatures, inFeatures], uniformInit(rng, bound)); // (OUT, IN)
    this.bias = bias ? this.param('bias', [outFeatures], uniformInit(rng, bound)) : null; // (OUT)
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // (..., OUT)
  }
}

export function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}
