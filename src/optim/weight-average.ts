// An exponential moving average of the weights (Polyak & Juditsky 1992; the EMA form of TensorFlow's
// ExponentialMovingAverage and timm's ModelEmaV2): after every optimizer step,
//
//   a ← d·a + (1 − d)·θ,   d = min(decay, (1 + n)/(10 + n)),   n = updates so far (0 at the first),
//
// so the early average is not dominated by the initial weights. The average is what one evaluates and
// ships; the raw weights keep training. `swapWeights` exchanges the two in place (an evaluation with the
// average, then back), so no second model is built. Not here: saving both (train/task-checkpoint.ts).

import { backend } from '../backend/registry.js';
import { Tensor, untracked } from '../tensor/tensor.js';
import type { NamedParams } from './optimizer.js';

export interface WeightAverage {
  readonly decay: number;
  /** Updates so far. */
  count: number;
  /** Parameter name -> its average (same shape). */
  readonly weights: Map<string, Tensor>;
}

function checkDecay(decay: number): void {
  if (!(typeof decay === 'number' && decay > 0 && decay < 1)) throw new Error(`weight average: decay must be a number in (0, 1), got ${String(decay)}`);
}

/** An average that starts at the current weights (count 0). */
export function createWeightAverage(params: NamedParams, decay: number): WeightAverage {
  // The tensors themselves, not views of them: restore reads each one's data after allocating its copy.
  return restoreWeightAverage(params, decay, 0, new Map(params));
}

/** An average restored from a checkpoint (or tensors): `weights` must hold every parameter of `params`, each of its shape. */
export function restoreWeightAverage(params: NamedParams, decay: number, count: number, weights: Map<string, { shape: readonly number[]; data: Float32Array }>): WeightAverage {
  checkDecay(decay);
  if (!(Number.isSafeInteger(count) && count >= 0)) throw new Error(`weight average: count must be a non-negative integer, got ${count}`);
  const out = new Map<string, Tensor>();
  untracked(() => {
    for (const [name, p] of params) {
      const w = weights.get(name);
      if (w === undefined) throw new Error(`weight average: no average of parameter ${name}`);
      if (w.shape.length !== p.shape.length || w.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`weight average: the average of ${name} has shape [${w.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
      }
      const a = new Tensor([...p.shape]);
      a.data.set(w.data);
      out.set(name, a);
    }
  });
  for (const name of weights.keys()) if (!params.some(([n]) => n === name)) throw new Error(`weight average: ${name} is not a parameter of the model`);
  return { decay, count, weights: out };
}

/** The decay of the next update: min(decay, (1 + count)/(10 + count)). */
export function effectiveDecay(avg: WeightAverage): number {
  return Math.min(avg.decay, (1 + avg.count) / (10 + avg.count));
}

/** One update from the current weights (call after each optimizer step). */
export function updateWeightAverage(avg: WeightAverage, params: NamedParams): void {
  const d = effectiveDecay(avg);
  const be = backend();
  for (const [name, p] of params) {
    const a = avg.weights.get(name);
    if (a === undefined) throw new Error(`weight average: parameter ${name} has no average`);
    be.scal(d, a.data); // a = d·a
    be.axpy(1 - d, p.data, a.data); // a += (1 − d)·θ
  }
  avg.count++;
}

/** Exchanges the parameters' values with their averages, in place; calling it twice restores both. */
export function swapWeights(avg: WeightAverage, params: NamedParams): void {
  for (const [name, p] of params) {
    const a = avg.weights.get(name);
    if (a === undefined) throw new Error(`weight average: parameter ${name} has no average`);
    const tmp = p.data.slice();
    p.data.set(a.data);
    a.data.set(tmp);
  }
}

/** Runs fn with the averaged weights in the parameters, then puts the raw weights back (also when fn throws). */
export function withAveragedWeights<R>(avg: WeightAverage, params: NamedParams, fn: () => R): R {
  swapWeights(avg, params);
  try {
    return fn();
  } finally {
    swapWeights(avg, params);
  }
}

/** Frees the averages' tensors. */
export function disposeWeightAverage(avg: WeightAverage): void {
  for (const a of avg.weights.values()) a.dispose();
  avg.weights.clear();
}
