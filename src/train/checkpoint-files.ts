// The three files of a checkpoint, as bytes: what the training engine (engine.ts) writes and reads back,
// and what `sample`, `eval`, `predict` and `decode` load. Plain bytes in, bytes out, so it runs in browsers;
// where the files live is a store's business (checkpoint-directory.ts in Node, memory-store.ts anywhere).
//   config.json          { format, ...config }: the model config, its tables, the options, a data fingerprint
//   model.safetensors    the weights under their (PyTorch) parameter names, the step in the metadata; with a
//                        moving average of the weights, the average: what inference uses
//   training.safetensors the optimizer's slots (`optimizer.*`), with an average the raw weights the run trains
//                        (`raw.*`), the task's own tensors (the language model's carried state, `carried.*`),
//                        and in the metadata `training`: { step, rng, optimizer, counters, average? }
// Model and training files carry their step and must agree on load, so a crash between the writes is caught.
// Legacy layout, still read: the counters at the top level of the training metadata, beside step, rng and
// optimizer (language-model checkpoints, and classify checkpoints, written before the engine).

import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { optimizerStateFromRecord, optimizerStateToRecord, type NamedParams, type OptimizerState } from '../optim/optimizer.js';
import { disposeWeightAverage, restoreWeightAverage, type WeightAverage } from '../optim/weight-average.js';
import type { Rng, RngState } from '../random/rng.js';

export type CheckpointFile = 'config.json' | 'model.safetensors' | 'training.safetensors';

/** Everything a run needs besides the weights and the config to continue exactly. */
export interface TrainingState {
  step: number;
  rng: Rng;
  optimizer: OptimizerState;
  /** Finite numbers: the engine's (loss sums, token count, timers) and the task's (epoch, ...). */
  counters: Record<string, number>;
  /** A moving average of the weights (saved as the model; the raw weights go to the training file), or null. */
  average: WeightAverage | null;
  /** The task's own tensors (e.g. `carried.h`); names must not start with `optimizer.` or `raw.`. */
  tensors: Map<string, NamedArray>;
}

/** `where/file`, for messages (where is a directory or a store's name). */
export function checkpointPath(where: string, file: CheckpointFile): string {
  return `${where.replace(/[/\\]+$/, '')}/${file}`;
}

/** A JSON.parse error without the excerpt of the input V8 puts in it (which can span lines). */
export function jsonErrorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const excerpt = /^(.*?), \S*".*"\S* is not valid JSON$/s.exec(m); // Unexpected token 'o', ..."{ "a": o..." is not valid JSON
  return (excerpt === null ? m : excerpt[1]).replace(/\s+/g, ' ');
}

/** The files of a checkpoint, in the order they are written: config, training state, then the model. */
export function encodeCheckpoint(
  format: string, config: object, params: NamedParams, t: TrainingState,
): Array<[CheckpointFile, Uint8Array]> {
  const opt = optimizerStateToRecord(t.optimizer);
  const training = new Map<string, NamedArray>();
  for (const [name, v] of opt.tensors) training.set(`optimizer.${name}`, { dtype: 'F32', shape: [...v.shape], data: v.data.slice() });
  const weights = new Map<string, NamedArray>();
  for (const [name, p] of params) {
    const shipped = t.average === null ? p : t.average.weights.get(name);
    if (shipped === undefined) throw new Error(`saving a checkpoint: parameter ${name} has no average`);
    weights.set(name, { dtype: 'F32', shape: [...p.shape], data: shipped.data.slice() });
    if (t.average !== null) training.set(`raw.${name}`, { dtype: 'F32', shape: [...p.shape], data: p.data.slice() });
  }
  for (const [name, v] of t.tensors) {
    if (name.startsWith('optimizer.') || name.startsWith('raw.') || training.has(name)) throw new Error(`saving a checkpoint: the task's tensor name ${name} is reserved`);
    training.set(name, v);
  }
  const meta = {
    step: t.step, rng: t.rng.getState(), optimizer: opt.json, counters: t.counters,
    ...(t.average === null ? {} : { average: { decay: t.average.decay, count: t.average.count } }),
  };
  const step = String(t.step);
  return [
    ['config.json', new TextEncoder().encode(JSON.stringify({ format, ...config }, null, 2) + '\n')],
    ['training.safetensors', encodeSafetensors(training, { format, step, training: JSON.stringify(meta) })],
    ['model.safetensors', encodeSafetensors(weights, { format, step })],
  ];
}

/**
 * config.json's bytes parsed, of one of `formats` (`what` names the kind in errors: "a recurrent classifier
 * checkpoint"); the caller checks its fields.
 */
export function parseCheckpointConfig<C>(bytes: Uint8Array, path: string, formats: readonly string[], what: string): C {
  let config: { format?: unknown };
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${path} is corrupt: ${jsonErrorMessage(e)}`);
  }
  if (config === null || typeof config !== 'object' || !formats.includes(config.format as string)) {
    const expected = formats.map((f) => JSON.stringify(f)).join(' or ');
    throw new Error(`${path} is not a ${what} checkpoint (format ${JSON.stringify(config?.format)}, expected ${expected})`);
  }
  return config as C;
}

/** Throws naming the tensor and the first element that is NaN or infinite. */
function checkFinite(data: ArrayLike<number>, path: string, name: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`${path}: tensor "${name}" holds ${data[i]} (element ${i}); the checkpoint's weights are not finite`);
  }
}

