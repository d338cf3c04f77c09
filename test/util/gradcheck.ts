// Finite-difference gradient checks: compares the tape's gradients of f(inputs) = sum(out ⊙ dOut) with
// central differences computed in float64 on the float32 inputs. Used by every op and layer test.

import assert from 'node:assert/strict';
import { add, mul, sum } from '../../src/autograd/ops.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor, noGrad, tidy } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/random/rng.js';

export interface GradcheckOptions {
  eps?: number;
  /** Allowed |analytic - numeric| / max(1, |numeric|)-ish error (see below). */
  tol?: number;
  /** Check at most this many coordinates per input (random subset), to keep big layers fast. */
  maxPerInput?: number;
  seed?: number;
}

/**
 * `f` maps the inputs to one output tensor (or several, all seeded with random dOut). Inputs must
 * require grad. Asserts each analytic gradient coordinate matches the central difference.
 */
export function gradcheck(name: string, f: () => Tensor | Tensor[], inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const { eps = 1e-2, tol = 2e-2, maxPerInput = 40, seed = 1 } = opts;
  const rng = new Rng(seed);
  const outs0 = noGrad(() => tidy(() => [f()].flat().map((t) => t.toArray())));
  const dOuts = outs0.map((o) => Float64Array.from(o, () => rng.uniform() * 2 - 1));
  const objective = (): number =>
    noGrad(() => tidy(() => {
      const outs = [f()].flat();
      let s = 0;
      outs.forEach((o, k) => {
        const d = o.data;
        for (let i = 0; i < d.length; i++) s += d[i] * dOuts[k][i];
      });
      return s;
    }));

  for (const x of inputs) x.zeroGrad();
  tidy(() => {
    // One backward of sum_k sum(out_k ⊙ dOut_k): a backward per output would run the shared part of the
    // graph once per output, adding earlier outputs' seeds again (grads are never cleared in between).
    const outs = [f()].flat();
    const terms = outs.flatMap((o, k) => (o.requiresGrad ? [sum(mul(o, Tensor.from(Float32Array.from(dOuts[k]), o.shape)))] : []));
    if (terms.length > 0) backward(terms.reduce((a, b) => add(a, b)));
  });

  inputs.forEach((x, xi) => {
    assert.ok(x.grad !== null, `${name}: input ${xi} received no gradient`);
    const analytic = x.grad.data;
    const idx = Array.from({ length: x.size }, (_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    let maxAbs = 0;
    for (const v of analytic) maxAbs = Math.max(maxAbs, Math.abs(v));
    for (const i of idx.slice(0, maxPerInput)) {
      const d = x.data;
      const orig = d[i];
      d[i] = orig + eps;
      const up = objective();
      d[i] = orig - eps;
      const down = objective();
      d[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(analytic[i] - numeric) / Math.max(1, Math.abs(numeric), maxAbs * 0.1);
      assert.ok(err < tol, `${name}: input ${xi} [${i}] analytic ${analytic[i]} vs numeric ${numeric} (err ${err.toExponential(2)})`);
    }
  });
}

/** A tensor of uniform(-scale, scale) values that requires grad. */
export function randomTensor(rng: Rng, shape: number[], scale = 1, requiresGrad = true): Tensor {
  const t = new Tensor(shape, requiresGrad);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = (rng.uniform() * 2 - 1) * scale;
  return t;
}
