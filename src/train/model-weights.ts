// Loading a checkpoint's model.safetensors into a module: F32 tensors under the module's (PyTorch)
// names, every one present with its exact shape; and the weight average's two halves (the average as the
// model file, the raw weights as `raw.*` in the training file). Shared by every kind of checkpoint.

import { readSafetensorsFileSync } from '../io/checkpoint-file.js';
import type { NamedArray } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { restoreWeightAverage, type WeightAverage } from '../optim/weight-average.js';
import type { Tensor } from '../tensor/tensor.js';

/** Loads `weightsPath` into `model` (disposing it on a mismatch) and returns the step in its metadata. */
export function loadModelWeights(model: Module, weightsPath: string, configPath: string): number {
  const weights = readSafetensorsFileSync(weightsPath);
  const state = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
  for (const [k, v] of weights.tensors) {
    if (v.dtype !== 'F32') {
      model.dispose();
      throw new Error(`${weightsPath}: tensor "${k}" is ${v.dtype}, expected F32`);
    }
    state.set(k, { shape: v.shape, data: v.data as Float32Array });
  }
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw new Error(`${weightsPath} does not match ${configPath}: ${(e as Error).message}`);
  }
  return Number(weights.metadata.step ?? 0);
}

/**
 * The tensors to save: `weights` for model.safetensors (the average when there is one) and, with an
 * average, the raw weights the run trains as `raw.<name>` entries of `training` (the training file's map).
 */
export function weightsToSave(params: ReadonlyArray<[string, Tensor]>, avg: WeightAverage | null, training: Map<string, NamedArray>): Map<string, NamedArray> {
  const weights = new Map<string, NamedArray>();
  for (const [name, p] of params) {
    const shipped = avg === null ? p : avg.weights.get(name);
    if (shipped === undefined) throw new Error(`saving a checkpoint: parameter ${name} has no average`);
    weights.set(name, { dtype: 'F32', shape: [...p.shape], data: shipped.data.slice() });
    if (avg !== null) training.set(`raw.${name}`, { dtype: 'F32', shape: [...p.shape], data: p.data.slice() });
  }
  return weights;
}

/**
 * weightsToSave's inverse, after the model file is loaded into `params`: with `meta` (the training
 * metadata's { decay, count }), the average is rebuilt from those weights and the params get the raw
 * weights from `training`; without, null. Anything missing or malformed is an error naming `path`.
 */
export function restoreSavedAverage(
  params: ReadonlyArray<[string, Tensor]>, meta: { decay?: unknown; count?: unknown } | undefined, training: Map<string, NamedArray>, path: string,
): WeightAverage | null {
  if (meta === undefined) return null;
  const { decay, count } = meta ?? {};
  if (typeof decay !== 'number' || typeof count !== 'number') throw new Error(`${path} is corrupt: training.average is ${JSON.stringify(meta)}`);
  const raws = params.map(([name, p]) => {
    const raw = training.get(`raw.${name}`);
    if (raw === undefined || raw.data.length !== p.size) throw new Error(`${path} is corrupt: the raw weights of ${name} are missing or of the wrong size`);
    return raw.data as Float32Array;
  });
  let average: WeightAverage;
  try {
    average = restoreWeightAverage([...params], decay, count, new Map(params.map(([name, p]) => [name, { shape: p.shape, data: p.data.slice() }])));
  } catch (e) {
    throw new Error(`${path} is corrupt: ${(e as Error).message}`);
  }
  params.forEach(([, p], i) => p.data.set(raws[i]));
  return average;
}
