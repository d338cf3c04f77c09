// Checkpoints of the task models trained from the command line (seq2seq, classify; any model trained by a
// plain step loop), in a directory:
//   config.json          { format, ...config }: the model config, vocabularies, options, data fingerprint
//   model.safetensors    the weights under their parameter names, with the step in the metadata; with a
//                        weight average (optim/weight-average.ts), the average: what eval and decode use
//   training.safetensors optimizer slots (and with an average, the raw weights the run trains as `raw.*`),
//                        and in the metadata the step, the generator state, the average's decay and count
//                        and the loop's own counters: everything `--resume` needs to continue exactly
// Each file is written atomically (temporary name, flush, rename); model and training files carry their
// step and must agree on load, so a crash between the writes is detected, never silently resumed.
// Legacy: classify checkpoints written before classify used this module keep the counters at the top level
// of the training metadata (beside step, rng, optimizer); loadTaskTraining still reads them.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFileSync, writeFileAtomicSync } from '../io/checkpoint-file.js';
import { encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { optimizerStateFromRecord, optimizerStateToRecord, type OptimizerState } from '../optim/optimizer.js';
import type { WeightAverage } from '../optim/weight-average.js';
import type { Rng, RngState } from '../random/rng.js';
import { loadModelWeights, restoreSavedAverage, weightsToSave } from './model-weights.js';

/** The loop's state besides the weights. `counters` are the loop's own finite numbers (loss sums, timers, epoch…). */
export interface TaskTrainingState {
  step: number;
  rng: Rng;
  optimizer: OptimizerState;
  counters: Record<string, number>;
  /** An average of the weights, saved as the model (the raw weights go to the training file); null or absent: none. */
  average?: WeightAverage | null;
}

export function taskCheckpointExists(dir: string): boolean {
  return existsSync(join(dir, 'config.json'));
}

/** Writes config.json, training.safetensors, then model.safetensors, each atomically. */
export function saveTaskCheckpoint(dir: string, format: string, config: object, model: Module, t: TaskTrainingState): void {
  mkdirSync(dir, { recursive: true });
  const avg = t.average ?? null;
  const opt = optimizerStateToRecord(t.optimizer);
  const slots = new Map<string, NamedArray>();
  for (const [name, v] of opt.tensors) slots.set(`optimizer.${name}`, { dtype: 'F32', shape: [...v.shape], data: v.data.slice() });
  const weights = weightsToSave(model.namedParameters(), avg, slots);
  const meta = {
    step: t.step, rng: t.rng.getState(), optimizer: opt.json, counters: t.counters,
    ...(avg === null ? {} : { average: { decay: avg.decay, count: avg.count } }),
  };
  const step = String(t.step);
  writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify({ format, ...config }, null, 2) + '\n');
  writeFileAtomicSync(join(dir, 'training.safetensors'), encodeSafetensors(slots, { format, step, training: JSON.stringify(meta) }));
  writeFileAtomicSync(join(dir, 'model.safetensors'), encodeSafetensors(weights, { format, step }));
}

/**
 * config.json of a checkpoint of `format` (or of one of several formats; `what` names the kind in errors),
 * parsed; the caller checks its fields.
 */
export function readTaskConfig<C>(dir: string, format: string | readonly string[], what: string): C {
  const formats: readonly string[] = typeof format === 'string' ? [format] : format;
  const path = join(dir, 'config.json');
  if (!existsSync(dir)) throw new Error(`checkpoint directory ${dir} does not exist`);
  if (!existsSync(path)) throw new Error(`${dir} is not a checkpoint (no config.json)`);
  let config: { format?: unknown };
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path} is corrupt: ${(e as Error).message}`);
  }
  if (config === null || typeof config !== 'object' || !formats.includes(config.format as string)) {
    const expected = formats.map((f) => JSON.stringify(f)).join(' or ');
    throw new Error(`${path} is not a ${what} checkpoint (format ${JSON.stringify(config?.format)}, expected ${expected})`);
  }
  return config as C;
}

/** Loads the weights of `dir` into `model` (disposing it on a mismatch); returns the step they were saved at. */
export function loadTaskWeights(dir: string, model: Module): number {
  return loadModelWeights(model, join(dir, 'model.safetensors'), join(dir, 'config.json'));
}

/**
 * The training state saved with weights of step `step`; sets `rng` to the saved generator state. `needs`
 * names the counters the loop cannot do without: a file that lacks one is corrupt.
 */
export function loadTaskTraining(dir: string, model: Module, rng: Rng, step: number, needs: readonly string[] = []): TaskTrainingState {
  const path = join(dir, 'training.safetensors');
  if (!existsSync(path)) throw new Error(`${dir} has no training.safetensors: it cannot be resumed`);
  const tr = readSafetensorsFileSync(path);
  let meta: { step: unknown; rng: RngState; optimizer: unknown; counters?: Record<string, unknown>; average?: { decay: unknown; count: unknown } };
  try {
    meta = JSON.parse(tr.metadata.training ?? '');
  } catch {
    throw new Error(`${path} is corrupt: its training metadata is not JSON`);
  }
  if (meta === null || typeof meta !== 'object') throw new Error(`${path} is corrupt: its training metadata is not a JSON object`);
  if (typeof meta.step !== 'number') throw new Error(`${path} is corrupt: training.step is ${JSON.stringify(meta.step)}`);
  if (!Array.isArray(meta.rng) || meta.rng.length !== 4 || !meta.rng.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) {
    throw new Error(`${path} is corrupt: the generator state is not four 32-bit integers`);
  }
  // The legacy layout (see the top of this file): no `counters`, and every other top-level key is a counter.
  const topLevel = Object.fromEntries(Object.entries(meta).filter(([k]) => !['step', 'rng', 'optimizer', 'counters', 'average'].includes(k)));
  const legacy = meta.counters === undefined && Object.keys(topLevel).length > 0;
  const counters = legacy ? topLevel : meta.counters;
  const where = legacy ? 'training' : 'training.counters';
  if (counters === null || typeof counters !== 'object') throw new Error(`${path} is corrupt: training.counters is missing`);
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${path} is corrupt: ${where}.${k} is ${JSON.stringify(v)}`);
  }
  for (const k of needs) if (!(k in counters)) throw new Error(`${path} is corrupt: ${where}.${k} is missing`);
  if (meta.step !== step) throw new Error(`${dir} is inconsistent: model.safetensors is at step ${step}, training.safetensors at step ${meta.step} (interrupted while saving?)`);
  rng.setState(meta.rng);
  const slots = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of tr.tensors) if (k.startsWith('optimizer.')) slots.set(k.slice('optimizer.'.length), { shape: v.shape, data: v.data as Float32Array });
  const params = model.namedParameters();
  const optimizer = optimizerStateFromRecord({ json: meta.optimizer, tensors: slots }, params);
  const average = restoreSavedAverage(params, meta.average, tr.tensors, path);
  return { step, rng, optimizer, counters: counters as Record<string, number>, average };
}
