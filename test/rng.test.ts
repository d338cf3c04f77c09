// The seeded generator's bulk dropout mask: what the one-at-a-time loop draws, element for element, and the
// state it leaves, so masks (and a resumed run's masks) do not change with the faster path.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../src/random/rng.js';

test('Rng.dropoutMask draws what uniform() < p ? 0 : keep draws, and leaves the same state', () => {
  for (const [seed, p, n] of [[1, 0.1, 1000], [7, 0.5, 17], [123456789, 0.37, 4099], [0, 0.9, 1], [42, 0, 64], [3, 1 / 3, 0]] as const) {
    const a = new Rng(seed);
    const b = new Rng(seed);
    a.uniform(); // not from a fresh state only
    b.uniform();
    const keep = 1 / (1 - p);
    const want = new Float32Array(n);
    for (let i = 0; i < n; i++) want[i] = a.uniform() < p ? 0 : keep;
    const got = new Float32Array(n);
    b.dropoutMask(got, p, keep);
    const i = got.findIndex((v, j) => !Object.is(v, want[j]));
    assert.equal(i, -1, `seed ${seed} p ${p}: element ${i} is ${got[i]}, the loop's ${want[i]}`);
    assert.deepEqual(b.getState(), a.getState(), `seed ${seed} p ${p} n ${n}: the state after the mask`);
    assert.equal(b.uniform(), a.uniform());
  }
  // A p whose 2²⁴ multiple is a whole number: the dropped fraction is p.
  const p = 0.25;
  const r = new Rng(9);
  const m = new Float32Array(100000);
  r.dropoutMask(m, p, 4 / 3);
  const dropped = m.filter((v) => v === 0).length / m.length;
  assert.ok(Math.abs(dropped - p) < 0.01, `dropped a fraction ${dropped} at p ${p}`);
});
