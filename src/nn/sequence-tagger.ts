// SequenceTagger: aligned many-to-many tagging of padded token sequences (one tag per token).
// Embedding(V, E) → recurrent stack → Linear(dirs·H, C) at every step. The loss skips padded steps
// through crossEntropy's ignoreIndex. Not here: training loops or tag tables.
// Parameter names: `embedding.weight`, `rnn.weight_ih_l0`, ..., `head.weight`, `head.bias`.

import { crossEntropy, dropout as dropoutOp } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { createRecurrent, type Recurrent } from './recurrent/index.js';
import { IGNORE_INDEX } from './seq2seq.js';
import { checkSequenceBatch, resolveEncoderConfig, type SequenceEncoderConfig } from './sequence-classifier.js';

export interface SequenceTaggerConfig extends SequenceEncoderConfig {
  /** C: tags per token. */
  numTags: number;
}

export class SequenceTagger extends Module {
  readonly config: Required<SequenceTaggerConfig>;
  readonly embedding: Embedding;
  readonly rnn: Recurrent;
  readonly head: Linear;

  constructor(config: SequenceTaggerConfig, private readonly rng: Rng) {
    super();
    const enc = resolveEncoderConfig('SequenceTagger', config, ['numTags']);
    const { numTags } = config;
    if (!Number.isInteger(numTags) || numTags < 2) throw new Error(`SequenceTagger numTags must be an integer >= 2, got ${String(numTags)}`);
    this.config = { ...enc, numTags };
    const { vocabSize: V, embeddingSize: E, hiddenSize: H, numLayers: L, bidirectional, dropout, cell } = enc;
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
    this.rnn = this.child('rnn', createRecurrent(cell, { inputSize: E, hiddenSize: H, numLayers: L, bidirectional, dropout: L > 1 ? dropout : 0 }, rng));
    this.head = this.child('head', new Linear({ inFeatures: (bidirectional ? 2 : 1) * H, outFeatures: numTags }, rng));
  }

  /**
   * ids (T, B) time-major, lengths (B) (all T when absent) → logits (T, B, C). Rows past a sequence's length
   * are the head's bias alone (the recurrent output is 0 there): meaningless, and skipped by `loss`.
   */
  forward(ids: Int32Array, T: number, B: number, lengths?: ArrayLike<number>): Tensor {
    const n = checkSequenceBatch('SequenceTagger.forward', ids, T, B, lengths);
    const { output } = this.rnn.forwardTokens(this.embedding.weight, ids, [T, B], { lengths: n }); // (T, B, dirs·H) rnn(embedding(ids))
    const y = dropoutOp(output, this.config.dropout, this.rng, this.training); // (T, B, dirs·H)
    return this.head.forward(y); // (T, B, C)
  }

  /**
   * Mean cross-entropy over the valid steps only: logits (T, B, C), tags (T, B) time-major. Tags at padded
   * steps (t >= lengths[b]) are replaced by IGNORE_INDEX, so their values never matter.
   */
  loss(logits: Tensor, tags: Int32Array, lengths?: ArrayLike<number>): Tensor {
    const [T, B, C] = logits.shape;
    if (logits.shape.length !== 3 || C !== this.config.numTags) throw new Error(`SequenceTagger.loss: logits must be (T, B, ${this.config.numTags}), got [${logits.shape.join(', ')}]`);
    const n = checkSequenceBatch('SequenceTagger.loss', tags, T, B, lengths);
    const targets = Int32Array.from(tags); // (T·B)
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const i = t * B + b;
        if (t >= n[b]) targets[i] = IGNORE_INDEX;
        else if (!(targets[i] >= 0 && targets[i] < C)) throw new Error(`SequenceTagger.loss: tag ${targets[i]} at step ${t} of sequence ${b} is outside [0, ${C})`);
      }
    }
    return crossEntropy(logits, targets, IGNORE_INDEX);
  }
}
