// The moving average of the weights (optim/weight-average.ts): its update against the formula worked by
// hand, the swap that evaluates with it, restoring it, and a task checkpoint that ships the average as the
// model while resuming from the raw weights.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { Linear } from '../src/nn/linear.js';
import { createOptimizer } from '../src/optim/optimizer.js';
import {
  createWeightAverage, effectiveDecay, restoreWeightAverage, swapWeights, updateWeightAverage, withAveragedWeights,
} from '../src/optim/weight-average.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, untracked } from '../src/tensor/tensor.js';
import { decodeTrainingState, encodeCheckpoint, loadCheckpointWeights } from '../src/train/checkpoint-files.js';

const f32 = (x: number): number => Math.fround(x);

function params(values: Record<string, number[]>): Array<[string, Tensor]> {
  return Object.entries(values).map(([k, v]) => [k, untracked(() => Tensor.from(v, [v.length], true))]);
}

test('weight average: a <- d·a + (1 - d)·w with d = min(decay, (1 + n)/(10 + n)), starting at the weights', () => {
  const p = params({ w: [1, -2], b: [0.5] });
  const avg = createWeightAverage(p, 0.5);
  assert.deepEqual([...avg.weights.get('w')!.data], [1, -2], 'starts at the weights');
  const expected = { w: [1, -2], b: [0.5] };
  const updates = [{ w: [3, 0], b: [1.5] }, { w: [-1, 4], b: [0] }, { w: [2, 2], b: [-1] }];
  updates.forEach((u, n) => {
    const d = Math.min(0.5, (1 + n) / (10 + n)); // 0.1, 2/11, 0.25
    assert.equal(effectiveDecay(avg), d);
    for (const [k, t] of p) t.data.set(u[k as 'w' | 'b']);
    updateWeightAverage(avg, p);
    for (const k of ['w', 'b'] as const) {
      expected[k] = expected[k].map((a, i) => f32(f32(d * a) + f32((1 - d) * u[k][i])));
      const got = [...avg.weights.get(k)!.data];
      got.forEach((g, i) => assert.ok(Math.abs(g - expected[k][i]) < 1e-6, `update ${n} ${k}[${i}]: ${g} vs ${expected[k][i]}`));
    }
  });
  assert.equal(avg.count, 3);
  // Late updates use the decay itself.
  avg.count = 1000;
  assert.equal(effectiveDecay(avg), 0.5);
});

test('weight average: swapWeights twice restores both; withAveragedWeights puts the raw weights back, also on a throw', () => {
  const p = params({ w: [1, 2, 3] });
  const avg = createWeightAverage(p, 0.9);
  p[0][1].data.set([7, 8, 9]);
  swapWeights(avg, p);
  assert.deepEqual([...p[0][1].data], [1, 2, 3]);
  assert.deepEqual([...avg.weights.get('w')!.data], [7, 8, 9]);
  swapWeights(avg, p);
  assert.deepEqual([...p[0][1].data], [7, 8, 9]);
  assert.equal(withAveragedWeights(avg, p, () => p[0][1].data[0]), 1, 'fn sees the average');
  assert.throws(() => withAveragedWeights(avg, p, () => {
    throw new Error('boom');
  }), /boom/);
  assert.deepEqual([...p[0][1].data], [7, 8, 9]);
  assert.deepEqual([...avg.weights.get('w')!.data], [1, 2, 3]);
});

test('weight average: bad decays and mismatched restores are errors naming what is wrong', () => {
  const p = params({ w: [1, 2] });
  for (const d of [0, 1, -0.5, Number.NaN]) assert.throws(() => createWeightAverage(p, d), /decay must be a number in \(0, 1\)/);
  const w = (shape: number[], n = 2): { shape: number[]; data: Float32Array } => ({ shape, data: new Float32Array(n) });
  assert.throws(() => restoreWeightAverage(p, 0.9, 3, new Map()), /no average of parameter w/);
  assert.throws(() => restoreWeightAverage(p, 0.9, 3, new Map([['w', w([1, 2])]])), /the average of w has shape \[1, 2\], the parameter \[2\]/);
  assert.throws(() => restoreWeightAverage(p, 0.9, 3, new Map([['w', w([2])], ['v', w([2])]])), /v is not a parameter of the model/);
  assert.throws(() => restoreWeightAverage(p, 0.9, -1, new Map([['w', w([2])]])), /count must be a non-negative integer/);
  assert.equal(restoreWeightAverage(p, 0.9, 3, new Map([['w', w([2])]])).count, 3);
});

test('checkpoint with a weight average: model.safetensors holds the average, resuming restores the raw weights and the average', () => {
  const rng = new Rng(1);
  const model = new Linear({ inFeatures: 3, outFeatures: 2 }, rng);
  const named = model.namedParameters();
  const average = createWeightAverage(named, 0.99);
  for (const [, p] of named) p.data.fill(0.25); // the raw weights move away from the average
  updateWeightAverage(average, named);
  const raw = named.map(([, p]) => [...p.data]);
  const avgValues = named.map(([n]) => [...average.weights.get(n)!.data]);
  const state = { step: 1, rng, optimizer: createOptimizer('adam', named, { lr: 1e-3 }), counters: { epoch: 0 }, average, tensors: new Map() };
  const files = new Map(encodeCheckpoint('test/1', { what: 'test' }, named, state));

  const shipped = decodeSafetensors(files.get('model.safetensors')!);
  named.forEach(([n], i) => assert.deepEqual([...(shipped.tensors.get(n)!.data as Float32Array)], avgValues[i], `model.safetensors ${n} is the average`));

  const load = (f: Map<string, Uint8Array>, m: Linear) => {
    const step = loadCheckpointWeights(m, f.get('model.safetensors')!, 'ck/model.safetensors', 'ck/config.json');
    return decodeTrainingState(f.get('training.safetensors')!, 'ck/training.safetensors', 'ck', m.namedParameters(), new Rng(0), step, []);
  };
  const again = new Linear({ inFeatures: 3, outFeatures: 2 }, new Rng(9));
  const t = load(files, again);
  again.namedParameters().forEach(([n, p], i) => {
    assert.deepEqual([...p.data], raw[i], `${n}: the raw weights to train on`);
    assert.deepEqual([...t.average!.weights.get(n)!.data], avgValues[i], `${n}: the average`);
  });
  assert.equal(t.average!.decay, 0.99);
  assert.equal(t.average!.count, 1);
  assert.deepEqual(t.counters, { epoch: 0 });

  // Without an average nothing changes: the model file holds the weights and no average comes back.
  const plain = new Map(encodeCheckpoint('test/1', { what: 'test' }, named, { ...state, average: null }));
  const m2 = new Linear({ inFeatures: 3, outFeatures: 2 }, new Rng(9));
  assert.equal(load(plain, m2).average, null);
  m2.namedParameters().forEach(([, p], i) => assert.deepEqual([...p.data], raw[i]));
});
