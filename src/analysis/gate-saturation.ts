// How often each gate is shut or wide open: for every layer, gate and unit, the fraction of characters at
// which the gate is left-saturated (< 0.1) and right-saturated (> 0.9) — Karpathy, Johnson & Fei-Fei's
// (2015) scatter of one point per unit. From activations recorded with gates (cell-activations.ts).

import type { CellActivations } from './cell-activations.js';

export const LEFT_SATURATED = 0.1;
export const RIGHT_SATURATED = 0.9;

export interface GateSaturation {
  layer: number;
  gate: string;
  /** (H) per unit, the fraction of characters with the gate < 0.1. */
  left: Float32Array;
  /** (H) per unit, the fraction with the gate > 0.9. */
  right: Float32Array;
}

export function gateSaturation(acts: CellActivations): GateSaturation[] {
  if (acts.gates === null) throw new Error('gateSaturation: the activations were recorded without gates (pass { gates: true })');
  const N = acts.length;
  const H = acts.hiddenSize;
  const out: GateSaturation[] = [];
  acts.gates.forEach((layerGates, layer) => {
    for (const { name, values } of layerGates) {
      const left = new Float32Array(H);
      const right = new Float32Array(H);
      for (let t = 0; t < N; t++) {
        for (let j = 0; j < H; j++) {
          const g = values[t * H + j];
          if (g < LEFT_SATURATED) left[j]++;
          else if (g > RIGHT_SATURATED) right[j]++;
        }
      }
      for (let j = 0; j < H; j++) {
        left[j] /= N;
        right[j] /= N;
      }
      out.push({ layer, gate: name, left, right });
    }
  });
  return out;
}
