// What the searches (greedy, sampling, beam search, ensembles) need of a model that writes a sequence
// from a source one token at a time: encode B sources once, step every row by one token, and pick rows
// (beam search reorders and repeats hypotheses). Each model that decodes — the recurrent encoder–decoder,
// the conditioned generator, and the models of later tasks — implements this, so the scorer in
// ensemble.ts knows no model by name.

import type { Tensor } from '../tensor/tensor.js';

/** What the members of an ensemble must agree on, and the output vocabulary. */
export interface DecodingSignature {
  /** The kind of source the model reads (members must all read the same kind), e.g. 'Seq2Seq'. */
  kind: string;
  /** Named sizes every member must share: vocabularies, source width, special symbols. */
  keys: Array<[string, number]>;
  vocabSize: number;
  bos: number;
  eos: number;
}

export interface StepDecoderStep<E, S> {
  logits: Tensor; // (B, V)
  /** (B, S') attention weights over each row's source positions (0 past its length), or null. */
  weights: Tensor | null;
  state: S;
  /** A new encoding, for models whose fixed part grows as they step (a key/value cache); else absent. */
  encoded?: E;
}

export interface StepDecoder<E = unknown, S = unknown> {
  readonly training: boolean;
  train(on?: boolean): unknown;
  eval(): unknown;
  decodingSignature(): DecodingSignature;
  /** Encodes B sources; returns what every step reads and the initial state (B rows). */
  encode(src: ReadonlyArray<ArrayLike<number>>): { encoded: E; state: S };
  /**
   * Feeds one token per row (bos first). The state given is consumed: a model may write its caches into it
   * in place (the Transformer's key/value cache), so step a state once, and use selectRows for a copy to step
   * another way.
   */
  decodeStep(encoded: E, state: S, prev: Int32Array): StepDecoderStep<E, S>;
  /** Rows `rows` of an encoding and a state (repeats allowed). */
  selectRows(encoded: E, state: S, rows: ArrayLike<number>): { encoded: E; state: S };
  /** Per row, how many source positions the step's attention weights cover (what callers read back). */
  attendedLengths(encoded: E): readonly number[];
}

/** Whether `m` implements StepDecoder (a check for plain-JavaScript callers). */
export function isStepDecoder(m: unknown): m is StepDecoder {
  if (m === null || typeof m !== 'object') return false;
  const o = m as Record<string, unknown>;
  return ['decodingSignature', 'encode', 'decodeStep', 'selectRows', 'attendedLengths', 'train', 'eval'].every((k) => typeof o[k] === 'function');
}
