// What the Transformer layers share: their options (PyTorch's, with its defaults), checked once, and the
// feed-forward block linear2(dropout(act(linear1(x)))). Not here: the layers (encoder-layer.ts, decoder-layer.ts).

import { gelu, relu } from '../../autograd/ops.js';
import type { Rng } from '../../random/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Dropout } from '../dropout.js';
import { Linear, positiveInt } from '../linear.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';

export const transformerActivations = ['relu', 'gelu'] as const;
export type TransformerActivation = (typeof transformerActivations)[number];

/** PyTorch's TransformerEncoderLayer / TransformerDecoderLayer options (d_model, nhead, ...). */
export interface TransformerLayerOptions {
  /** E: the width of every position. */
  dModel: number;
  /** Attention heads; must divide dModel. */
  nhead: number;
  /** The feed-forward block's hidden width. Default 2048. */
  dimFeedforward?: number;
  /** Dropout after attention and feed-forward blocks, inside the feed-forward block and on attention weights. Default 0.1. */
  dropout?: number;
  /** Of the feed-forward block: 'relu' (default) or 'gelu' (exact erf form, F.gelu). */
  activation?: TransformerActivation;
  /** Every LayerNorm's eps. Default 1e-5. */
  layerNormEps?: number;
  /** Inputs and outputs (B, T, E) instead of (T, B, E). Default false. */
  batchFirst?: boolean;
  /** LayerNorm before each block (pre-norm) instead of after each residual sum (post-norm). Default false. */
  normFirst?: boolean;
  /** Biases of the Linear, attention and LayerNorm layers (PyTorch ≥ 2.1's bias). Default true. */
  bias?: boolean;
}

export const LAYER_OPTION_KEYS = ['dModel', 'nhead', 'dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'bias'] as const;

export type ResolvedLayerOptions = Required<TransformerLayerOptions>;

/** The options with PyTorch's defaults filled in, every one checked (unknown keys rejected). */
export function resolveLayerOptions(who: string, opts: TransformerLayerOptions, extraKeys: readonly string[] = []): ResolvedLayerOptions {
  if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${who} options`, opts, [...LAYER_OPTION_KEYS, ...extraKeys]);
  const r: ResolvedLayerOptions = {
    dModel: opts.dModel, nhead: opts.nhead, dimFeedforward: opts.dimFeedforward ?? 2048, dropout: opts.dropout ?? 0.1,
    activation: opts.activation ?? 'relu', layerNormEps: opts.layerNormEps ?? 1e-5, batchFirst: opts.batchFirst ?? false,
    normFirst: opts.normFirst ?? false, bias: opts.bias ?? true,
  };
  positiveInt(`${who} dModel`, r.dModel);
  positiveInt(`${who} nhead`, r.nhead);
  if (r.dModel % r.nhead !== 0) throw new Error(`${who}: nhead ${r.nhead} does not divide dModel ${r.dModel}`);
  positiveInt(`${who} dimFeedforward`, r.dimFeedforward);
  if (!(typeof r.dropout === 'number' && r.dropout >= 0 && r.dropout < 1)) throw new Error(`${who} dropout must be in [0, 1), got ${r.dropout}`);
  if (!(transformerActivations as readonly string[]).includes(r.activation)) {
    throw new Error(`${who} activation must be ${transformerActivations.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(r.activation)}`);
  }
  if (typeof r.layerNormEps !== 'number' || !(r.layerNormEps >= 0)) throw new Error(`${who} layerNormEps must be a non-negative number, got ${r.layerNormEps}`);
  for (const k of ['batchFirst', 'normFirst', 'bias'] as const) {
    if (typeof r[k] !== 'boolean') throw new Error(`${who} ${k} must be a boolean, got ${JSON.stringify(r[k])}`);
  }
  return r;
}

/** The feed-forward block's modules: linear1 (F, E), dropout, linear2 (E, F). */
export interface FeedForward {
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  activation: TransformerActivation;
}

export function createFeedForward(o: ResolvedLayerOptions, rng: Rng): FeedForward {
  return {
    linear1: new Linear({ inFeatures: o.dModel, outFeatures: o.dimFeedforward, bias: o.bias }, rng), // (F, E)
    dropout: new Dropout(o.dropout, rng),
    linear2: new Linear({ inFeatures: o.dimFeedforward, outFeatures: o.dModel, bias: o.bias }, rng), // (E, F)
    activation: o.activation,
  };
}

/** linear2(dropout(act(linear1(x)))): (·, E) -> (·, E). */
export function feedForward(f: FeedForward, x: Tensor): Tensor {
  const h = f.linear1.forward(x); // (·, F)
  const a = f.activation === 'gelu' ? gelu(h) : relu(h); // (·, F)
  return f.linear2.forward(f.dropout.forward(a)); // (·, E)
}
