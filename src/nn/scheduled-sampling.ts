// Scheduled sampling (Bengio et al. 2015): the probability ε_i of feeding the decoder the gold previous
// token at training step i, decaying from teacher forcing towards the model's own predictions. Plain
// data in, a number out, so the schedule checkpoints as its spec. Not here: the coin flips (seq2seq.ts).

import { rejectUnknownKeys } from './recurrent/recurrent.js';

/**
 * As in the paper, with i the training step:
 *   constant          ε_i = p
 *   linear            ε_i = max(ε, k − c·i)        (k ≤ 1, c > 0, ε ≥ 0 the floor)
 *   exponential       ε_i = k^i                     (0 < k < 1)
 *   inverse-sigmoid   ε_i = k / (k + exp(i / k))    (k ≥ 1)
 */
export type SamplingSchedule =
  | { kind: 'constant'; p: number }
  | { kind: 'linear'; k: number; c: number; min: number }
  | { kind: 'exponential'; k: number }
  | { kind: 'inverse-sigmoid'; k: number };

const KEYS: { readonly [K in SamplingSchedule['kind']]: readonly string[] } = {
  constant: ['kind', 'p'],
  linear: ['kind', 'k', 'c', 'min'],
  exponential: ['kind', 'k'],
  'inverse-sigmoid': ['kind', 'k'],
};

/** Throws on an unknown kind, unknown keys or out-of-range constants, naming them. */
export function validateSamplingSchedule(s: SamplingSchedule): void {
  if (s === null || typeof s !== 'object' || !Object.prototype.hasOwnProperty.call(KEYS, s.kind)) {
    throw new Error(`sampling schedule kind must be one of ${Object.keys(KEYS).join(', ')}, got ${JSON.stringify((s as { kind?: unknown } | null)?.kind)}`);
  }
  rejectUnknownKeys(`sampling schedule '${s.kind}'`, s, KEYS[s.kind]);
  const num = (name: string, v: unknown, ok: (x: number) => boolean, want: string): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`sampling schedule '${s.kind}': ${name} must be ${want}, got ${String(v)}`);
  };
  switch (s.kind) {
    case 'constant':
      num('p', s.p, (x) => x >= 0 && x <= 1, 'in [0, 1]');
      break;
    case 'linear':
      num('k', s.k, (x) => x >= 0 && x <= 1, 'in [0, 1]');
      num('c', s.c, (x) => x > 0, '> 0');
      num('min', s.min, (x) => x >= 0 && x <= 1, 'in [0, 1]');
      break;
    case 'exponential':
      num('k', s.k, (x) => x > 0 && x < 1, 'in (0, 1)');
      break;
    case 'inverse-sigmoid':
      num('k', s.k, (x) => x >= 1, '>= 1');
      break;
    default:
      s satisfies never;
  }
}

/** ε_i: the probability of teacher forcing at training step `step` (an integer >= 0). */
export function teacherForcingProbability(s: SamplingSchedule, step: number): number {
  validateSamplingSchedule(s);
  if (!Number.isInteger(step) || step < 0) throw new Error(`teacherForcingProbability: step must be a non-negative integer, got ${step}`);
  switch (s.kind) {
    case 'constant':
      return s.p;
    case 'linear':
      return Math.max(s.min, s.k - s.c * step);
    case 'exponential':
      return Math.pow(s.k, step);
    case 'inverse-sigmoid':
      // NOTE: exp(i/k) overflows to Infinity for huge i, giving k / Infinity = 0, the right limit.
      return s.k / (s.k + Math.exp(step / s.k));
    default:
      return s satisfies never;
  }
}
