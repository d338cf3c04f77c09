// The next-symbol scorer every seq2seq search runs on: one model, or an ensemble of models run side by
// side on the same prefixes with their next-symbol distributions averaged (arithmetic mean of
// probabilities). Log-probabilities come out as plain float64 rows; tensors stay inside. Not here: the
// searches themselves (greedy.ts, beam-search.ts).

import type { DecoderState, EncodedSource, Seq2Seq } from '../nn/seq2seq.js';
import { selectDecoderRows } from '../nn/seq2seq.js';
import { Tensor } from '../tensor/tensor.js';

/** One model, or several with the same vocabularies and special symbols. */
export type Seq2SeqModels = Seq2Seq | readonly Seq2Seq[];

/** Each member's encoding and decoder state for the current rows (tensors: free with disposeScorerState). */
export interface ScorerState {
  members: Array<{ encoded: EncodedSource; state: DecoderState }>;
}

export interface ScorerStep {
  /** (B·V) log p(next symbol | source, prefix) per row, float64. */
  logProbs: Float64Array;
  /** Per row, the step's attention weights over that row's real source positions (the members' mean), or null without attention. */
  weights: Float32Array[] | null;
  /** The state after feeding the step's tokens. */
  state: ScorerState;
}

export interface Scorer {
  readonly models: readonly Seq2Seq[];
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Encodes B sources; the state has B rows. */
  start(src: ReadonlyArray<ArrayLike<number>>): ScorerState;
  /** Feeds one token per row and scores the next symbol. */
  step(state: ScorerState, prev: Int32Array): ScorerStep;
  /** A state made of rows `rows` of `state` (repeats allowed). */
  select(state: ScorerState, rows: ArrayLike<number>): ScorerState;
}

/**
 * The scorer of a model or an ensemble. An ensemble's members must agree on srcVocabSize, tgtVocabSize,
 * bos and eos (anything else — cell, sizes, attention — may differ); otherwise this throws naming the member.
 * With one model, log p = log_softmax(logits); with M models, log p = log((1/M) Σ_m softmax(logits_m)).
 */
export function createScorer(models: Seq2SeqModels): Scorer {
  const list: readonly Seq2Seq[] = Array.isArray(models) ? (models as readonly Seq2Seq[]) : [models as Seq2Seq];
  if (list.length === 0) throw new Error('ensemble: needs at least one model, got none');
  const c0 = list[0].config;
  list.forEach((m, i) => {
    for (const key of ['srcVocabSize', 'tgtVocabSize', 'bos', 'eos'] as const) {
      if (m.config[key] !== c0[key]) {
        throw new Error(`ensemble: member ${i} has ${key} ${m.config[key]}, member 0 has ${c0[key]} (every member must share the vocabularies and special symbols)`);
      }
    }
  });
  const V = c0.tgtVocabSize;
  const ensemble = Array.isArray(models);
  return {
    models: list,
    vocabSize: V,
    bos: c0.bos,
    eos: c0.eos,
    start: (src) => ({ members: list.map((m) => m.encode(src)) }),
    select: (state, rows) => ({ members: state.members.map((s) => selectDecoderRows(s.encoded, s.state, rows)) }),
    step: (state, prev) => {
      const B = prev.length;
      const logProbs = new Float64Array(B * V);
      const lengths = state.members[0].encoded.srcLengths;
      let weights: Float32Array[] | null = null;
      let attending = 0;
      const next = state.members.map((s, i) => {
        const out = list[i].step(s.encoded, s.state, prev);
        const lv = out.logits.data; // (B, V)
        for (let b = 0; b < B; b++) {
          const row = lv.subarray(b * V, (b + 1) * V);
          // NOTE: log-sum-exp with the max subtracted, in float64.
          let max = -Infinity;
          for (let j = 0; j < V; j++) if (row[j] > max) max = row[j];
          let s = 0;
          for (let j = 0; j < V; j++) s += Math.exp(row[j] - max);
          const lse = max + Math.log(s);
          for (let j = 0; j < V; j++) {
            if (ensemble) logProbs[b * V + j] += Math.exp(row[j] - lse); // accumulate probabilities
            else logProbs[b * V + j] = row[j] - lse;
          }
        }
        if (out.weights !== null) {
          const S = out.weights.shape[1];
          const wv = out.weights.data; // (B, S)
          weights ??= lengths.map((n) => new Float32Array(n));
          for (let b = 0; b < B; b++) for (let j = 0; j < lengths[b]; j++) weights[b][j] += wv[b * S + j];
          attending++;
        }
        return { encoded: s.encoded, state: out.state };
      });
      if (ensemble) for (let k = 0; k < logProbs.length; k++) logProbs[k] = Math.log(logProbs[k] / list.length);
      if (weights !== null && attending > 1) for (const w of weights as Float32Array[]) for (let j = 0; j < w.length; j++) w[j] /= attending;
      return { logProbs, weights, state: { members: next } };
    },
  };
}

/** Frees the tensors of `old` that `keep` does not hold (a step's new state shares the encodings). */
export function disposeScorerState(old: ScorerState, keep: ScorerState | null): void {
  const kept = new Set<Tensor>();
  if (keep !== null) collect(keep, kept);
  const all = new Set<Tensor>();
  collect(old, all);
  for (const t of all) if (!kept.has(t)) t.dispose();
}

function collect(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into);
  else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) for (const v of Object.values(value)) collect(v, into);
}
