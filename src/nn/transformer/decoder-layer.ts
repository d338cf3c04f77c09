// TransformerDecoderLayer: PyTorch's, with its options, defaults and state_dict names (self_attn,
// multihead_attn, linear1, linear2, norm1–norm3): masked self-attention, attention over the encoder's
// memory, a feed-forward block, each with a residual connection and LayerNorm, post-norm or pre-norm;
// the cross-attention weights per head can be read back. Not here: stacks (transformer.ts).

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

export interface DecoderLayerForwardOptions {
  /** (T, T) or (B·nhead, T, T), bool or float (PyTorch's tgt_mask). */
  tgtMask?: AttentionMask | null;
  /** (T, S) or (B·nhead, T, S), bool or float (PyTorch's memory_mask). */
  memoryMask?: AttentionMask | null;
  /** (B, T) (PyTorch's tgt_key_padding_mask). */
  tgtKeyPaddingMask?: AttentionMask | null;
  /** (B, S) (PyTorch's memory_key_padding_mask). */
  memoryKeyPaddingMask?: AttentionMask | null;
  /** Causal self-attention. Default false. */
  tgtIsCausal?: boolean;
  /** Causal attention over the memory (position t sees memory positions up to t + S - T). Default false. */
  memoryIsCausal?: boolean;
  /** Self-attention over a cache's earlier target steps too (inference, one step at a time). */
  cache?: KeyValueCache;
  /** The memory's keys and values already projected, multihead_attn.projectKeyValue(memory) (decoding step by step). */
  memoryKeyValue?: Tensor;
}

export const DECODER_FORWARD_KEYS = ['tgtMask', 'memoryMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'tgtIsCausal', 'memoryIsCausal', 'cache', 'memoryKeyValue'] as const;

export interface DecoderLayerOutput {
  /** (T, B, E), or (B, T, E) batch-first. */
  output: Tensor;
  /** (B, nhead, T, S): the attention over the memory of every head (after dropout, as PyTorch returns it). */
  crossWeights: Tensor;
}

/**
 * With SA(x) = self_attn(x, x, x), MHA(x, m) = multihead_attn(x, m, m) and FF as in the encoder layer, each
 * followed by dropout:
 *   post-norm (default)   x = norm1(x + SA(x)),   x = norm2(x + MHA(x, m)),   x = norm3(x + FF(x))
 *   pre-norm (normFirst)  x = x + SA(norm1(x)),   x = x + MHA(norm2(x), m),   x = x + FF(norm3(x))
 * tgt (T, B, E), memory (S, B, E), or batch-first.
 */
export class TransformerDecoderLayer extends Module {
  readonly options: ResolvedLayerOptions;
  readonly selfAttn: MultiheadAttention;
  readonly multiheadAttn: MultiheadAttention;
  readonly ff: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  private readonly dropouts: [Dropout, Dropout, Dropout];

  constructor(opts: TransformerLayerOptions, rng: Rng) {
    super();
    const o = (this.options = resolveLayerOptions('TransformerDecoderLayer', opts));
    const mha = (): MultiheadAttention => new MultiheadAttention({ embedDim: o.dModel, numHeads: o.nhead, dropout: o.dropout, bias: o.bias, batchFirst: o.batchFirst }, rng);
    this.selfAttn = this.child('self_attn', mha());
    this.multiheadAttn = this.child('multihead_attn', mha());
    const ff = createFeedForward(o, rng);
    this.ff = { ...ff, linear1: this.child('linear1', ff.linear1), dropout: this.child('dropout', ff.dropout), linear2: this.child('linear2', ff.linear2) };
    const norm = (): LayerNorm => new LayerNorm({ normalizedShape: o.dModel, eps: o.layerNormEps, bias: o.bias });
    this.norm1 = this.child('norm1', norm());
    this.norm2 = this.child('norm2', norm());
    this.norm3 = this.child('norm3', norm());
    this.dropouts = [1, 2, 3].map((i) => this.child(`dropout${i}`, new Dropout(o.dropout, rng))) as [Dropout, Dropout, Dropout];
  }

  forward(tgt: Tensor, memory: Tensor, opts: DecoderLayerForwardOptions = {}): Tensor {
    return this.forwardWithWeights(tgt, memory, opts).output;
  }

  /** forward, and the cross-attention weights per head. */
  forwardWithWeights(tgt: Tensor, memory: Tensor, opts: DecoderLayerForwardOptions = {}): DecoderLayerOutput {
    rejectUnknownKeys('TransformerDecoderLayer.forward options', opts, DECODER_FORWARD_KEYS);
    const [d1, d2, d3] = this.dropouts;
    let crossWeights: Tensor | null = null;
    const sa = (x: Tensor): Tensor => d1.forward(this.selfAttn.forward(x, x, x, {
      attnMask: opts.tgtMask, keyPaddingMask: opts.tgtKeyPaddingMask, isCausal: opts.tgtIsCausal, needWeights: false, cache: opts.cache,
    }).output); // (T, B, E)
    const mha = (x: Tensor): Tensor => {
      const r = this.multiheadAttn.forward(x, memory, memory, {
        attnMask: opts.memoryMask, keyPaddingMask: opts.memoryKeyPaddingMask, isCausal: opts.memoryIsCausal, averageAttnWeights: false,
        ...(opts.memoryKeyValue === undefined ? {} : { keyValue: opts.memoryKeyValue }),
      });
      crossWeights = r.weights; // (B, nhead, T, S)
      return d2.forward(r.output); // (T, B, E)
    };
    const ff = (x: Tensor): Tensor => d3.forward(feedForward(this.ff, x)); // (T, B, E)
    let x = tgt; // (T, B, E)
    if (this.options.normFirst) {
      x = add(x, sa(this.norm1.forward(x)));
      x = add(x, mha(this.norm2.forward(x)));
      x = add(x, ff(this.norm3.forward(x))); // (T, B, E)
    } else {
      x = this.norm1.forward(add(x, sa(x)));
      x = this.norm2.forward(add(x, mha(x)));
      x = this.norm3.forward(add(x, ff(x))); // (T, B, E)
    }
    return { output: x, crossWeights: crossWeights! };
  }
}
