// The next-symbol scorer every search runs on: one model, or an ensemble of models run side by side on
// the same prefixes with their next-symbol distributions averaged (arithmetic mean of probabilities).
// A model is any StepDecoder (step-decoder.ts): the recurrent encoder–decoder (the source is a sequence of
// ids), the conditioned generator (a vector), and the models of later tasks. Log-probabilities come out as
// plain float64 rows; tensors stay inside. Not here: the searches themselves (greedy.ts, beam-search.ts).

import { Tensor } from '../tensor/tensor.js';
import { isStepDecoder, type StepDecoder } from './step-decoder.js';

/** A model the searches run on: p(next symbol | source, prefix), stepped one token at a time. */
export type ScorerModel = StepDecoder;

/** One model, or several of the same kind with the same vocabularies and special symbols. */
export type ScorerModels = ScorerModel | readonly ScorerModel[];

/** The name from before generators could be decoded; the same type as ScorerModels. */
export type Seq2SeqModels = ScorerModels;

/** One member's fixed encoding and current state (the model's own types). */
export interface MemberState {
  encoded: unknown;
  state: unknown;
}

/** Each member's encoding and state for the current rows (tensors: free with disposeScorerState). */
export interface ScorerState {
  members: MemberState[];
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
  readonly models: readonly ScorerModel[];
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Encodes B sources (id sequences for Seq2Seq, vectors for ConditionedGenerator); the state has B rows. */
  start(src: ReadonlyArray<ArrayLike<number>>): ScorerState;
  /** Feeds one token per row and scores the next symbol. */
  step(state: ScorerState, prev: Int32Array): ScorerStep;
  /** A state made of rows `rows` of `state` (repeats allowed). */
  select(state: ScorerState, rows: ArrayLike<number>): ScorerState;
}

/**
 * The scorer of a model or an ensemble. An ensemble's members must be of one kind and agree on the keys of
 * their decodingSignature() — Seq2Seq: srcVocabSize, tgtVocabSize, bos, eos; ConditionedGenerator:
 * vectorSize, vocabSize, bos, eos (anything else — cell, sizes, attention, conditioning — may differ);
 * otherwise this throws naming the member.
 * With one model, log p = log_softmax(logits); with M models, log p = log((1/M) Σ_m softmax(logits_m)).
 */
export function createScorer(models: ScorerModels): Scorer {
  const list: readonly ScorerModel[] = Array.isArray(models) ? (models as readonly ScorerModel[]) : [models as ScorerModel];
  if (list.length === 0) throw new Error('ensemble: needs at least one model, got none');
  list.forEach((m, i) => {
    if (!isStepDecoder(m)) throw new Error(`ensemble: member ${i} must be a model that decodes step by step (a Seq2Seq, a ConditionedGenerator, ...), got ${String(m)}`);
  });
  const s0 = list[0].decodingSignature();
  list.forEach((m, i) => {
    const si = m.decodingSignature();
    if (si.kind !== s0.kind) throw new Error(`ensemble: member ${i} is a ${si.kind}, member 0 is a ${s0.kind} (every member must take the same kind of source)`);
    si.keys.forEach(([key, v], k) => {
      if (v !== s0.keys[k][1]) {
        throw new Error(`ensemble: member ${i} has ${key} ${v}, member 0 has ${s0.keys[k][1]} (every member must share the vocabularies and special symbols)`);
      }
    });
  });
  const V = s0.vocabSize;
  const ensemble = Array.isArray(models);
  return {
    models: list,
    vocabSize: V,
    bos: s0.bos,
    eos: s0.eos,
    start: (src) => ({ members: list.map((m) => m.encode(src)) }),
    select: (state, rows) => ({ members: state.members.map((s, i) => list[i].selectRows(s.encoded, s.state, rows)) }),
    step: (state, prev) => {
      const B = prev.length;
      const logProbs = new Float64Array(B * V);
      let weights: Float32Array[] | null = null;
      let attending = 0;
      const next = state.members.map((s, i): MemberState => {
        const out = list[i].decodeStep(s.encoded, s.state, prev);
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
          // The lengths of the members that attend (a member without attention, e.g. Show and Tell, has none).
          const lengths = list[i].attendedLengths(s.encoded);
          weights ??= lengths.map((n) => new Float32Array(n));
          for (let b = 0; b < B; b++) for (let j = 0; j < Math.min(lengths[b], weights[b].length); j++) weights[b][j] += wv[b * S + j];
          attending++;
        }
        return { encoded: out.encoded ?? s.encoded, state: out.state };
      });
      if (ensemble) for (let k = 0; k < logProbs.length; k++) logProbs[k] = Math.log(logProbs[k] / list.length);
      if (weights !== null && attending > 1) for (const w of weights as Float32Array[]) for (let j = 0; j < w.length; j++) w[j] /= attending;
      return { logProbs, weights, state: { members: next } };
    },
  };
}

/**
 * Runs `f` with every model in eval mode (searching is inference: no dropout, whatever mode the caller left
 * the models in), then puts each model back in the mode it had.
 */
export function inEvalMode<R>(models: readonly ScorerModel[], f: () => R): R {
  const was = models.map((m) => m.training); // read before any switch: a model may appear twice
  for (const m of models) m.eval();
  try {
    return f();
  } finally {
    models.forEach((m, i) => m.train(was[i]));
  }
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
