// The stacks: TransformerEncoder and TransformerDecoder (numLayers layers, an optional final LayerNorm) and
// Transformer, the encoder–decoder of Vaswani et al. (2017), with PyTorch's options, defaults and state_dict
// names (encoder.layers.0.self_attn.in_proj_weight, ..., encoder.norm.weight, decoder.norm.bias). Not here:
// the layers (encoder-layer.ts, decoder-layer.ts), embeddings and positions (positional-encoding.ts).

import type { Rng } from '../../random/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { uniformInit } from '../init.js';
import { positiveInt } from '../linear.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { DECODER_FORWARD_KEYS, TransformerDecoderLayer, type DecoderLayerForwardOptions } from './decoder-layer.js';
import { ENCODER_FORWARD_KEYS, TransformerEncoderLayer, type EncoderLayerForwardOptions } from './encoder-layer.js';
import { LAYER_OPTION_KEYS, resolveLayerOptions, type TransformerLayerOptions } from './layer-options.js';
import { LayerNorm } from './layer-norm.js';
import { squareSubsequentMask, type AttentionMask } from './masks.js';
import type { KeyValueCache } from './multihead-attention.js';

export interface TransformerStackOptions {
  /** Every layer's options (PyTorch clones one layer; here each layer is initialised on its own, same distributions). */
  layer: TransformerLayerOptions;
  numLayers: number;
  /** A final LayerNorm(dModel, layerNormEps) named `norm` (PyTorch's norm argument). Default false. */
  norm?: boolean;
}

const STACK_KEYS = ['layer', 'numLayers', 'norm'] as const;

/** What the encoder and decoder stacks share: numLayers layers named layers.i, an optional final `norm`, per-layer caches. */
abstract class TransformerStack<L extends Module> extends Module {
  readonly layers: L[];
  readonly norm: LayerNorm | null;

  constructor(private readonly who: string, opts: TransformerStackOptions, rng: Rng, makeLayer: (o: TransformerLayerOptions, rng: Rng) => L) {
    super();
    if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys(`${who} options`, opts, STACK_KEYS);
    positiveInt(`${who} numLayers`, opts.numLayers);
    const norm = opts.norm ?? false;
    if (typeof norm !== 'boolean') throw new Error(`${who} norm must be a boolean, got ${JSON.stringify(norm)}`);
    const o = resolveLayerOptions(`${who} layer`, opts.layer);
    this.layers = Array.from({ length: opts.numLayers }, (_, i) => this.child(`layers.${i}`, makeLayer(o, rng)));
    this.norm = norm ? this.child('norm', new LayerNorm({ normalizedShape: o.dModel, eps: o.layerNormEps, bias: o.bias })) : null;
  }

  /**
   * The forward options checked (the layer's keys but the per-layer `cache` and `memoryKeyValue`, and their
   * per-stack lists `caches` and `memoryKeyValues`), split into those lists and the rest.
   */
  protected split<O extends { caches?: readonly KeyValueCache[]; memoryKeyValues?: readonly Tensor[] }>(opts: O, layerKeys: readonly string[]): {
    caches: readonly KeyValueCache[] | undefined; memoryKeyValues: readonly Tensor[] | undefined; rest: Omit<O, 'caches' | 'memoryKeyValues'>;
  } {
    rejectUnknownKeys(`${this.who}.forward options`, opts, [...layerKeys.filter((k) => k !== 'cache' && k !== 'memoryKeyValue'), 'caches', ...(layerKeys.includes('memoryKeyValue') ? ['memoryKeyValues'] : [])]);
    const { caches, memoryKeyValues, ...rest } = opts;
    for (const [name, list, what] of [['caches', caches, 'KeyValueCache'], ['memoryKeyValues', memoryKeyValues, 'projected memory']] as const) {
      if (list !== undefined && (!Array.isArray(list) || list.length !== this.layers.length)) {
        throw new Error(`${this.who}: ${name} must hold one ${what} per layer (${this.layers.length}), got ${Array.isArray(list) ? list.length : String(list)}`);
      }
    }
    return { caches, memoryKeyValues, rest };
  }

