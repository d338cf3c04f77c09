// LayerNorm (Ba et al. 2016) with PyTorch's options, defaults and state_dict names: `weight` (ones) and
// `bias` (zeros) over normalizedShape. The math is one fused op (autograd/transformer-ops.ts layerNorm).

import { layerNorm } from '../../autograd/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { Module } from '../module.js';
import { positiveInt } from '../linear.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';

export interface LayerNormOptions {
  /** The trailing dimensions normalised over: a width, or PyTorch's list of trailing sizes. */
  normalizedShape: number | readonly number[];
  /** Added to the variance. Default 1e-5. */
  eps?: number;
  /** Learn `weight` (and `bias`, unless bias is false). Default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, also learn `bias` (PyTorch ≥ 2.1). Default true. */
  bias?: boolean;
}

const OPTION_KEYS = ['normalizedShape', 'eps', 'elementwiseAffine', 'bias'] as const;

/**
 * y = (x - E[x]) / √(Var[x] + eps) ⊙ weight + bias, mean and biased variance over the last
 * normalizedShape.length dimensions of x, which must equal normalizedShape.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  private readonly n: number;

  constructor(opts: LayerNormOptions) {
    super();
    if (opts === null || typeof opts !== 'object') throw new Error(`LayerNorm: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys('LayerNorm options', opts, OPTION_KEYS);
    const { normalizedShape, eps = 1e-5, elementwiseAffine = true, bias = true } = opts;
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...(normalizedShape ?? [])];
    if (shape.length === 0) throw new Error(`LayerNorm normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(normalizedShape)}`);
    shape.forEach((d, i) => positiveInt(`LayerNorm normalizedShape[${i}]`, d));
    if (typeof eps !== 'number' || !(eps >= 0)) throw new Error(`LayerNorm eps must be a non-negative number, got ${eps}`);
    for (const [name, v] of [['elementwiseAffine', elementwiseAffine], ['bias', bias]] as const) {
      if (typeof v !== 'boolean') throw new Error(`LayerNorm ${name} must be a boolean, got ${JSON.stringify(v)}`);
    }
    this.normalizedShape = shape;
    this.eps = eps;
    this.n = shape.reduce((a, b) => a * b, 1);
    this.weight = elementwiseAffine ? this.param('weight', shape, (d) => d.fill(1)) : null; // normalizedShape
    this.bias = elementwiseAffine && bias ? this.param('bias', shape, (d) => d.fill(0)) : null; // normalizedShape
  }

  forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    const tail = x instanceof Tensor ? x.shape.slice(x.shape.length - k) : [];
    if (!(x instanceof Tensor) || x.shape.length < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      const got = x instanceof Tensor ? `[${x.shape.join(', ')}]` : String(x);
      throw new Error(`LayerNorm: input of shape ${got} does not end in normalizedShape [${this.normalizedShape.join(', ')}]`);
    }
    return layerNorm(x, this.n, this.weight, this.bias, this.eps); // x's shape
  }
}
