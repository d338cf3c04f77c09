// The char-rnn model: Embedding(V, H) → recurrent stack (L layers of H) → Linear(H, V), with
// PyTorch's default initialisation for each part. Parameter names: `embedding.weight`,
// `rnn.weight_ih_l0`, ..., `head.weight`, `head.bias` — a PyTorch module with attributes
// embedding/rnn/head has the same state_dict.

import { dropout as dropoutOp, reshape } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import { Tensor, untracked } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { createRecurrent, type CellKind, type Recurrent } from './recurrent/index.js';

export interface LanguageModelConfig {
  cell: CellKind;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Dropout between recurrent layers and on the last layer's output (training only). */
  dropout: number;
}

/** The recurrent state carried between chunks: h (L, B, H) and, for LSTM, c (L, B, H). */
export interface CarriedState {
  h: Tensor;
  c: Tensor | null;
}

/** A copy of the state outside any scope and cut from the tape: what truncated BPTT carries to the next step. */
export function detachState(s: CarriedState): CarriedState {
  return untracked(() => ({ h: Tensor.from(s.h.data, s.h.shape), c: s.c === null ? null : Tensor.from(s.c.data, s.c.shape) }));
}

/** Frees a carried state (null: nothing to free). */
export function disposeState(s: CarriedState | null): void {
  if (s === null) return;
  s.h.dispose();
  s.c?.dispose();
}

export class LanguageModel extends Module {
  readonly embedding: Embedding;
  readonly rnn: Recurrent;
  readonly head: Linear;

  constructor(readonly config: LanguageModelConfig, private readonly rng: Rng) {
    super();
    const { vocabSize: V, hiddenSize: H, numLayers: L, cell, dropout } = config;
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: H }, rng));
    // Dropout between recurrent layers exists only with two or more; the output dropout below always applies.
    this.rnn = this.child('rnn', createRecurrent(cell, { inputSize: H, hiddenSize: H, numLayers: L, dropout: L > 1 ? dropout : 0 }, rng));
    this.head = this.child('head', new Linear({ inFeatures: H, outFeatures: V }, rng));
  }

  /** ids (T, B) time-major → logits (T*B, V) and the final state. */
  forward(ids: Int32Array, T: number, B: number, state: CarriedState | null): { logits: Tensor; state: CarriedState } {
    // rnn(embedding(ids)), with the first layer's input projection taken per vocabulary row (forwardTokens).
    const r = this.rnn.forwardTokens(this.embedding.weight, ids, [T, B], state === null ? {} : { h0: state.h, c0: state.c ?? undefined });
    const y = dropoutOp(r.output, this.config.dropout, this.rng, this.training); // (T, B, H)
    const logits = this.head.forward(reshape(y, [T * B, this.config.hiddenSize])); // (T*B, V)
    return { logits, state: { h: r.h, c: r.c } };
  }
}