  protected final(x: Tensor): Tensor {
    return this.norm === null ? x : this.norm.forward(x); // (T, B, E)
  }
}

export interface EncoderForwardOptions extends Omit<EncoderLayerForwardOptions, 'cache'> {
  /** One cache per layer (inference one step at a time). */
  caches?: readonly KeyValueCache[];
}

/** x_{l+1} = layers[l](x_l) for every layer, then norm(x) when there is a final norm. */
export class TransformerEncoder extends TransformerStack<TransformerEncoderLayer> {
  constructor(opts: TransformerStackOptions, rng: Rng) {
    super('TransformerEncoder', opts, rng, (o, r) => new TransformerEncoderLayer(o, r));
  }

  forward(src: Tensor, opts: EncoderForwardOptions = {}): Tensor {
    const { caches, rest } = this.split(opts, ENCODER_FORWARD_KEYS);
    let x = src; // (T, B, E)
    this.layers.forEach((layer, i) => { x = layer.forward(x, { ...rest, ...(caches ? { cache: caches[i] } : {}) }); });
    return this.final(x); // (T, B, E)
  }

  /** forward, and every layer's self-attention weights per head: (B, nhead, T, S) each. */
  forwardWithWeights(src: Tensor, opts: EncoderForwardOptions = {}): { output: Tensor; weights: Tensor[] } {
    const { caches, rest } = this.split(opts, ENCODER_FORWARD_KEYS);
    let x = src; // (T, B, E)
    const weights = this.layers.map((layer, i) => {
      const r = layer.forwardWithWeights(x, { ...rest, ...(caches ? { cache: caches[i] } : {}) });
      x = r.output; // (T, B, E)
      return r.weights; // (B, nhead, T, S)
    });
    return { output: this.final(x), weights };
  }
}

export interface DecoderForwardOptions extends Omit<DecoderLayerForwardOptions, 'cache' | 'memoryKeyValue'> {
  /** One cache per layer (inference one step at a time). */
  caches?: readonly KeyValueCache[];
  /** Per layer, layers[i].multiheadAttn.projectKeyValue(memory) (decoding step by step: the memory projected once). */
  memoryKeyValues?: readonly Tensor[];
}

export interface DecoderOutput {
  /** (T, B, E), or (B, T, E) batch-first. */
  output: Tensor;
  /** Per layer, (B, nhead, T, S): every head's attention over the memory. */
  crossWeights: Tensor[];
}

/** x_{l+1} = layers[l](x_l, memory) for every layer, then norm(x) when there is a final norm. */
export class TransformerDecoder extends TransformerStack<TransformerDecoderLayer> {
  constructor(opts: TransformerStackOptions, rng: Rng) {
    super('TransformerDecoder', opts, rng, (o, r) => new TransformerDecoderLayer(o, r));
  }

  forward(tgt: Tensor, memory: Tensor, opts: DecoderForwardOptions = {}): Tensor {
    return this.forwardWithWeights(tgt, memory, opts).output;
  }

  /** forward, and the cross-attention weights of every layer and head. */
  forwardWithWeights(tgt: Tensor, memory: Tensor, opts: DecoderForwardOptions = {}): DecoderOutput {
    const { caches, memoryKeyValues, rest } = this.split(opts, DECODER_FORWARD_KEYS);
    let x = tgt; // (T, B, E)
    const crossWeights: Tensor[] = [];
    this.layers.forEach((layer, i) => {
      const r = layer.forwardWithWeights(x, memory, { ...rest, ...(caches ? { cache: caches[i] } : {}), ...(memoryKeyValues ? { memoryKeyValue: memoryKeyValues[i] } : {}) });
      x = r.output; // (T, B, E)
      crossWeights.push(r.crossWeights); // (B, nhead, T, S)
    });
    return { output: this.final(x), crossWeights };
  }
}

/** nn.Transformer's options: the layer options (with d_model 512 and nhead 8 as defaults) and the stack depths. */
export interface TransformerOptions extends Partial<TransformerLayerOptions> {
  /** Default 6. */
  numEncoderLayers?: number;
  /** Default 6. */
  numDecoderLayers?: number;
}

