// The long-range recall task: a seeded generator of classification batches whose label is decided by
// the first token of the sequence, followed by `distance` random distractors, and its accuracy metric.
// Not here: the models or the training loop (experiments/long-range.ts).
//
// Why this task: it is the latching problem of Bengio, Simard & Frasconi (1994) and experiment 2 of
// Hochreiter & Schmidhuber's LSTM paper (1997) — the class must be carried unchanged across a gap of
// pure noise. Nothing after the first step says anything about the label, so no short-range shortcut
// exists: accuracy above chance at distance d means the state held the signal for d steps, and the only
// learning signal for doing so is the gradient that crosses those d steps. The signal symbols are
// distinct from the distractors, so recognising the signal is trivial and the gap is the whole difficulty.

import type { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';

export interface LongRangeTaskOptions {
  /**
   * d >= 1: recurrent steps between reading the signal (step 0) and the state the label is read from
   * (step d). Sequences are T = d + 1 tokens: the signal, then d distractors.
   */
  distance: number;
  /** K >= 2 signal symbols, ids 0..K-1; the label is the signal's id. Default 2. */
  numClasses?: number;
  /** N >= 1 distractor symbols, ids K..K+N-1, drawn uniformly and independently. Default 8. */
  numDistractors?: number;
}

export interface LongRangeBatch {
  /** (T, B) time-major token ids: ids[t·B + b]. */
  ids: Int32Array;
  /** (B) the class of each sequence, in [0, K). */
  labels: Int32Array;
  /** T = distance + 1. */
  T: number;
  B: number;
}

const KEYS = ['distance', 'numClasses', 'numDistractors'] as const;

/** Checks the options (unknown keys included) and fills in the defaults. */
export function resolveLongRangeTask(opts: LongRangeTaskOptions): Required<LongRangeTaskOptions> {
  if (opts === null || typeof opts !== 'object') throw new Error(`long-range task: options must be an object, got ${String(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new Error(`long-range task: unknown option "${k}" (expected one of ${KEYS.join(', ')})`);
  }
  const r = { distance: opts.distance, numClasses: opts.numClasses ?? 2, numDistractors: opts.numDistractors ?? 8 };
  const min = { distance: 1, numClasses: 2, numDistractors: 1 };
  for (const k of KEYS) {
    if (!Number.isInteger(r[k]) || r[k] < min[k]) throw new Error(`long-range task: ${k} must be an integer >= ${min[k]}, got ${String(r[k])}`);
  }
  return r;
}

/** V = K + N: the vocabulary the model's embedding must cover. */
export function longRangeVocabSize(opts: LongRangeTaskOptions): number {
  const { numClasses, numDistractors } = resolveLongRangeTask(opts);
  return numClasses + numDistractors;
}

/**
 * B sequences drawn from `rng`: for each, a label y ~ U{0..K-1}, then ids[0] = y and ids[1..d] ~ U{K..K+N-1}.
 * The draws are made sequence by sequence, so the same rng state gives the same batch.
 */
export function longRangeBatch(opts: LongRangeTaskOptions, batchSize: number, rng: Rng): LongRangeBatch {
  const { distance, numClasses: K, numDistractors: N } = resolveLongRangeTask(opts);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`long-range task: batchSize must be a positive integer, got ${String(batchSize)}`);
  const T = distance + 1;
  const B = batchSize;
  const ids = new Int32Array(T * B); // (T, B)
  const labels = new Int32Array(B); // (B)
  for (let b = 0; b < B; b++) {
    const y = rng.int(K);
    labels[b] = y;
    ids[b] = y;
    for (let t = 1; t < T; t++) ids[t * B + b] = K + rng.int(N);
  }
  return { ids, labels, T, B };
}

/** The fraction of rows of `logits` (B, K) whose largest entry (the first, on ties) is at the label. */
export function longRangeAccuracy(logits: Tensor, labels: ArrayLike<number>): number {
  if (logits.shape.length !== 2 || logits.shape[0] !== labels.length || labels.length === 0) {
    throw new Error(`longRangeAccuracy: logits must have shape (B, K) with B = ${labels.length} labels, got [${logits.shape.join(', ')}]`);
  }
  const [B, K] = logits.shape;
  const d = logits.data;
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (d[b * K + k] > d[b * K + best]) best = k;
    if (best === labels[b]) correct++;
  }
  return correct / B;
}