/**
 * Loads model.safetensors' bytes into `model` (every parameter present, F32, of its exact shape, every value
 * finite), disposing the model on a mismatch; returns the step in its metadata.
 */
export function loadCheckpointWeights(model: Module, bytes: Uint8Array, path: string, configPath: string): number {
  const fail = (message: string): never => {
    model.dispose();
    throw new Error(message);
  };
  let weights: ReturnType<typeof decodeSafetensors>;
  try {
    weights = decodeSafetensors(bytes, path);
  } catch (e) {
    return fail((e as Error).message);
  }
  const state = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
  for (const [k, v] of weights.tensors) {
    if (v.dtype !== 'F32') fail(`${path}: tensor "${k}" is ${v.dtype}, expected F32`);
    try {
      checkFinite(v.data as Float32Array, path, k);
    } catch (e) {
      fail((e as Error).message);
    }
    state.set(k, { shape: v.shape, data: v.data as Float32Array });
  }
  try {
    model.loadStateDict(state);
  } catch (e) {
    fail(`${path} does not match ${configPath}: ${(e as Error).message}`);
  }
  return Number(weights.metadata.step ?? 0);
}

const META_KEYS = ['step', 'rng', 'optimizer', 'counters', 'average'];

/**
 * training.safetensors' bytes, for a model whose weights (model.safetensors, of step `step`) are loaded in
 * `params`: sets `rng` to the saved generator state and, with a saved average, the params to the raw weights.
 * `needs` names the counters a run cannot do without: a file that lacks one is corrupt.
 */
export function decodeTrainingState(
  bytes: Uint8Array, path: string, where: string, params: NamedParams, rng: Rng, step: number, needs: readonly string[],
): TrainingState {
  const tr = decodeSafetensors(bytes, path);
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
  const topLevel = Object.fromEntries(Object.entries(meta).filter(([k]) => !META_KEYS.includes(k)));
  const legacy = meta.counters === undefined && Object.keys(topLevel).length > 0;
  const counters = legacy ? topLevel : meta.counters;
  const field = legacy ? 'training' : 'training.counters';
  if (counters === null || typeof counters !== 'object') throw new Error(`${path} is corrupt: training.counters is missing`);
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${path} is corrupt: ${field}.${k} is ${JSON.stringify(v)}`);
  }
  for (const k of needs) if (!(k in counters)) throw new Error(`${path} is corrupt: ${field}.${k} is missing`);
  if (meta.step !== step) throw new Error(`${where} is inconsistent: model.safetensors is at step ${step}, training.safetensors at step ${meta.step} (interrupted while saving?)`);

  const slots = new Map<string, { shape: number[]; data: Float32Array }>();
  const tensors = new Map<string, NamedArray>();
  for (const [k, v] of tr.tensors) {
    if (k.startsWith('optimizer.')) slots.set(k.slice('optimizer.'.length), { shape: v.shape, data: v.data as Float32Array });
    else if (!k.startsWith('raw.')) tensors.set(k, v);
  }
  const average = restoreAverage(params, meta.average, tr.tensors, path);
  let optimizer: OptimizerState;
  try {
    optimizer = optimizerStateFromRecord({ json: meta.optimizer, tensors: slots }, params);
  } catch (e) {
    if (average !== null) disposeWeightAverage(average);
    throw new Error(`${path} is corrupt: ${(e as Error).message}`);
  }
  rng.setState(meta.rng);
  return { step, rng, optimizer, counters: counters as Record<string, number>, average, tensors };
}

/**
 * The saved average, after the model file is loaded into `params`: with `meta` (the training metadata's
 * { decay, count }) it is rebuilt from those weights and the params get the raw weights (`raw.*`); without,
 * null. Anything missing, malformed or not finite is an error naming `path`.
 */
function restoreAverage(
  params: NamedParams, meta: { decay?: unknown; count?: unknown } | undefined, training: Map<string, NamedArray>, path: string,
): WeightAverage | null {
  if (meta === undefined) return null;
  const { decay, count } = meta ?? {};
  if (typeof decay !== 'number' || typeof count !== 'number') throw new Error(`${path} is corrupt: training.average is ${JSON.stringify(meta)}`);
  const raws = params.map(([name, p]) => {
    const raw = training.get(`raw.${name}`);
    if (raw === undefined || raw.data.length !== p.size) throw new Error(`${path} is corrupt: the raw weights of ${name} are missing or of the wrong size`);
    checkFinite(raw.data as Float32Array, path, `raw.${name}`);
    return raw.data as Float32Array;
  });
  let average: WeightAverage;
  try {
    average = restoreWeightAverage(params, decay, count, new Map(params.map(([name, p]) => [name, { shape: p.shape, data: p.data.slice() }])));
  } catch (e) {
    throw new Error(`${path} is corrupt: ${(e as Error).message}`);
  }
  params.forEach(([, p], i) => p.data.set(raws[i]));
  return average;
}
