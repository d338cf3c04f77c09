// Optimizers and gradient clipping against PyTorch 1.13: test/fixtures/optim/{optimizers,clip}.json,
// written by scripts/make-optim-fixtures.py (each case records the torch constructor that produced it).
// Also: option validation, null-grad skipping, and state lifetimes across tidy scopes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { clipGradNorm, clipGradValue } from '../src/optim/clip.js';
import { createOptimizer, disposeOptimizer, optimizerNames, optimizerStep, type OptimizerState } from '../src/optim/optimizer.js';
import { heap } from '../src/tensor/heap.js';
import { Tensor, tidy, untracked } from '../src/tensor/tensor.js';

type Flat = number[];

interface OptimizerCase {
  case: string;
  optimizer: string;
  options: Record<string, unknown>;
  torch: string;
  steps: Array<{ lr: number; params: Record<string, Flat> }>;
  finalState: Record<string, Flat>;
  paramSteps: Record<string, number>;
}

interface OptimizerFixture {
  shapes: Record<string, number[]>;
  init: Record<string, Flat>;
  grads: Array<Record<string, Flat | null>>;
  cases: OptimizerCase[];
}

interface ClipCase {
  case: string;
  kind: 'norm' | 'value';
  maxNorm?: number;
  normType?: number | 'inf';
  clipValue?: number;
  total?: number;
  shapes: Record<string, number[]>;
  before: Record<string, Flat | null>;
  after: Record<string, Flat | null>;
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/optim/${name}`, import.meta.url), 'utf8')) as T;
}

/** |actual - expected| <= rtol·|expected| + atol, elementwise, naming the first failure. */
export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-6, atol = 1e-7): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= rtol * Math.abs(e) + atol, `${what}[${i}]: got ${a}, PyTorch ${e} (diff ${Math.abs(a - e).toExponential(2)})`);
  }
}

/** Parameters outside any scope, as a Module makes them. */
function makeParams(f: OptimizerFixture): Array<[string, Tensor]> {
  return Object.entries(f.init).map(([k, v]) => [k, untracked(() => Tensor.from(v, f.shapes[k], true))]);
}

function setGrads(params: Array<[string, Tensor]>, grads: Record<string, Flat | null>): void {
  for (const [k, p] of params) {
    const g = grads[k];
    if (g === null) {
      p.grad?.dispose();
      p.grad = null;
    } else p.ensureGrad().data.set(g);
  }
}

function disposeAll(params: Array<[string, Tensor]>): void {
  for (const [, p] of params) p.dispose();
}

const optimizers = fixture<OptimizerFixture>('optimizers.json');

/** Runs steps [from, to) of a case, checking parameters after each against PyTorch. */
export function runSteps(c: OptimizerCase, state: OptimizerState, params: Array<[string, Tensor]>, from: number, to: number): void {
  for (let t = from; t < to; t++) {
    setGrads(params, optimizers.grads[t]);
    // Step inside a tidy, as a training loop does: state must survive it.
    tidy(() => optimizerStep(state, params, c.steps[t].lr));
    for (const [k, p] of params) assertClose(`${c.case} step ${t + 1} ${k}`, p.data, c.steps[t].params[k]);
  }
}

for (const c of optimizers.cases) {
  test(`${c.case} matches torch.optim: ${c.torch}`, () => {
    const params = makeParams(optimizers);
    const state = tidy(() => createOptimizer(c.optimizer, params, c.options));
    runSteps(c, state, params, 0, c.steps.length);
    assert.deepEqual(Object.fromEntries(state.paramSteps), c.paramSteps, 'per-parameter step counts');
    assert.equal(state.step, c.steps.length);
    assert.deepEqual([...state.slots.keys()].sort(), Object.keys(c.finalState).sort(), 'state keys follow PyTorch');
    for (const [k, v] of Object.entries(c.finalState)) assertClose(`${c.case} state ${k}`, state.slots.get(k)!.data, v, 1e-5, 1e-7);
    disposeOptimizer(state);
    disposeAll(params);
  });
}

test('the lr argument defaults to hyper.lr and overrides it when given', () => {
  const run = (lr?: number): number[] => {
    const p = untracked(() => Tensor.from([1, -2], [2], true));
    p.ensureGrad().data.set([0.5, 0.25]);
    const s = createOptimizer('sgd', [['p', p]], { lr: 0.1 });
    optimizerStep(s, [['p', p]], lr);
    const out = p.toArray();
    disposeOptimizer(s);
    p.dispose();
    return out;
  };
  assertClose('default', run(), [1 - 0.05, -2 - 0.025]);
  assertClose('override', run(1), [0.5, -2.25]);
});

test('optimizer options are validated with errors naming the option', () => {
  const p = untracked(() => Tensor.zeros([2], true));
  const params: Array<[string, Tensor]> = [['p', p]];
  assert.throws(() => createOptimizer('adammm', params), /unknown optimizer "adammm" \(valid: sgd, adagrad, rmsprop, adam, adamw\)/);
  assert.throws(() => createOptimizer('adam', params, { momentum: 0.9 }), /adam: unknown option "momentum" \(valid options: lr, betas, eps, weightDecay\)/);
  assert.throws(() => createOptimizer('adam', params, { weight_decay: 0.1 }), /unknown option "weight_decay"/);
  assert.throws(() => createOptimizer('sgd', params), /sgd: option "lr" is required/);
  assert.throws(() => createOptimizer('sgd', params, { lr: 0.1, nesterov: true }), /nesterov needs momentum > 0 and dampening 0/);
  assert.throws(() => createOptimizer('sgd', params, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /dampening 0/);
  assert.throws(() => createOptimizer('sgd', params, { lr: -1 }), /sgd: invalid lr -1/);
  assert.throws(() => createOptimizer('adam', params, { lr: '0.1' }), /adam: option "lr" must be a finite number, got "0.1"/);
  assert.throws(() => createOptimizer('adam', params, { lr: NaN }), /option "lr" must be a finite number/);
  assert.throws(() => createOptimizer('adam', params, { betas: [0.9, 1] }), /adam: invalid betas\[1\] 1 \(expected in \[0, 1\)\)/);
  assert.throws(() => createOptimizer('adam', params, { betas: 0.9 }), /betas" must be a pair/);
  assert.throws(() => createOptimizer('rmsprop', params, { centered: 1 }), /centered" must be true or false/);
  assert.throws(() => createOptimizer('adagrad', params, { lrDecay: -0.1 }), /adagrad: invalid lrDecay/);
  assert.throws(() => createOptimizer('adam', [['p', p], ['p', p]]), /parameter "p" is listed twice/);
  const s = createOptimizer('adam', params);
  assert.throws(() => optimizerStep(s, [['q', p]]), /parameter "q" is not one this adam optimizer was created with/);
  assert.throws(() => optimizerStep(s, params, NaN), /lr must be a finite number/);
  disposeOptimizer(s);
  p.dispose();
});

test('defaults match PyTorch', () => {
  const p = untracked(() => Tensor.zeros([1], true));
  const defaults = Object.fromEntries(
    optimizerNames.map((n) => {
      const s = createOptimizer(n, [['p', p]], n === 'sgd' ? { lr: 0.1 } : {});
      disposeOptimizer(s);
      return [n, s.hyper];
    }),
  );
  assert.deepEqual(defaults, {
    sgd: { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    adagrad: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
    rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
    adam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    adamw: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 },
  });
  p.dispose();
});

test('a parameter that never gets a grad is left alone, its state untouched', () => {
  const a = untracked(() => Tensor.from([1, 2], [2], true));
  const b = untracked(() => Tensor.from([3], [1], true));
  const params: Array<[string, Tensor]> = [['a', a], ['b', b]];
  const s = createOptimizer('adam', params, { lr: 0.1, weightDecay: 0.5 });
  for (let i = 0; i < 3; i++) {
    a.ensureGrad().data.set([0.1, -0.1]);
    optimizerStep(s, params);
  }
  assert.deepEqual(b.toArray(), [3]);
  assert.deepEqual(s.slots.get('exp_avg.b')!.toArray(), [0]);
  assert.equal(s.paramSteps.get('b'), 0);
  assert.equal(s.paramSteps.get('a'), 3);
  disposeOptimizer(s);
  disposeAll(params);
});

// --- clipping ---

const clip = fixture<{ cases: ClipCase[] }>('clip.json');

function clipParams(c: ClipCase): Array<[string, Tensor]> {
  return Object.entries(c.before).map(([k, g]) => {
    const p = untracked(() => Tensor.zeros(c.shapes[k], true));
    if (g !== null) p.ensureGrad().data.set(g);
    return [k, p];
  });
}

for (const c of clip.cases) {
  test(`clip ${c.case} matches torch.nn.utils.clip_grad_${c.kind}_`, () => {
    const params = clipParams(c);
    if (c.kind === 'norm') {
      const normType = c.normType === 'inf' ? Infinity : c.normType!;
      // Named pairs here, bare tensors in the other cases below: both are accepted.
      const total = clipGradNorm(params, c.maxNorm!, normType);
      assertClose(`${c.case} total norm`, [total], [c.total!], 1e-6, 0);
    } else clipGradValue(params.map(([, p]) => p), c.clipValue!);
    for (const [k, p] of params) {
      const want = c.after[k];
      if (want === null) assert.equal(p.grad, null, `${c.case}: ${k} had no grad and must still have none`);
      else assertClose(`${c.case} grad ${k}`, p.grad!.data, want);
    }
    disposeAll(params);
  });
}

test('clipGradNorm leaves grads alone and returns a non-finite norm', () => {
  for (const bad of [NaN, Infinity]) {
    for (const normType of [2, Infinity, 1]) {
      const p = untracked(() => Tensor.zeros([3], true));
      p.ensureGrad().data.set([1, bad, 2]);
      const total = clipGradNorm([p], 1, normType);
      assert.ok(!Number.isFinite(total), `norm ${normType} of a grad holding ${bad} is ${total}`);
      if (Number.isNaN(bad)) assert.ok(Number.isNaN(total));
      const g = p.grad!.toArray();
      assert.equal(g[0], 1);
      assert.equal(g[2], 2);
      p.dispose();
    }
  }
});

test('clipGradNorm with no grads returns 0; clipGradValue keeps NaN; arguments are checked', () => {
  const p = untracked(() => Tensor.zeros([3], true));
  assert.equal(clipGradNorm([p], 1), 0);
  p.ensureGrad().data.set([NaN, 5, -5]);
  clipGradValue([p], 1);
  const g = p.grad!.toArray();
  assert.ok(Number.isNaN(g[0]));
  assert.deepEqual(g.slice(1), [1, -1]);
  assert.throws(() => clipGradNorm([p], 0), /maxNorm must be a finite number > 0, got 0/);
  assert.throws(() => clipGradNorm([p], 1, -2), /normType must be > 0 or Infinity, got -2/);
  assert.throws(() => clipGradValue([p], -1), /clipValue must be a finite number >= 0, got -1/);
  p.dispose();
});

test('optimizer steps allocate nothing on the heap', () => {
  const params = makeParams(optimizers);
  for (const [, p] of params) p.ensureGrad().data.fill(0.1);
  for (const name of optimizerNames) {
    const s = createOptimizer(name, params, name === 'sgd' ? { lr: 0.1, momentum: 0.9 } : { weightDecay: 0.1 });
    const before = heap.stats().bytesInUse;
    for (let i = 0; i < 3; i++) tidy(() => optimizerStep(s, params));
    clipGradNorm(params, 0.01);
    clipGradValue(params, 0.001);
    assert.equal(heap.stats().bytesInUse, before, `${name}: heap bytes in use after 3 steps`);
    disposeOptimizer(s);
  }
  disposeAll(params);
});
