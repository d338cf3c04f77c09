// SequenceClassifier: many-to-one classification of padded token sequences. Embedding(V, E) → recurrent
// stack → pooling over each sequence's valid steps → Linear(dirs·H, C). Not here: the training loop and
// the label/character tables (cli/classify.ts), or per-step tagging (sequence-tagger.ts).
// Parameter names: `embedding.weight`, `rnn.weight_ih_l0`, ..., `head.weight`, `head.bias`.

import { concat, dropout as dropoutOp, maxOverSteps, meanOverSteps, select } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { cellKinds, createRecurrent, type CellKind, type Recurrent } from './recurrent/index.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';

export const poolKinds = ['last', 'mean', 'max'] as const;
export type PoolKind = (typeof poolKinds)[number];

/** What the classifier and the tagger share: the embedding and the recurrent encoder. */
export interface SequenceEncoderConfig {
  cell: CellKind;
  /** V: token ids are in [0, V). */
  vocabSize: number;
  /** E: embedding width. Default hiddenSize. */
  embeddingSize?: number;
  /** H: recurrent state width (per direction). */
  hiddenSize: number;
  /** L. Default 1. */
  numLayers?: number;
  /** Default false. Features are [forward, reverse], 2H wide. */
  bidirectional?: boolean;
  /**
   * Training-only dropout, default 0: between recurrent layers (when L > 1) and on the features the
   * output layer reads (the pooled vector, or each step's output for the tagger).
   */
  dropout?: number;
}

export interface SequenceClassifierConfig extends SequenceEncoderConfig {
  /** C. */
  numClasses: number;
  /**
   * How the (T, B, dirs·H) outputs become one (B, dirs·H) vector, over valid steps only (default 'last'):
   *   last  the final state of each direction: forward after step n_b − 1, reverse after step 0
   *   mean  (1/n_b) Σ_{t < n_b} y_t
   *   max   max_{t < n_b} y_t per feature
   */
  pool?: PoolKind;
}

const ENCODER_KEYS = ['cell', 'vocabSize', 'embeddingSize', 'hiddenSize', 'numLayers', 'bidirectional', 'dropout'] as const;

/** Validates an encoder config (unknown keys included) and fills in its defaults. */
export function resolveEncoderConfig(name: string, c: SequenceEncoderConfig, extraKeys: readonly string[]): Required<SequenceEncoderConfig> {
  if (c === null || typeof c !== 'object') throw new Error(`${name}: config must be an object, got ${String(c)}`);
  rejectUnknownKeys(`${name} config`, c, [...ENCODER_KEYS, ...extraKeys]);
  if (!(cellKinds as readonly string[]).includes(c.cell)) throw new Error(`${name} cell must be one of ${cellKinds.join(', ')}, got ${JSON.stringify(c.cell)}`);
  const r = {
    cell: c.cell, vocabSize: c.vocabSize, embeddingSize: c.embeddingSize ?? c.hiddenSize, hiddenSize: c.hiddenSize,
    numLayers: c.numLayers ?? 1, bidirectional: c.bidirectional ?? false, dropout: c.dropout ?? 0,
  };
  for (const k of ['vocabSize', 'embeddingSize', 'hiddenSize', 'numLayers'] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) throw new Error(`${name} ${k} must be a positive integer, got ${String(r[k])}`);
  }
  if (typeof r.bidirectional !== 'boolean') throw new Error(`${name} bidirectional must be true or false, got ${String(r.bidirectional)}`);
  if (typeof r.dropout !== 'number' || !(r.dropout >= 0 && r.dropout < 1)) throw new Error(`${name} dropout must be a number in [0, 1), got ${String(r.dropout)}`);
  return r;
}

/** Checks ids (T, B) time-major and lengths (B, each in [1, T]; all T when absent). */
export function checkSequenceBatch(name: string, ids: Int32Array, T: number, B: number, lengths: ArrayLike<number> | undefined): ArrayLike<number> {
  if (!Number.isInteger(T) || T <= 0 || !Number.isInteger(B) || B <= 0) throw new Error(`${name}: T and B must be positive integers, got T ${T}, B ${B}`);
  if (ids.length !== T * B) throw new Error(`${name}: ids must hold T·B = ${T * B} ids (time-major), got ${ids.length}`);
  if (lengths === undefined) return new Int32Array(B).fill(T);
  if (lengths.length !== B) throw new Error(`${name}: lengths must hold one length per sequence (B = ${B}), got ${lengths.length}`);
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(lengths[b]) || lengths[b] < 1 || lengths[b] > T) throw new Error(`${name}: lengths[${b}] must be an integer in [1, T = ${T}], got ${lengths[b]}`);
  }
  return lengths;
}

export class SequenceClassifier extends Module {
  readonly config: Required<SequenceClassifierConfig>;
  readonly embedding: Embedding;
  readonly rnn: Recurrent;
  readonly head: Linear;

  constructor(config: SequenceClassifierConfig, private readonly rng: Rng) {
    super();
    const enc = resolveEncoderConfig('SequenceClassifier', config, ['numClasses', 'pool']);
    const { numClasses, pool = 'last' } = config;
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`SequenceClassifier numClasses must be an integer >= 2, got ${String(numClasses)}`);
    if (!(poolKinds as readonly string[]).includes(pool)) throw new Error(`SequenceClassifier pool must be one of ${poolKinds.join(', ')}, got ${JSON.stringify(pool)}`);
    this.config = { ...enc, numClasses, pool };
    const { vocabSize: V, embeddingSize: E, hiddenSize: H, numLayers: L, bidirectional, dropout, cell } = enc;
    const dirs = bidirectional ? 2 : 1;
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
    this.rnn = this.child('rnn', createRecurrent(cell, { inputSize: E, hiddenSize: H, numLayers: L, bidirectional, dropout: L > 1 ? dropout : 0 }, rng));
    this.head = this.child('head', new Linear({ inFeatures: dirs * H, outFeatures: numClasses }, rng));
  }

  /** ids (T, B) time-major, lengths (B) (all T when absent; ids past a length are never read) → logits (B, C). */
  forward(ids: Int32Array, T: number, B: number, lengths?: ArrayLike<number>): Tensor {
    const n = checkSequenceBatch('SequenceClassifier.forward', ids, T, B, lengths);
    const r = this.rnn.forwardTokens(this.embedding.weight, ids, [T, B], { lengths: n }); // rnn(embedding(ids))
    const pooled = this.pool(r.output, r.h, n); // (B, dirs·H)
    const y = dropoutOp(pooled, this.config.dropout, this.rng, this.training); // (B, dirs·H)
    return this.head.forward(y); // (B, C)
  }

  /** The features the head reads: output (T, B, dirs·H) and h (L·dirs, B, H) → (B, dirs·H). */
  private pool(output: Tensor, h: Tensor, lengths: ArrayLike<number>): Tensor {
    const { pool, numLayers: L, bidirectional } = this.config;
    switch (pool) {
      case 'mean':
        return meanOverSteps(output, lengths); // (B, dirs·H)
      case 'max':
        return maxOverSteps(output, lengths); // (B, dirs·H)
      case 'last': {
        // h holds the last layer's final states: forward after step n_b − 1, reverse after step 0.
        if (!bidirectional) return select(h, L - 1); // (B, H)
        return concat([select(h, 2 * (L - 1)), select(h, 2 * (L - 1) + 1)]); // (B, 2H)
      }
      default:
        return pool satisfies never;
    }
  }
}
