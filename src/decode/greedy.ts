// Greedy and sampled decoding of seq2seq models or vector-conditioned generators (one model or an
// ensemble), a batch of sources (id sequences or vectors) at once: at each step every unfinished row
// picks its next symbol from log p(· | source, prefix) — the argmax, or a sample through sampleLogits
// (temperature, top-k, top-p) — until eos or maxLength. Runs without the tape and in eval mode (no
// dropout); every step's temporaries are freed at the end of the step. Not here: beam search.

import type { Rng } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { rejectUnknownKeys } from '../nn/recurrent/recurrent.js';
import { createScorer, disposeScorerState, inEvalMode, type Scorer, type ScorerState, type ScorerModels } from './ensemble.js';
import { sampleLogits, validateSampleOptions, type SampleOptions } from './sample.js';

/** One decoded sequence. */
export interface Hypothesis {
  /** The symbols produced, without bos and without eos. */
  tokens: number[];
  /** Σ log p of every symbol produced, eos included when `finished`. */
  logProb: number;
  /** The ranking score: logProb / len^α in beam search (len counts eos), logProb otherwise. */
  score: number;
  /** Ended by eos (false: cut at maxLength). */
  finished: boolean;
  /** Per produced symbol (eos included), the attention weights over the source's real positions; null without attention. */
  weights: Float32Array[] | null;
}

export interface GreedyOptions {
  /** Most symbols produced per sequence, eos included. */
  maxLength: number;
}

export interface SampleDecodeOptions extends GreedyOptions, Omit<SampleOptions, 'argmax'> {}

/** The argmax path for each source (an id sequence for Seq2Seq, a vector for ConditionedGenerator). */
export function greedyDecode(models: ScorerModels, src: ReadonlyArray<ArrayLike<number>>, opts: GreedyOptions): Hypothesis[] {
  checkOptions('greedyDecode', opts, ['maxLength']);
  return decodeRows(createScorer(models), src, opts.maxLength, (row) => argmax(row));
}

/** A sample from the model (or the ensemble's mean distribution) for each source, with the caller's seeded rng. */
export function sampleDecode(
  models: ScorerModels, src: ReadonlyArray<ArrayLike<number>>, opts: SampleDecodeOptions, rng: Rng,
): Hypothesis[] {
  checkOptions('sampleDecode', opts, ['maxLength', 'temperature', 'topK', 'topP']);
  validateSampleOptions(opts);
  const { temperature, topK, topP } = opts;
  // log p as logits: sampleLogits' softmax(log p / τ) is p^(1/τ) renormalised.
  return decodeRows(createScorer(models), src, opts.maxLength, (row) => sampleLogits(row, { temperature, topK, topP }, rng));
}

function decodeRows(
  scorer: Scorer, src: ReadonlyArray<ArrayLike<number>>, maxLength: number, pick: (logProbs: Float64Array) => number,
): Hypothesis[] {
  const V = scorer.vocabSize;
  return inEvalMode(scorer.models, () => noGrad(() => tidy(() => {
    let state: ScorerState = scorer.start(src);
    const B = src.length;
    const hyps: Hypothesis[] = Array.from({ length: B }, () => ({ tokens: [], logProb: 0, score: 0, finished: false, weights: null }));
    const prev = new Int32Array(B).fill(scorer.bos);
    for (let t = 0; t < maxLength && hyps.some((h) => !h.finished); t++) {
      const out = tidy(() => scorer.step(state, prev));
      disposeScorerState(state, out.state);
      state = out.state;
      for (let b = 0; b < B; b++) {
        const h = hyps[b];
        if (h.finished) continue; // finished rows keep being computed (the batch steps together) and ignored
        const row = out.logProbs.subarray(b * V, (b + 1) * V);
        const next = pick(row);
        h.logProb += row[next];
        if (out.weights !== null) (h.weights ??= []).push(out.weights[b]);
        if (next === scorer.eos) h.finished = true;
        else h.tokens.push(next);
        prev[b] = next;
      }
    }
    for (const h of hyps) h.score = h.logProb;
    return hyps;
  })));
}

function argmax(row: Float64Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

export function checkOptions(who: string, opts: { maxLength: number }, keys: readonly string[]): void {
  if (opts === null || typeof opts !== 'object') throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  rejectUnknownKeys(`${who} options`, opts, keys);
  if (!Number.isInteger(opts.maxLength) || opts.maxLength < 1) throw new Error(`${who}: maxLength must be a positive integer, got ${String(opts.maxLength)}`);
}
