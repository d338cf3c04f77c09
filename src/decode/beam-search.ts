// Beam search over a seq2seq model, a vector-conditioned generator or an ensemble of either, for one
// source (ids or a vector): K live hypotheses expanded in one batch per step, an n-best list ranked by
// length-normalised log-probability. Runs without the tape and in eval mode (no dropout); each step's
// temporaries are freed at its end. Not here: the scorer (ensemble.ts).

import { noGrad, tidy } from '../tensor/tensor.js';
import { createScorer, disposeScorerState, inEvalMode, type ScorerState, type ScorerModels } from './ensemble.js';
import { checkOptions, type Hypothesis } from './greedy.js';

export interface BeamSearchOptions {
  /** K: live hypotheses kept per step. */
  beamWidth: number;
  /** Most symbols per hypothesis, eos included. */
  maxLength: number;
  /** α in score = logProb / len^α (len counts eos); 0 ranks by raw log-probability. Default 1. */
  lengthPenalty?: number;
  /** Hypotheses returned (at most beamWidth). Default beamWidth. */
  nBest?: number;
}

interface Beam {
  tokens: number[];
  logProb: number;
  weights: Float32Array[] | null;
}

/**
 * At each step every live hypothesis is extended by every symbol; the candidates are ranked by total
 * log-probability (ties: lower hypothesis, then lower symbol first) and taken in order — one ending in eos
 * becomes finished, any other becomes live — until K are live. The search stops when none is live,
 * maxLength is reached (live ones then join as unfinished), or K hypotheses have finished and the most
 * probable of them is at least as probable as every live one. The n-best list is the finished hypotheses
 * by score = logProb / len^α, topped up with unfinished ones if too few finished. With K = 1 this is
 * greedy decoding.
 *
 * Why the second condition: low-probability eos candidates are taken whenever they rank above the K-th
 * live one, so with a confident model K poor hypotheses can finish within a few steps while the likely one
 * is still live; stopping then would return the poor ones. A live hypothesis's log-probability can only
 * fall, so once the best finished one is at least as probable, nothing live can overtake it.
 */
export function beamSearch(models: ScorerModels, src: ArrayLike<number>, opts: BeamSearchOptions): Hypothesis[] {
  checkOptions('beamSearch', opts, ['beamWidth', 'maxLength', 'lengthPenalty', 'nBest']);
  const { beamWidth: K, maxLength, lengthPenalty: alpha = 1, nBest = K } = opts;
  if (!Number.isInteger(K) || K < 1) throw new Error(`beamSearch: beamWidth must be a positive integer, got ${String(K)}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) throw new Error(`beamSearch: lengthPenalty must be a number >= 0, got ${String(alpha)}`);
  if (!Number.isInteger(nBest) || nBest < 1 || nBest > K) throw new Error(`beamSearch: nBest must be an integer in [1, beamWidth = ${K}], got ${String(nBest)}`);
  const scorer = createScorer(models);
  const V = scorer.vocabSize;
  const score = (logProb: number, len: number): number => logProb / Math.pow(len, alpha);

  return inEvalMode(scorer.models, () => noGrad(() => tidy(() => {
    let state: ScorerState = scorer.start([src]);
    let live: Beam[] = [{ tokens: [], logProb: 0, weights: null }];
    const finished: Hypothesis[] = [];
    let bestFinished = -Infinity; // the highest logProb among `finished`
    // live[0] is the most probable live hypothesis (live is filled in order of log-probability).
    const done = (): boolean => finished.length >= K && bestFinished >= live[0].logProb;
    for (let t = 0; t < maxLength && live.length > 0 && !done(); t++) {
      const prev = Int32Array.from(live, (b) => (b.tokens.length === 0 ? scorer.bos : b.tokens[b.tokens.length - 1]));
      const out = tidy(() => scorer.step(state, prev));
      disposeScorerState(state, out.state);
      state = out.state;
      // Every (hypothesis, symbol) candidate by total log-probability; ties keep the lower index first.
      const n = live.length * V;
      const total = new Float64Array(n);
      for (let i = 0; i < live.length; i++) for (let v = 0; v < V; v++) total[i * V + v] = live[i].logProb + out.logProbs[i * V + v];
      const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => total[b] - total[a] || a - b);
      const parents: number[] = [];
      const next: Beam[] = [];
      for (const k of order) {
        if (next.length === K || !(total[k] > -Infinity)) break;
        const i = Math.floor(k / V);
        const v = k % V;
        const w = out.weights === null ? null : [...(live[i].weights ?? []), out.weights[i]];
        if (v === scorer.eos) {
          finished.push({ tokens: live[i].tokens, logProb: total[k], score: score(total[k], live[i].tokens.length + 1), finished: true, weights: w });
          bestFinished = Math.max(bestFinished, total[k]);
        } else {
          next.push({ tokens: [...live[i].tokens, v], logProb: total[k], weights: w });
          parents.push(i);
        }
      }
      live = next;
      if (live.length > 0) {
        const selected = tidy(() => scorer.select(state, parents));
        disposeScorerState(state, selected);
        state = selected;
      }
    }
    const ranked = (hs: Hypothesis[]): Hypothesis[] => hs.sort((a, b) => b.score - a.score);
    const out = ranked(finished).slice(0, nBest);
    if (out.length < nBest) {
      const unfinished = live.map((b) => ({ tokens: b.tokens, logProb: b.logProb, score: score(b.logProb, b.tokens.length), finished: false, weights: b.weights }));
      out.push(...ranked(unfinished).slice(0, nBest - out.length));
    }
    return out;
  })));
}
