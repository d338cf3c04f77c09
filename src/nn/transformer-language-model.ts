// A GPT-style character model (Radford et al. 2018/2019; nanoGPT's layout): token embedding plus learned
// positions, numLayers pre-norm Transformer blocks with causal self-attention and a GELU feed-forward of
// 4·E, a final LayerNorm, and a linear head (optionally tied to the token embedding). The blocks are
// PyTorch's nn.TransformerEncoderLayer(norm_first=True, activation='gelu'), so the state_dict names are
// PyTorch's: embedding.weight, positions.weight, encoder.layers.0.self_attn.in_proj_weight, ...,
// encoder.norm.weight, head.weight (absent when tied). Initialised as GPT-2: every weight N(0, 0.02), the
// two projections back into the residual stream (self_attn.out_proj, linear2) N(0, 0.02/√(2L)), biases 0.
// It reads (T, B) time-major ids and returns (T·B, V) logits as LanguageModel does (its state is always null:
// a Transformer carries nothing between windows); step() decodes with a key/value cache per layer.

import { dropout as dropoutOp, linear, reshape, sliceRows } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear, positiveInt } from './linear.js';
import { Module } from './module.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import { KeyValueCache } from './transformer/multihead-attention.js';
import { LearnedPositionalEncoding } from './transformer/positional-encoding.js';
import { TransformerEncoder } from './transformer/transformer.js';

export interface TransformerLanguageModelConfig {
  arch: 'transformer';
  vocabSize: number;
  /** E: the width of the residual stream. */
  dModel: number;
  numLayers: number;
  numHeads: number;
  /** The longest window the model reads (its positions). */
  context: number;
  /** Dropout on the embeddings, the attention weights and each block's two residual branches (training only). */
  dropout: number;
  /** The head's weight is the token embedding's (no head.weight of its own). */
  tieEmbeddings: boolean;
}

const CONFIG_KEYS = ['arch', 'vocabSize', 'dModel', 'numLayers', 'numHeads', 'context', 'dropout', 'tieEmbeddings'] as const;

export class TransformerLanguageModel extends Module {
  readonly config: TransformerLanguageModelConfig;
  readonly embedding: Embedding;
  readonly positions: LearnedPositionalEncoding;
  readonly encoder: TransformerEncoder;
  readonly head: Linear | null;

  constructor(config: TransformerLanguageModelConfig, private readonly rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`TransformerLanguageModel: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('TransformerLanguageModel config', config, CONFIG_KEYS);
    const { vocabSize: V, dModel: E, numLayers: L, numHeads, context, dropout, tieEmbeddings } = config;
    if (config.arch !== 'transformer') throw new Error(`TransformerLanguageModel: arch must be 'transformer', got ${JSON.stringify(config.arch)}`);
    for (const [k, v] of [['vocabSize', V], ['dModel', E], ['numLayers', L], ['numHeads', numHeads], ['context', context]] as const) positiveInt(`TransformerLanguageModel ${k}`, v);
    if (E % numHeads !== 0) throw new Error(`TransformerLanguageModel: numHeads ${numHeads} does not divide the width dModel ${E}`);
    if (!(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) throw new Error(`TransformerLanguageModel dropout must be in [0, 1), got ${dropout}`);
    if (typeof tieEmbeddings !== 'boolean') throw new Error(`TransformerLanguageModel tieEmbeddings must be a boolean, got ${JSON.stringify(tieEmbeddings)}`);
    this.config = { ...config };
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
    this.positions = this.child('positions', new LearnedPositionalEncoding({ embedDim: E, maxLength: context, std: 0.02 }, rng));
    this.encoder = this.child('encoder', new TransformerEncoder({
      layer: { dModel: E, nhead: numHeads, dimFeedforward: 4 * E, dropout, activation: 'gelu', normFirst: true }, numLayers: L, norm: true,
    }, rng));
    this.head = tieEmbeddings ? null : this.child('head', new Linear({ inFeatures: E, outFeatures: V, bias: false }, rng));
    for (const [name, p] of this.namedParameters()) {
      if (name.endsWith('bias') || /norm\d?\.weight$/.test(name) || name === 'positions.weight') continue; // LayerNorm 1/0, biases 0, positions N(0, 0.02) already
      const std = /(out_proj|linear2)\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * L) : 0.02;
      const d = p.data;
      for (let i = 0; i < d.length; i++) d[i] = std * rng.normal();
    }
    for (const [name, p] of this.namedParameters()) if (name.endsWith('bias')) p.data.fill(0);
  }

  private logits(x: Tensor, rows: number): Tensor {
    const h = reshape(x, [rows, this.config.dModel]); // (rows, E)
    return this.head === null ? linear(h, this.embedding.weight, null) : this.head.forward(h); // (rows, V)
  }

  /** ids (T, B) time-major → logits (T·B, V); `state` must be null (there is none to carry). */
  forward(ids: Int32Array, T: number, B: number, state: null = null): { logits: Tensor; state: null } {
    if (state !== null) throw new Error('TransformerLanguageModel.forward: a Transformer carries no state between windows (pass null)');
    const y = this.encoder.forward(this.inputs(ids, T, B), { isCausal: true }); // (T, B, E), final LayerNorm included
    return { logits: this.logits(y, T * B), state: null };
  }

  /** forward, and every layer's causal self-attention weights per head: (B, numHeads, T, T) each. */
  forwardWithWeights(ids: Int32Array, T: number, B: number): { logits: Tensor; weights: Tensor[] } {
    const { output, weights } = this.encoder.forwardWithWeights(this.inputs(ids, T, B), { isCausal: true }); // (T, B, E)
    return { logits: this.logits(output, T * B), weights };
  }

  /** The blocks' input: token embeddings plus positions, with dropout in training. */
  private inputs(ids: Int32Array, T: number, B: number): Tensor {
    if (T > this.config.context) throw new Error(`TransformerLanguageModel: a window of ${T} steps exceeds the context ${this.config.context}`);
    const x0 = this.positions.forward(this.embedding.forward(ids, [T, B])); // (T, B, E)
    return dropoutOp(x0, this.config.dropout, this.rng, this.training); // (T, B, E)
  }

  /** One cache per layer for decoding `batch` sequences of up to `context` steps (dispose them after). */
  createCaches(batch: number): KeyValueCache[] {
    return this.encoder.layers.map(() => new KeyValueCache({ batch, capacity: this.config.context, embedDim: this.config.dModel }));
  }

  /**
   * The next-token logits (B, V) after reading ids (T, B) time-major, which come right after the caches'
   * steps (at positions caches[0].length, ...); the caches gain them. Inference only (under noGrad).
   */
  step(ids: Int32Array, T: number, B: number, caches: readonly KeyValueCache[]): Tensor {
    const start = caches[0].length;
    if (start + T > this.config.context) throw new Error(`TransformerLanguageModel.step: ${start} cached + ${T} new steps exceed the context ${this.config.context}`);
    const x = this.positions.forward(this.embedding.forward(ids, [T, B]), start); // (T, B, E)
    const y = this.encoder.forward(x, { isCausal: true, caches }); // (T, B, E)
    return this.logits(sliceRows(y, T - 1, 1), B); // (B, V) from the last step (1, B, E)
  }
}
