// Positional encodings added to a sequence of embeddings: the fixed sinusoids of Vaswani et al. (2017)
// (a table that is not a parameter, so not in the state dict) and learned positions (a `weight` parameter
// of (maxLength, E), GPT's wpe). Both take (T, B, E) or batch-first (B, T, E) and a start position (for
// decoding step by step). Not here: dropout after them (compose a Dropout).

import { addPositions } from '../../autograd/ops.js';
import type { Rng } from '../../random/rng.js';
import { Tensor, untracked } from '../../tensor/tensor.js';
import { positiveInt } from '../linear.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';

export interface PositionalEncodingOptions {
  /** E: the embedding width. */
  embedDim: number;
  /** Positions the table holds. Default 5000 (PyTorch's tutorial's max_len). */
  maxLength?: number;
  /** Inputs (B, T, E) instead of (T, B, E). Default false. */
  batchFirst?: boolean;
}

function checkStart(who: string, x: Tensor, start: number, batchFirst: boolean, maxLength: number): void {
  const T = x.shape[batchFirst ? 1 : 0];
  if (!Number.isInteger(start) || start < 0 || start + T > maxLength) {
    throw new Error(`${who}: positions [${start}, ${start + T}) are outside the ${maxLength} it holds (maxLength)`);
  }
}

function options(who: string, opts: PositionalEncodingOptions, extra: readonly string[]): Required<PositionalEncodingOptions> {
  if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${who} options`, opts, ['embedDim', 'maxLength', 'batchFirst', ...extra]);
  const r = { embedDim: opts.embedDim, maxLength: opts.maxLength ?? 5000, batchFirst: opts.batchFirst ?? false };
  positiveInt(`${who} embedDim`, r.embedDim);
  positiveInt(`${who} maxLength`, r.maxLength);
  if (typeof r.batchFirst !== 'boolean') throw new Error(`${who} batchFirst must be a boolean, got ${JSON.stringify(r.batchFirst)}`);
  return r;
}

/**
 * x + PE[start + t], with PE[p, 2i] = sin(p / 10000^(2i/E)) and PE[p, 2i+1] = cos(p / 10000^(2i/E)) (Vaswani et
 * al. 2017, section 3.5; PyTorch's tutorial PositionalEncoding without its dropout). The table is a
 * constant: it has no gradient and is not in the state dict (a buffer with persistent=False).
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly embedDim: number;
  readonly maxLength: number;
  readonly batchFirst: boolean;
  /** (maxLength, E) */
  readonly table: Tensor;

  constructor(opts: PositionalEncodingOptions) {
    super();
    const o = options('SinusoidalPositionalEncoding', opts, []);
    this.embedDim = o.embedDim;
    this.maxLength = o.maxLength;
    this.batchFirst = o.batchFirst;
    const E = o.embedDim;
    this.table = untracked(() => new Tensor([o.maxLength, E])); // (P, E)
    const d = this.table.data;
    for (let p = 0; p < o.maxLength; p++) {
      for (let i = 0; 2 * i < E; i++) {
        const angle = p * Math.exp((2 * i) * (-Math.log(10000) / E)); // p · div_term[i], as the tutorial computes it
        d[p * E + 2 * i] = Math.sin(angle);
        if (2 * i + 1 < E) d[p * E + 2 * i + 1] = Math.cos(angle);
      }
    }
  }

  /** x (T, B, E) or (B, T, E); positions start at `start` (default 0). */
  forward(x: Tensor, start = 0): Tensor {
    checkStart('SinusoidalPositionalEncoding', x, start, this.batchFirst, this.maxLength);
    return addPositions(x, this.table, start, this.batchFirst); // x's shape
  }

  override dispose(): void {
    this.table.dispose();
    super.dispose();
  }
}

export interface LearnedPositionalEncodingOptions extends PositionalEncodingOptions {
  /** The initial weights are N(0, std²). Default 1 (nn.Embedding's N(0, 1); GPT-2 and nanoGPT use 0.02). */
  std?: number;
}

/** x + weight[start + t], weight (maxLength, E) a parameter (an nn.Embedding of positions: GPT's wpe). */
export class LearnedPositionalEncoding extends Module {
  readonly embedDim: number;
  readonly maxLength: number;
  readonly batchFirst: boolean;
  readonly weight: Tensor;

  constructor(opts: LearnedPositionalEncodingOptions, rng: Rng) {
    super();
    const o = options('LearnedPositionalEncoding', opts, ['std']);
    const std = opts.std ?? 1;
    if (typeof std !== 'number' || !(std >= 0)) throw new Error(`LearnedPositionalEncoding std must be a non-negative number, got ${std}`);
    this.embedDim = o.embedDim;
    this.maxLength = o.maxLength;
    this.batchFirst = o.batchFirst;
    this.weight = this.param('weight', [o.maxLength, o.embedDim], (d) => { for (let i = 0; i < d.length; i++) d[i] = std * rng.normal(); }); // (P, E)
  }

  forward(x: Tensor, start = 0): Tensor {
    checkStart('LearnedPositionalEncoding', x, start, this.batchFirst, this.maxLength);
    return addPositions(x, this.weight, start, this.batchFirst); // x's shape
  }
}
