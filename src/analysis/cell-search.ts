// Finding cells without scrolling through all of them: every cell ranked by how well its value tracks a
// feature of the text (Pearson's correlation over the characters), and LSTMVis's span-and-threshold select
// (Strobelt et al. 2018): the cells on across a marked stretch of text, the ones that are rarely on
// elsewhere first. Not here: recording the activations (cell-activations.ts), the features (text-features.ts).

import { cellSignals, type CellActivations, type CellRef } from './cell-activations.js';

export interface RankedCell extends CellRef {
  /** Pearson's r between the cell's value and the feature over the characters (0 for a constant cell). */
  r: number;
}

/**
 * Every cell (each layer's h units, and tanh(c) units for LSTM) by |r| with `feature` (N values, one per
 * character), best first; the top `limit`. A feature constant over the text correlates with nothing: an
 * error saying so.
 */
export function rankCells(acts: CellActivations, feature: Float32Array, limit = Infinity): RankedCell[] {
  const N = acts.length;
  const H = acts.hiddenSize;
  if (feature.length !== N) throw new Error(`the feature has ${feature.length} values for a text of ${N} characters`);
  let mf = 0;
  for (let t = 0; t < N; t++) mf += feature[t];
  mf /= N;
  let vf = 0;
  for (let t = 0; t < N; t++) vf += (feature[t] - mf) ** 2;
  if (!(vf > 0)) throw new Error('the feature has the same value at every character of the text: no cell can track it');
  const out: RankedCell[] = [];
  const mx = new Float64Array(H);
  const sxx = new Float64Array(H);
  const sxf = new Float64Array(H);
  for (const { layer, signal, values } of cellSignals(acts)) {
    mx.fill(0);
    sxx.fill(0);
    sxf.fill(0);
    // (N, H) row by row: the inner loop runs along memory.
    for (let t = 0; t < N; t++) for (let j = 0; j < H; j++) mx[j] += values[t * H + j];
    for (let j = 0; j < H; j++) mx[j] /= N;
    for (let t = 0; t < N; t++) {
      const df = feature[t] - mf;
      const o = t * H;
      for (let j = 0; j < H; j++) {
        const dx = values[o + j] - mx[j];
        sxx[j] += dx * dx;
        sxf[j] += dx * df;
      }
    }
    for (let j = 0; j < H; j++) out.push({ layer, signal, unit: j, r: sxx[j] > 0 ? sxf[j] / Math.sqrt(sxx[j] * vf) : 0 });
  }
  out.sort((a, b) => Math.abs(b.r) - Math.abs(a.r));
  return out.slice(0, limit);
}

export interface SpanCell extends CellRef {
  /** +1: the cell is ≥ threshold across the span; -1: ≤ -threshold across it. */
  sign: 1 | -1;
  /** The smallest of sign · value over the span. */
  least: number;
  /** The fraction of the characters outside the span where the cell is on (sign · value ≥ threshold). */
  onOutside: number;
}

/**
 * The cells on across characters [start, end) — sign · value ≥ threshold at every one of them, for sign +1
 * or -1 — the most specific first (least often on outside the span), then by how far above the threshold.
 */
export function cellsOnSpan(acts: CellActivations, start: number, end: number, threshold: number): SpanCell[] {
  const N = acts.length;
  const H = acts.hiddenSize;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= N && start < end)) {
    throw new Error(`the span must be characters [start, end) with 0 <= start < end <= ${N}, got [${start}, ${end})`);
  }
  if (!(threshold > 0 && threshold < 1)) throw new Error(`the threshold must be in (0, 1), got ${threshold}`);
  const out: SpanCell[] = [];
  const outside = N - (end - start);
  for (const { layer, signal, values } of cellSignals(acts)) {
    for (let j = 0; j < H; j++) {
      for (const sign of [1, -1] as const) {
        let least = Infinity;
        for (let t = start; t < end && least >= threshold; t++) least = Math.min(least, sign * values[t * H + j]);
        if (!(least >= threshold)) continue;
        let on = 0;
        for (let t = 0; t < N; t++) if ((t < start || t >= end) && sign * values[t * H + j] >= threshold) on++;
        out.push({ layer, signal, unit: j, sign, least, onOutside: outside === 0 ? 0 : on / outside });
      }
    }
  }
  out.sort((a, b) => a.onOutside - b.onOutside || b.least - a.least);
  return out;
}
