// TransformerEncoderLayer: PyTorch's, with its options, defaults and state_dict names (self_attn, linear1,
// linear2, norm1, norm2): self-attention then a feed-forward block, each with a residual connection and
// LayerNorm, post-norm or pre-norm. Not here: stacks of layers (transformer.ts), attention (multihead-attention.ts).

import { add } from '../../autograd/ops.js';
import type { Rng } from '../../random/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Dropout } from '../dropout.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { createFeedForward, feedForward, resolveLayerOptions, type FeedForward, type ResolvedLayerOptions, type TransformerLayerOptions } from './layer-options.js';
import { LayerNorm } from './layer-norm.js';
import type { AttentionMask } from './masks.js';
import { MultiheadAttention, type KeyValueCache } from './multihead-attention.js';

export interface EncoderLayerForwardOptions {
  /** (T, T) or (B·nhead, T, T) attention mask, bool or float (PyTorch's src_mask). */
  srcMask?: AttentionMask | null;
  /** (B, T), bool or float (PyTorch's src_key_padding_mask). */
  srcKeyPaddingMask?: AttentionMask | null;
  /** Causal self-attention (each position sees itself and the ones before). Default false. */
  isCausal?: boolean;
  /** Self-attention over a cache's earlier steps too (inference: a GPT-style decoder one step at a time). */
  cache?: KeyValueCache;
}

export const ENCODER_FORWARD_KEYS = ['srcMask', 'srcKeyPaddingMask', 'isCausal', 'cache'] as const;

/**
 * With SA(x) = self_attn(x, x, x) and FF(x) = linear2(dropout(act(linear1(x)))), each followed by dropout:
 *   post-norm (default)   x = norm1(x + SA(x)),          x = norm2(x + FF(x))
 *   pre-norm (normFirst)  x = x + SA(norm1(x)),          x = x + FF(norm2(x))
 * src (T, B, E), or (B, T, E) batch-first. Parameters init as PyTorch's layer (nn.Transformer re-inits them).
 */
export class TransformerEncoderLayer extends Module {
  readonly options: ResolvedLayerOptions;
  readonly selfAttn: MultiheadAttention;
  readonly ff: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  private readonly dropout1: Dropout;
  private readonly dropout2: Dropout;

  constructor(opts: TransformerLayerOptions, rng: Rng) {
    super();
    const o = (this.options = resolveLayerOptions('TransformerEncoderLayer', opts));
    this.selfAttn = this.child('self_attn', new MultiheadAttention({ embedDim: o.dModel, numHeads: o.nhead, dropout: o.dropout, bias: o.bias, batchFirst: o.batchFirst }, rng));
    const ff = createFeedForward(o, rng);
    this.ff = { ...ff, linear1: this.child('linear1', ff.linear1), dropout: this.child('dropout', ff.dropout), linear2: this.child('linear2', ff.linear2) };
    this.norm1 = this.child('norm1', new LayerNorm({ normalizedShape: o.dModel, eps: o.layerNormEps, bias: o.bias }));
    this.norm2 = this.child('norm2', new LayerNorm({ normalizedShape: o.dModel, eps: o.layerNormEps, bias: o.bias }));
    this.dropout1 = this.child('dropout1', new Dropout(o.dropout, rng));
    this.dropout2 = this.child('dropout2', new Dropout(o.dropout, rng));
  }

  forward(src: Tensor, opts: EncoderLayerForwardOptions = {}): Tensor {
    return this.run(src, opts, false).output;
  }

  /** forward, and the self-attention weights of every head: (B, nhead, T, S). */
  forwardWithWeights(src: Tensor, opts: EncoderLayerForwardOptions = {}): { output: Tensor; weights: Tensor } {
    const { output, weights } = this.run(src, opts, true);
    return { output, weights: weights! };
  }

  private run(src: Tensor, opts: EncoderLayerForwardOptions, needWeights: boolean): { output: Tensor; weights: Tensor | null } {
    rejectUnknownKeys('TransformerEncoderLayer.forward options', opts, ENCODER_FORWARD_KEYS);
    let weights: Tensor | null = null;
    const sa = (x: Tensor): Tensor => {
      const r = this.selfAttn.forward(x, x, x, {
        attnMask: opts.srcMask, keyPaddingMask: opts.srcKeyPaddingMask, isCausal: opts.isCausal, needWeights, averageAttnWeights: false, cache: opts.cache,
      });
      weights = r.weights; // (B, nhead, T, S) or null
      return this.dropout1.forward(r.output); // (T, B, E)
    };
    const ff = (x: Tensor): Tensor => this.dropout2.forward(feedForward(this.ff, x)); // (T, B, E)
    let x = src; // (T, B, E)
    if (this.options.normFirst) {
      x = add(x, sa(this.norm1.forward(x))); // (T, B, E)
      return { output: add(x, ff(this.norm2.forward(x))), weights }; // (T, B, E)
    }
    x = this.norm1.forward(add(x, sa(x))); // (T, B, E)
    return { output: this.norm2.forward(add(x, ff(x))), weights }; // (T, B, E)
  }
}
