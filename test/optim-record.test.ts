// Optimizer state through the checkpoint record (JSON + named float32 arrays): a run interrupted,
// saved, reloaded and continued is bit-identical to an uninterrupted one (and still matches PyTorch);
// a damaged record fails with an error naming what is wrong.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  createOptimizer, disposeOptimizer, optimizerStateFromRecord, optimizerStateToRecord, optimizerStep, type OptimizerState,
} from '../src/optim/optimizer.js';
import type { OptimizerRecord } from '../src/optim/record.js';
import { Tensor, untracked } from '../src/tensor/tensor.js';

interface Fixture {
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  grads: Array<Record<string, number[] | null>>;
  cases: Array<{ case: string; optimizer: string; options: Record<string, unknown>; steps: Array<{ lr: number; params: Record<string, number[]> }> }>;
}

const f = JSON.parse(readFileSync(new URL('../../test/fixtures/optim/optimizers.json', import.meta.url), 'utf8')) as Fixture;

function makeParams(): Array<[string, Tensor]> {
  return Object.entries(f.init).map(([k, v]) => [k, untracked(() => Tensor.from(v, f.shapes[k], true))]);
}

function step(state: OptimizerState, params: Array<[string, Tensor]>, t: number, lr: number): void {
  for (const [k, p] of params) {
    const g = f.grads[t][k];
    if (g === null) {
      p.grad?.dispose();
      p.grad = null;
    } else p.ensureGrad().data.set(g);
  }
  optimizerStep(state, params, lr);
}

/** What a checkpoint writer and reader do: JSON text and copies of the arrays. */
function throughDisk(r: OptimizerRecord): { json: unknown; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of r.tensors) tensors.set(k, { shape: [...v.shape], data: new Float32Array(v.data) });
  return { json: JSON.parse(JSON.stringify(r.json)), tensors };
}

for (const c of f.cases) {
  test(`${c.case}: state saved after step 3 and reloaded continues identically`, () => {
    const straightParams = makeParams();
    const straight = createOptimizer(c.optimizer, straightParams, c.options);
    for (let t = 0; t < 5; t++) step(straight, straightParams, t, c.steps[t].lr);

    const params = makeParams();
    let state = createOptimizer(c.optimizer, params, c.options);
    for (let t = 0; t < 3; t++) step(state, params, t, c.steps[t].lr);
    const saved = throughDisk(optimizerStateToRecord(state));
    disposeOptimizer(state);
    state = optimizerStateFromRecord(saved, params);
    assert.equal(state.step, 3);
    for (let t = 3; t < 5; t++) step(state, params, t, c.steps[t].lr);

    for (const [k, p] of params) {
      assert.deepEqual(p.data, straightParams.find(([n]) => n === k)![1].data, `${k} after resuming`);
      const want = c.steps[4].params[k];
      p.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-6 * Math.abs(want[i]) + 1e-7, `${k}[${i}] vs PyTorch`));
    }
    assert.deepEqual(state.paramSteps, straight.paramSteps);
    assert.deepEqual([...state.slots.keys()], [...straight.slots.keys()]);
    for (const [k, t] of state.slots) assert.deepEqual(t.data, straight.slots.get(k)!.data, `slot ${k}`);
    disposeOptimizer(state);
    disposeOptimizer(straight);
    for (const [, p] of [...params, ...straightParams]) p.dispose();
  });
}

test('the record names slots after PyTorch state keys and holds JSON-safe data', () => {
  const params = makeParams();
  const s = createOptimizer('rmsprop', params, { momentum: 0.9, centered: true, lr: 0.01 });
  const r = optimizerStateToRecord(s);
  assert.deepEqual([...r.tensors.keys()].sort(), ['grad_avg', 'momentum_buffer', 'square_avg'].flatMap((k) => ['b', 'e', 'w'].map((p) => `${k}.${p}`)).sort());
  assert.deepEqual(r.json, {
    format: 'recurrent.optimizer', version: 1, name: 'rmsprop',
    hyper: { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0.9, centered: true },
    step: 0, paramSteps: { w: 0, b: 0, e: 0 },
  });
  assert.deepEqual(r.tensors.get('square_avg.w')!.shape, [3, 4]);
  // The record is a copy: stepping on does not change it.
  r.tensors.get('square_avg.w')!.data[0] = 42;
  assert.equal(s.slots.get('square_avg.w')!.data[0], 0);
  disposeOptimizer(s);
  for (const [, p] of params) p.dispose();
});

test('a damaged record fails naming the field or slot', () => {
  const params = makeParams();
  const s = createOptimizer('adam', params, { lr: 0.01 });
  for (let t = 0; t < 2; t++) step(s, params, t, 0.01);
  const good = optimizerStateToRecord(s);
  disposeOptimizer(s);

  const load = (edit: (r: ReturnType<typeof throughDisk> & { json: Record<string, any> }) => void, ps = params): void => {
    const r = throughDisk(good) as ReturnType<typeof throughDisk> & { json: Record<string, any> };
    edit(r);
    disposeOptimizer(optimizerStateFromRecord(r, ps));
  };
  load(() => {}); // the unedited record loads
  assert.throws(() => load((r) => r.tensors.delete('exp_avg_sq.b')), /state tensor "exp_avg_sq\.b" is missing/);
  assert.throws(() => load((r) => r.tensors.set('momentum_buffer.w', { shape: [3, 4], data: new Float32Array(12) })), /unexpected state tensor "momentum_buffer\.w"/);
  assert.throws(() => load((r) => (r.tensors.get('exp_avg.w')!.shape = [4, 3])), /state tensor "exp_avg\.w" has shape \[4, 3\], the parameter has \[3, 4\]/);
  assert.throws(() => load((r) => (r.tensors.get('exp_avg.e')!.data = new Float32Array(5))), /"exp_avg\.e" has 5 values/);
  assert.throws(() => load((r) => (r.tensors.get('exp_avg.e')!.data[2] = NaN)), /"exp_avg\.e" holds a non-finite value \(NaN\) at 2/);
  assert.throws(() => load((r) => (r.json.name = 'adamax')), /unknown optimizer "adamax"/);
  assert.throws(() => load((r) => (r.json.format = 'other')), /format is "other"/);
  assert.throws(() => load((r) => (r.json.version = 2)), /version 2 is not supported/);
  assert.throws(() => load((r) => delete r.json.hyper.eps), /hyper is missing "eps"/);
  assert.throws(() => load((r) => (r.json.hyper.amsgrad = true)), /adam: unknown option "amsgrad"/);
  assert.throws(() => load((r) => (r.json.hyper.betas = [0.9, 2])), /invalid betas\[1\] 2/);
  assert.throws(() => load((r) => (r.json.step = -1)), /step must be a non-negative integer, got -1/);
  assert.throws(() => load((r) => (r.json.paramSteps.w = 3)), /paramSteps\["w"\] must be an integer in \[0, 2\], got 3/);
  assert.throws(() => load((r) => delete r.json.paramSteps.e), /paramSteps is missing parameter "e"/);
  assert.throws(() => load((r) => (r.json.extra = 1)), /unexpected field "extra"/);
  // Loaded against a model whose parameters differ.
  const other: Array<[string, Tensor]> = [['w', params[0][1]], ['bias', params[1][1]]];
  assert.throws(() => load(() => {}, other), /paramSteps names "b", which is not a parameter of the model/);
  for (const [, p] of params) p.dispose();
});