export interface TransformerForwardOptions {
  srcMask?: AttentionMask | null;
  tgtMask?: AttentionMask | null;
  memoryMask?: AttentionMask | null;
  srcKeyPaddingMask?: AttentionMask | null;
  tgtKeyPaddingMask?: AttentionMask | null;
  memoryKeyPaddingMask?: AttentionMask | null;
  srcIsCausal?: boolean;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

const TRANSFORMER_FORWARD_KEYS = ['srcMask', 'tgtMask', 'memoryMask', 'srcKeyPaddingMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'srcIsCausal', 'tgtIsCausal', 'memoryIsCausal'] as const;

/**
 * memory = encoder(src) (numEncoderLayers layers + encoder.norm), output = decoder(tgt, memory) (numDecoderLayers
 * layers + decoder.norm): PyTorch's nn.Transformer. Every parameter with more than one dimension starts
 * Xavier-uniform, as PyTorch's _reset_parameters does. Embeddings, positions and the output layer are
 * the caller's, as in PyTorch. (PyTorch's custom_encoder / custom_decoder are not taken.)
 */
export class Transformer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;

  constructor(opts: TransformerOptions = {}, rng: Rng) {
    super();
    if (opts === null || typeof opts !== 'object') throw new Error(`Transformer: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys('Transformer options', opts, [...LAYER_OPTION_KEYS, 'numEncoderLayers', 'numDecoderLayers']);
    const { numEncoderLayers = 6, numDecoderLayers = 6, ...rest } = opts;
    const layer = resolveLayerOptions('Transformer', { ...rest, dModel: rest.dModel ?? 512, nhead: rest.nhead ?? 8 });
    this.dModel = layer.dModel;
    this.nhead = layer.nhead;
    this.batchFirst = layer.batchFirst;
    this.encoder = this.child('encoder', new TransformerEncoder({ layer, numLayers: numEncoderLayers, norm: true }, rng));
    this.decoder = this.child('decoder', new TransformerDecoder({ layer, numLayers: numDecoderLayers, norm: true }, rng));
    for (const p of this.parameters()) {
      if (p.shape.length > 1) uniformInit(rng, Math.sqrt(6 / (p.shape[0] + p.shape[1])))(p.data); // Xavier-uniform, fan_out = rows, fan_in = columns
    }
  }

  /** src (S, B, E), tgt (T, B, E) (or batch-first) -> (T, B, E). */
  forward(src: Tensor, tgt: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    rejectUnknownKeys('Transformer.forward options', opts, TRANSFORMER_FORWARD_KEYS);
    const bAxis = this.batchFirst ? 0 : 1;
    if (src.shape.length !== 3 || tgt.shape.length !== 3 || src.shape[bAxis] !== tgt.shape[bAxis]) {
      throw new Error(`Transformer: src [${src.shape.join(', ')}] and tgt [${tgt.shape.join(', ')}] must be 3-D with one batch size`);
    }
    if (src.shape[2] !== this.dModel || tgt.shape[2] !== this.dModel) throw new Error(`Transformer: the feature number of src and tgt must be equal to dModel ${this.dModel}`);
    const memory = this.encoder.forward(src, { srcMask: opts.srcMask, srcKeyPaddingMask: opts.srcKeyPaddingMask, isCausal: opts.srcIsCausal }); // (S, B, E)
    return this.decoder.forward(tgt, memory, {
      tgtMask: opts.tgtMask, memoryMask: opts.memoryMask, tgtKeyPaddingMask: opts.tgtKeyPaddingMask,
      memoryKeyPaddingMask: opts.memoryKeyPaddingMask, tgtIsCausal: opts.tgtIsCausal, memoryIsCausal: opts.memoryIsCausal,
    }); // (T, B, E)
  }

  /** PyTorch's Transformer.generate_square_subsequent_mask: (sz, sz), -∞ above the diagonal. */
  static generateSquareSubsequentMask(sz: number): Tensor {
    return squareSubsequentMask(sz);
  }
}
