// What the models trained on batches of id sequences with output feedback (Seq2Seq, ConditionedGenerator)
// share: the checks of the sequences and of the teacher-forcing options, the time-major targets, and the
// step-by-step loop that feeds each step the gold token or the model's own.

import { sampleLogits } from '../decode/sample.js';
import type { Rng } from '../random/rng.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';

/** Target padding (crossEntropy's default ignore index). */
export const IGNORE_INDEX = -100;

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
  /** Label smoothing ε of the loss, in [0, 1] (crossEntropy's labelSmoothing). Default 0. */
  labelSmoothing?: number;
}

/** Validates the options of `who`'s training forward (`who`, e.g. 'Seq2Seq.forward', names it in errors) and fills the defaults. */
export function checkFeedbackOptions(
  who: string, opts: FeedbackOptions,
): { teacherForcing: number; feedback: 'sample' | 'argmax'; rng: Rng | undefined; labelSmoothing: number } {
  if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${who} options`, opts, ['teacherForcing', 'feedback', 'rng', 'labelSmoothing']);
  const { teacherForcing = 1, feedback = 'sample', rng, labelSmoothing = 0 } = opts;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`${who}: labelSmoothing must be a number in [0, 1], got ${String(labelSmoothing)}`);
  }
  if (typeof teacherForcing !== 'number' || !(teacherForcing >= 0 && teacherForcing <= 1)) {
    throw new Error(`${who}: teacherForcing must be a probability in [0, 1], got ${String(teacherForcing)}`);
  }
  if (feedback !== 'sample' && feedback !== 'argmax') throw new Error(`${who}: feedback must be 'sample' or 'argmax', got ${JSON.stringify(feedback)}`);
  if (teacherForcing < 1 && rng === undefined) throw new Error(`${who}: teacherForcing < 1 needs a seeded rng (options.rng) for its coin flips and samples`);
  return { teacherForcing, feedback, rng, labelSmoothing };
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

/** The targets time-major (T, B): each sequence then eos, IGNORE_INDEX past its end; T = longest target + 1. */
export function timeMajorTargets(tgt: ReadonlyArray<ArrayLike<number>>, eos: number): { targets: Int32Array; T: number } {
  const B = tgt.length;
  const T = Math.max(...Array.from(tgt, (s) => s.length)) + 1;
  const targets = new Int32Array(T * B).fill(IGNORE_INDEX); // (T, B)
  tgt.forEach((seq, b) => {
    for (let t = 0; t < seq.length; t++) targets[t * B + b] = seq[t];
    targets[seq.length * B + b] = eos;
  });
  return { targets, T };
}

/** What teacher forcing feeds (T, B): bos at t = 0, then the gold previous token (eos past a target's end, where nothing is scored). */
export function teacherForcedInputs(targets: Int32Array, B: number, bos: number, eos: number): Int32Array {
  const inputs = new Int32Array(targets.length); // (T, B)
  inputs.fill(bos, 0, B);
  for (let i = B; i < inputs.length; i++) inputs[i] = targets[i - B] === IGNORE_INDEX ? eos : targets[i - B];
  return inputs;
}

/**
 * The training loop one step at a time: at each step t, `step(prev)` gets the B tokens to feed and returns
 * the (B, V) logits; each row's next token is the gold one with probability `teacherForcing`, else the
 * model's own (sampled or argmax, without gradient through the choice). Returns every step's logits and
 * the (T, B) tokens fed.
 */
export function stepWithFeedback(
  targets: Int32Array, B: number, bos: number, eos: number,
  o: { teacherForcing: number; feedback: 'sample' | 'argmax'; rng: Rng | undefined },
  step: (prev: Int32Array) => Tensor,
): { logits: Tensor[]; inputs: Int32Array } {
  const T = targets.length / B;
  const inputs = new Int32Array(T * B); // (T, B)
  const logits: Tensor[] = [];
  const prev = new Int32Array(B).fill(bos);
  for (let t = 0; t < T; t++) {
    if (t > 0) {
      const last = logits[t - 1].data; // (B, V)
      const V = last.length / B;
      for (let b = 0; b < B; b++) {
        const gold = targets[(t - 1) * B + b];
        const goldId = gold === IGNORE_INDEX ? eos : gold; // past a target's end nothing is scored
        // NOTE: at p = 1 no random number is drawn, so teacher forcing leaves the generator untouched.
        const useGold = o.teacherForcing >= 1 || (o.teacherForcing > 0 && o.rng!.uniform() < o.teacherForcing);
        prev[b] = useGold ? goldId : noGrad(() => sampleLogits(last.subarray(b * V, (b + 1) * V), { argmax: o.feedback === 'argmax' }, o.rng!));
      }
    }
    inputs.set(prev, t * B);
    logits.push(step(prev));
  }
  return { logits, inputs };
}
