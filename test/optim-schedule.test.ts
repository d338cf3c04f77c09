// Learning-rate schedules: the step decay replays Karpathy's char-rnn loop (train.lua), the cosine
// schedule hits its documented points, and bad specs fail naming the field.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSchedule, resolveSchedule, scheduleLr } from '../src/optim/schedule.js';

test('constant', () => {
  const lr = createSchedule({ kind: 'constant' }, 0.002);
  for (const s of [0, 1, 1000]) assert.equal(lr(s), 0.002);
});

/**
 * char-rnn's train.lua, for i = 1, iterations: the update of iteration i uses optim_state.learningRate, then
 *   if i % ntrain == 0 and opt.learning_rate_decay < 1 then
 *     local epoch = i / ntrain
 *     if epoch >= opt.learning_rate_decay_after then optim_state.learningRate = optim_state.learningRate * decay end
 *   end
 */
function charRnnRates(lr0: number, decay: number, decayAfterEpochs: number, ntrain: number, iterations: number): number[] {
  const used: number[] = [];
  let lr = lr0;
  for (let i = 1; i <= iterations; i++) {
    used.push(lr);
    if (i % ntrain === 0 && decay < 1 && i / ntrain >= decayAfterEpochs) lr *= decay;
  }
  return used;
}

test("step decay replays char-rnn's learning_rate_decay / learning_rate_decay_after", () => {
  for (const [ntrain, after] of [[7, 10], [5, 0], [1, 3], [13, 2]]) {
    const want = charRnnRates(2e-3, 0.97, after, ntrain, 20 * ntrain + 3);
    const lr = createSchedule({ kind: 'step', decayRate: 0.97, every: ntrain, decayAfter: after * ntrain }, 2e-3);
    want.forEach((w, s) => assert.ok(Math.abs(lr(s) - w) <= 1e-15, `ntrain ${ntrain}, after ${after}: step ${s} has ${lr(s)}, char-rnn ${w}`));
  }
});

test('step decay counts multiples of every at or after decayAfter', () => {
  const spec = resolveSchedule({ kind: 'step', decayRate: 0.5, every: 10, decayAfter: 25 }, 1);
  const at = (s: number): number => scheduleLr(spec, 1, s);
  assert.equal(at(0), 1);
  assert.equal(at(29), 1);
  assert.equal(at(30), 0.5); // multiples 30 ≥ 25
  assert.equal(at(39), 0.5);
  assert.equal(at(40), 0.25);
  // decayAfter defaults to 0: the first decay comes after `every` steps.
  const early = createSchedule({ kind: 'step', decayRate: 0.5, every: 10 }, 1);
  assert.deepEqual([0, 9, 10, 19, 20].map(early), [1, 1, 0.5, 0.5, 0.25]);
});

test('cosine with linear warmup', () => {
  const lr = createSchedule({ kind: 'cosine', warmupSteps: 4, totalSteps: 14, minLr: 0.1 }, 1);
  assert.deepEqual([0, 1, 2, 3].map(lr), [0.25, 0.5, 0.75, 1]);
  assert.equal(lr(4), 1);
  assert.ok(Math.abs(lr(9) - 0.55) < 1e-12, 'half way: the midpoint of lr and minLr');
  assert.ok(Math.abs(lr(6) - (0.1 + 0.45 * (1 + Math.cos(Math.PI * 0.2)))) < 1e-12);
  assert.equal(lr(14), 0.1);
  assert.equal(lr(1e6), 0.1);
  for (let s = 4; s < 14; s++) assert.ok(lr(s + 1) <= lr(s), 'decreasing after warmup');
  const noWarmup = createSchedule({ kind: 'cosine', totalSteps: 10 }, 2);
  assert.equal(noWarmup(0), 2);
  assert.equal(noWarmup(10), 0);
});

test('cosine over a time budget: the cosine curve at progress elapsed / totalSeconds, warm-up in steps', () => {
  const lr = createSchedule({ kind: 'cosine-time', warmupSteps: 2, totalSeconds: 100, minLr: 0.1 }, 1);
  assert.deepEqual([lr(0, 0), lr(1, 0.5)], [0.5, 1], 'warm-up by step');
  assert.equal(lr(2, 0), 1);
  assert.ok(Math.abs(lr(50, 50) - 0.55) < 1e-12, 'half the time: the midpoint');
  assert.ok(Math.abs(lr(7, 20) - (0.1 + 0.45 * (1 + Math.cos(Math.PI * 0.2)))) < 1e-12, 'the step does not matter after warm-up');
  assert.equal(lr(9, 100), 0.1);
  assert.equal(lr(9, 1e6), 0.1, 'past the budget: minLr');
  assert.throws(() => lr(3), /cosine-time": needs the seconds elapsed, a number >= 0, got undefined/);
  assert.throws(() => createSchedule({ kind: 'cosine-time', totalSeconds: 0 }, 1), /totalSeconds must be a positive number, got 0/);
  assert.throws(() => createSchedule({ kind: 'cosine-time', totalSteps: 10 }, 1), /schedule "cosine-time": unknown field "totalSteps"/);
});

test('bad schedules fail naming the field', () => {
  assert.throws(() => createSchedule({ kind: 'linear' }, 1), /unknown kind "linear" \(valid kinds: constant, step, cosine, cosine-time\)/);
  assert.throws(() => createSchedule({ kind: 'constant', lr: 1 }, 1), /schedule "constant": unknown field "lr"/);
  assert.throws(() => createSchedule({ kind: 'step', decayRate: 0.9 }, 1), /schedule "step": field "every" is required/);
  assert.throws(() => createSchedule({ kind: 'step', decayRate: 0.9, every: 2.5 }, 1), /every must be a positive integer, got 2.5/);
  assert.throws(() => createSchedule({ kind: 'step', decayRate: 1.5, every: 2 }, 1), /decayRate must be in \(0, 1\], got 1.5/);
  assert.throws(() => createSchedule({ kind: 'step', decayRate: 0.9, every: 2, decayAfter: -1 }, 1), /decayAfter must be a non-negative integer/);
  assert.throws(() => createSchedule({ kind: 'cosine', totalSteps: 10, warmupSteps: 10 }, 1), /totalSteps must be an integer > warmupSteps \(10\), got 10/);
  assert.throws(() => createSchedule({ kind: 'cosine', totalSteps: 10, minLr: 2 }, 1), /minLr must be in \[0, lr\] = \[0, 1\], got 2/);
  assert.throws(() => createSchedule({ kind: 'cosine', totalSteps: '10' }, 1), /field "totalSteps" must be a finite number, got "10"/);
  assert.throws(() => createSchedule({ kind: 'constant' }, -1), /base lr must be a finite number >= 0, got -1/);
  assert.throws(() => createSchedule({ kind: 'constant' }, 1)(-1), /step must be a non-negative integer, got -1/);
});
