// Loading a checkpoint's model.safetensors into a module: F32 tensors under the module's (PyTorch)
// names, every one present with its exact shape. Shared by every kind of checkpoint.

import { readSafetensorsFileSync } from '../io/checkpoint-file.js';
import type { Module } from '../nn/module.js';

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
