// Optimizers as plain data: `createOptimizer` makes an OptimizerState (name, options, step counts and
// one state tensor per PyTorch state key and parameter), `optimizerStep` updates parameters from their
// grads in place. The state is all there is, so it checkpoints as-is (record.ts). The per-optimizer math
// lives in sgd.ts, adagrad.ts, rmsprop.ts, adam.ts; schedules and clipping are separate (schedule.ts, clip.ts).

import { Tensor, shapeEquals, untracked } from '../tensor/tensor.js';
import { adagrad, type AdagradOptions } from './adagrad.js';
import { adam, adamw, type AdamOptions } from './adam.js';
import { rmsprop, type RmspropOptions } from './rmsprop.js';
import { resolveOptions, type OptimizerRule } from './rule.js';
import { sgd, type SgdOptions } from './sgd.js';

// The checkpoint form lives in record.ts; re-exported so one import serves a training loop.
export { optimizerStateFromRecord, optimizerStateToRecord, type OptimizerRecord } from './record.js';

export type OptimizerName = 'sgd' | 'adagrad' | 'rmsprop' | 'adam' | 'adamw';

export interface OptimizerOptionsByName {
  sgd: SgdOptions;
  adagrad: AdagradOptions;
  rmsprop: RmspropOptions;
  adam: AdamOptions;
  adamw: AdamOptions;
}

export const optimizerRules: { readonly [K in OptimizerName]: OptimizerRule<OptimizerOptionsByName[K]> } = {
  sgd,
  adagrad,
  rmsprop,
  adam,
  adamw,
};

export const optimizerNames = Object.keys(optimizerRules) as OptimizerName[];

export interface OptimizerStateOf<K extends OptimizerName> {
  readonly name: K;
  /** Every option, defaults filled in; the base learning rate is `hyper.lr`. */
  readonly hyper: Readonly<OptimizerOptionsByName[K]>;
  /** Calls of optimizerStep so far: what a schedule reads. */
  step: number;
  /**
   * PyTorch's per-parameter state['step']: the steps in which the parameter had a gradient (a parameter
   * whose grad is null is skipped and its count stays). Adam's bias correction and Adagrad's lr decay use it.
   */
  readonly paramSteps: Map<string, number>;
  /** `${PyTorch state key}.${parameter name}` -> tensor of the parameter's shape, e.g. 'exp_avg.rnn.weight_ih_l0'. */
  readonly slots: Map<string, Tensor>;
}

export type OptimizerState = { [K in OptimizerName]: OptimizerStateOf<K> }[OptimizerName];

/** OptimizerStateOf distributed over a union of names ('adam' | 'sgd' gives one of the two). */
export type OptimizerStateFor<K extends OptimizerName> = K extends OptimizerName ? OptimizerStateOf<K> : never;

export type NamedParams = ReadonlyArray<readonly [string, Tensor]>;

/** The slot name of a state key and a parameter, e.g. slotName('exp_avg', 'fc.weight') = 'exp_avg.fc.weight'. */
export function slotName(key: string, param: string): string {
  return `${key}.${param}`;
}

export function isOptimizerName(name: string): name is OptimizerName {
  return Object.prototype.hasOwnProperty.call(optimizerRules, name);
}

/** Checks an optimizer name from outside (CLI, config file), naming the valid ones. */
export function checkOptimizerName(name: string): OptimizerName {
  if (!isOptimizerName(name)) throw new Error(`unknown optimizer "${name}" (valid: ${optimizerNames.join(', ')})`);
  return name;
}

/** The options with defaults filled in and checked, as createOptimizer resolves them. */
export function resolveOptimizerOptions<K extends OptimizerName>(name: K, given: Readonly<Record<string, unknown>> = {}): OptimizerOptionsByName[K] {
  const rule = optimizerRules[name] as OptimizerRule<OptimizerOptionsByName[K]>;
  return resolveOptions(name, rule, given);
}

/**
 * A fresh optimizer over `params` (name -> parameter, e.g. from Module.namedParameters()). Unknown names,
 * unknown options and values PyTorch rejects throw. State tensors are made outside any tidy scope: they
 * live until disposeOptimizer.
 */
export function createOptimizer<K extends OptimizerName>(name: K, params: NamedParams, options?: Partial<OptimizerOptionsByName[K]>): OptimizerStateFor<K>;
export function createOptimizer(name: string, params: NamedParams, options?: Readonly<Record<string, unknown>>): OptimizerState;
export function createOptimizer(name: string, params: NamedParams, options: Readonly<Record<string, unknown>> = {}): OptimizerState {
  const n = checkOptimizerName(name);
  const hyper = resolveOptimizerOptions(n, options);
  checkParamNames(params);
  const paramSteps = new Map<string, number>();
  for (const [p] of params) paramSteps.set(p, 0);
  const slots = new Map<string, Tensor>();
  const rule = optimizerRules[n] as OptimizerRule<typeof hyper>;
  for (const key of rule.slotKeys(hyper)) {
    const init = rule.slotInit(key, hyper);
    for (const [p, t] of params) slots.set(slotName(key, p), untracked(() => (init === 0 ? new Tensor(t.shape) : Tensor.full(t.shape, init))));
  }
  return { name: n, hyper, step: 0, paramSteps, slots } as OptimizerState;
}

/**
 * One update of every parameter in `params` that has a grad, in place (PyTorch's optimizer.step()); a
 * null grad skips the parameter, as PyTorch does. `lr` overrides hyper.lr for this step (schedules).
 * `params` may be a subset of the parameters the optimizer was created with, not other ones.
 */
export function optimizerStep(state: OptimizerState, params: NamedParams, lr: number = state.hyper.lr): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`optimizerStep: lr must be a finite number >= 0, got ${lr}`);
  const rule = optimizerRules[state.name] as OptimizerRule<typeof state.hyper>;
  const keys = rule.slotKeys(state.hyper);
  for (const [name, p] of params) {
    const count = state.paramSteps.get(name);
    if (count === undefined) {
      throw new Error(`optimizerStep: parameter "${name}" is not one this ${state.name} optimizer was created with`);
    }
    if (p.grad === null) continue;
    if (!shapeEquals(p.grad.shape, p.shape)) {
      throw new Error(`optimizerStep: grad of "${name}" has shape [${p.grad.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
    }
    const slots = new Map<string, Float32Array>();
    for (const key of keys) {
      const s = state.slots.get(slotName(key, name))!;
      if (!shapeEquals(s.shape, p.shape)) {
        throw new Error(`optimizerStep: state "${slotName(key, name)}" has shape [${s.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
      }
      slots.set(key, s.data);
    }
    state.paramSteps.set(name, count + 1);
    rule.update(p.data, p.grad.data, slots, count + 1, state.hyper, lr);
  }
  state.step++;
}

/** Frees the state tensors. */
export function disposeOptimizer(state: OptimizerState): void {
  for (const t of state.slots.values()) t.dispose();
  state.slots.clear();
}

export function checkParamNames(params: NamedParams): void {
  const seen = new Set<string>();
  for (const [name] of params) {
    if (name === '') throw new Error('optimizer: a parameter has an empty name');
    if (seen.has(name)) throw new Error(`optimizer: parameter "${name}" is listed twice`);
    seen.add(name);
  }
}
