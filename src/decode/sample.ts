// Picking the next symbol from logits: argmax, or sampling with temperature, top-k and top-p (nucleus).
// Works on one row of logits in float64; the rng is the caller's seeded generator.

import type { Rng } from '../random/rng.js';

export interface SampleOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  argmax?: boolean;
}

export function validateSampleOptions(o: SampleOptions): void {
  const { temperature = 1, topK, topP } = o;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be a positive number, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK <= 0)) throw new Error(`top-k must be a positive integer, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${topP}`);
}

/** The index of the next symbol given one row of logits. */
export function sampleLogits(logits: ArrayLike<number>, opts: SampleOptions, rng: Rng): number {
  const V = logits.length;
  if (opts.argmax) {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[j] > logits[best]) best = j;
    return best;
  }
  const temperature = opts.temperature ?? 1;
  // NOTE: softmax with the max subtracted, at temperature: p_j ∝ exp((l_j - max) / τ).
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[j] > max) max = logits[j];
  let order = Array.from({ length: V }, (_, j) => j);
  const p = new Float64Array(V);
  for (let j = 0; j < V; j++) p[j] = Math.exp((logits[j] - max) / temperature);
  if (opts.topK !== undefined || opts.topP !== undefined) {
    order.sort((a, b) => p[b] - p[a]);
    if (opts.topK !== undefined) order = order.slice(0, opts.topK);
    if (opts.topP !== undefined) {
      let total = 0;
      for (const j of order) total += p[j];
      let cum = 0;
      let keep = 0;
      while (keep < order.length && cum < opts.topP * total) cum += p[order[keep++]];
      order = order.slice(0, Math.max(1, keep));
    }
  }
  let total = 0;
  for (const j of order) total += p[j];
  let u = rng.uniform() * total;
  for (const j of order) {
    u -= p[j];
    if (u < 0) return j;
  }
  return order[order.length - 1];
}
