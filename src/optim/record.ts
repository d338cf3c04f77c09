// Optimizer state <-> a checkpoint record: the JSON part (name, options, step counts) and the tensors
// (one per slot, named like 'exp_avg.rnn.weight_ih_l0') that a checkpoint writer puts in safetensors.
// Loading checks everything against the parameters it will drive. Not here: file formats (io/, train/).

import { Tensor, untracked } from '../tensor/tensor.js';
import {
  checkOptimizerName, checkParamNames, optimizerRules, resolveOptimizerOptions, slotName, type NamedParams, type OptimizerName, type OptimizerState,
} from './optimizer.js';
import type { OptimizerRule } from './rule.js';

export const OPTIMIZER_RECORD_FORMAT = 'recurrent.optimizer';
export const OPTIMIZER_RECORD_VERSION = 1;

export interface OptimizerRecordJson {
  format: typeof OPTIMIZER_RECORD_FORMAT;
  version: number;
  name: OptimizerName;
  hyper: Record<string, unknown>;
  step: number;
  /** Parameter name -> PyTorch's per-parameter step. */
  paramSteps: Record<string, number>;
}

export interface TensorRecord {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerRecord {
  json: OptimizerRecordJson;
  tensors: Map<string, TensorRecord>;
}

/** A copy of the state as JSON-safe data plus named float32 arrays. */
export function optimizerStateToRecord(state: OptimizerState): OptimizerRecord {
  const tensors = new Map<string, TensorRecord>();
  for (const [k, t] of state.slots) tensors.set(k, { shape: [...t.shape], data: t.data.slice() });
  return {
    json: {
      format: OPTIMIZER_RECORD_FORMAT,
      version: OPTIMIZER_RECORD_VERSION,
      name: state.name,
      hyper: JSON.parse(JSON.stringify(state.hyper)) as Record<string, unknown>,
      step: state.step,
      paramSteps: Object.fromEntries(state.paramSteps),
    },
    tensors,
  };
}

/**
 * Rebuilds an optimizer state for `params` from a record (e.g. read back from a checkpoint). Throws, naming
 * the field or slot, if anything is missing, extra, of the wrong shape, or not finite. The state tensors
 * are new and outside any tidy scope.
 */
export function optimizerStateFromRecord(
  record: { json: unknown; tensors: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }> },
  params: NamedParams,
): OptimizerState {
  const where = 'optimizer checkpoint';
  checkParamNames(params);
  const json = record.json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${where}: the JSON part must be an object`);
  const j = json as Record<string, unknown>;
  const known = ['format', 'version', 'name', 'hyper', 'step', 'paramSteps'];
  for (const k of Object.keys(j)) if (!known.includes(k)) throw new Error(`${where}: unexpected field "${k}" (expected ${known.join(', ')})`);
  if (j.format !== OPTIMIZER_RECORD_FORMAT) throw new Error(`${where}: format is ${JSON.stringify(j.format)}, expected "${OPTIMIZER_RECORD_FORMAT}"`);
  if (j.version !== OPTIMIZER_RECORD_VERSION) throw new Error(`${where}: version ${JSON.stringify(j.version)} is not supported (expected ${OPTIMIZER_RECORD_VERSION})`);
  if (typeof j.name !== 'string') throw new Error(`${where}: name must be a string, got ${JSON.stringify(j.name)}`);
  const name = checkOptimizerName(j.name);
  if (j.hyper === null || typeof j.hyper !== 'object' || Array.isArray(j.hyper)) throw new Error(`${where}: hyper must be an object`);
  const given = j.hyper as Record<string, unknown>;
  const rule = optimizerRules[name] as OptimizerRule<unknown> as OptimizerRule<Record<string, unknown>>;
  for (const k of Object.keys(rule.options)) {
    if (!(k in given)) throw new Error(`${where}: hyper is missing "${k}"`);
  }
  const hyper = resolveOptimizerOptions(name, given) as unknown as Record<string, unknown>;
  const step = j.step;
  if (!isCount(step)) throw new Error(`${where}: step must be a non-negative integer, got ${JSON.stringify(step)}`);

  const ps = j.paramSteps;
  if (ps === null || typeof ps !== 'object' || Array.isArray(ps)) throw new Error(`${where}: paramSteps must be an object`);
  const paramSteps = new Map<string, number>();
  const names = new Set(params.map(([n]) => n));
  for (const [n, v] of Object.entries(ps as Record<string, unknown>)) {
    if (!names.has(n)) throw new Error(`${where}: paramSteps names "${n}", which is not a parameter of the model`);
    if (!isCount(v) || v > step) throw new Error(`${where}: paramSteps["${n}"] must be an integer in [0, ${step}], got ${JSON.stringify(v)}`);
    paramSteps.set(n, v);
  }
  for (const n of names) if (!paramSteps.has(n)) throw new Error(`${where}: paramSteps is missing parameter "${n}"`);

  const expected = new Map<string, Tensor>();
  for (const key of rule.slotKeys(hyper)) for (const [n, p] of params) expected.set(slotName(key, n), p);
  for (const k of record.tensors.keys()) {
    if (!expected.has(k)) throw new Error(`${where}: unexpected state tensor "${k}" (a ${name} optimizer with these options keeps ${[...expected.keys()].join(', ') || 'none'})`);
  }
  const slots = new Map<string, Tensor>();
  try {
    for (const [k, p] of expected) {
      const r = record.tensors.get(k);
      if (r === undefined) throw new Error(`${where}: state tensor "${k}" is missing`);
      const shape = [...r.shape];
      if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`${where}: state tensor "${k}" has shape [${shape.join(', ')}], the parameter has [${p.shape.join(', ')}]`);
      }
      if (r.data.length !== p.size) throw new Error(`${where}: state tensor "${k}" has ${r.data.length} values for shape [${shape.join(', ')}]`);
      for (let i = 0; i < r.data.length; i++) {
        if (!Number.isFinite(r.data[i])) throw new Error(`${where}: state tensor "${k}" holds a non-finite value (${r.data[i]}) at ${i}`);
      }
      slots.set(k, untracked(() => Tensor.from(r.data, p.shape)));
    }
  } catch (e) {
    for (const t of slots.values()) t.dispose();
    throw e;
  }
  return { name, hyper, step, paramSteps, slots } as unknown as OptimizerState;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
