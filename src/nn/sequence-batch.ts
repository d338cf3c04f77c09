// Checks shared by the models trained on batches of id sequences with output feedback (Seq2Seq,
// ConditionedGenerator): the sequences themselves, and the teacher-forcing options of their forward.

import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';

/** Checks B >= 1 non-empty sequences of integer ids in [0, V); returns their lengths. `what` and `arg` name them in errors. */
export function checkSequences(what: string, arg: string, seqs: ReadonlyArray<ArrayLike<number>>, V: number): number[] {
  if (!Array.isArray(seqs) || seqs.length === 0) throw new Error(`${what}: ${arg} must be a non-empty array of sequences, got ${Array.isArray(seqs) ? 'an empty array' : String(seqs)}`);
  return seqs.map((seq, b) => {
    if (seq === null || typeof seq !== 'object' || typeof seq.length !== 'number') throw new Error(`${what}: ${arg}[${b}] must be an array of ids, got ${String(seq)}`);
    if (seq.length === 0) throw new Error(`${what}: ${arg}[${b}] is empty (every sequence needs at least one token)`);
    for (let i = 0; i < seq.length; i++) {
      const id = seq[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`${what}: ${arg}[${b}][${i}] = ${id} is outside the vocabulary [0, ${V})`);
    }
    return seq.length;
  });
}

export interface FeedbackOptions {
  /**
   * Probability of feeding the gold previous token at each step of each row (else the model's own
   * previous prediction, without gradient through the choice). 1 = teacher forcing (default).
   * See teacherForcingProbability for the schedules.
   */
  teacherForcing?: number;
  /** How the model's own token is chosen: sampled from softmax(logits) (default) or argmax. */
  feedback?: 'sample' | 'argmax';
  /** The seeded generator for the coin flips and samples; required when teacherForcing < 1. */
  rng?: Rng;
}

/** Validates the options of `who`'s training forward (`who`, e.g. 'Seq2Seq.forward', names it in errors) and fills the defaults. */
export function checkFeedbackOptions(who: string, opts: FeedbackOptions): { teacherForcing: number; feedback: 'sample' | 'argmax'; rng: Rng | undefined } {
  if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${who} options`, opts, ['teacherForcing', 'feedback', 'rng']);
  const { teacherForcing = 1, feedback = 'sample', rng } = opts;
  if (typeof teacherForcing !== 'number' || !(teacherForcing >= 0 && teacherForcing <= 1)) {
    throw new Error(`${who}: teacherForcing must be a probability in [0, 1], got ${String(teacherForcing)}`);
  }
  if (feedback !== 'sample' && feedback !== 'argmax') throw new Error(`${who}: feedback must be 'sample' or 'argmax', got ${JSON.stringify(feedback)}`);
  if (teacherForcing < 1 && rng === undefined) throw new Error(`${who}: teacherForcing < 1 needs a seeded rng (options.rng) for its coin flips and samples`);
  return { teacherForcing, feedback, rng };
}

/** What a training forward with output feedback returns (Seq2Seq adds its attention weights). */
export interface FeedbackOutput {
  /** Mean cross-entropy over the real target tokens (eos included, padding excluded), shape [1]. */
  loss: Tensor;
  /** (T, B, V) T = longest target + 1 (eos). */
  logits: Tensor;
  /** T·B time-major gold ids, IGNORE_INDEX past each target's end. */
  targets: Int32Array;
  /** T·B time-major ids actually fed to the decoder (bos at t = 0). */
  inputs: Int32Array;
}
