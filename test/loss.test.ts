// crossEntropy (with ignore_index and label_smoothing) and mse against torch.nn.functional.cross_entropy / mse_loss:
// values and gradients from test/fixtures/optim/losses.json (scripts/make-optim-fixtures.py).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { crossEntropy, mse } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';

type LossCase =
  | { case: string; kind: 'crossEntropy'; shape: number[]; logits: number[]; targets: number[]; ignoreIndex: number; labelSmoothing: number; loss: number; dLogits: number[] }
  | { case: string; kind: 'mse'; shape: number[]; a: number[]; b: number[]; loss: number; dA: number[]; dB: number[] };

const cases = (JSON.parse(readFileSync(new URL('../../test/fixtures/optim/losses.json', import.meta.url), 'utf8')) as { cases: LossCase[] }).cases;

function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-6, atol = 1e-7): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(d <= rtol * Math.abs(expected[i]) + atol, `${what}[${i}]: got ${actual[i]}, PyTorch ${expected[i]}`);
  }
}

for (const c of cases) {
  test(`${c.case} matches torch.nn.functional`, () => {
    tidy(() => {
      if (c.kind === 'crossEntropy') {
        const logits = Tensor.from(c.logits, c.shape, true);
        const loss = crossEntropy(logits, Int32Array.from(c.targets), c.ignoreIndex, c.labelSmoothing);
        assertClose(`${c.case} loss`, loss.data, [c.loss]);
        backward(loss);
        assertClose(`${c.case} dLogits`, logits.grad!.data, c.dLogits);
      } else {
        const a = Tensor.from(c.a, c.shape, true);
        const b = Tensor.from(c.b, c.shape, true);
        const loss = mse(a, b);
        assertClose(`${c.case} loss`, loss.data, [c.loss]);
        backward(loss);
        assertClose(`${c.case} dA`, a.grad!.data, c.dA);
        assertClose(`${c.case} dB`, b.grad!.data, c.dB);
      }
    });
  });
}

test('crossEntropy without grad gives the same value', () => {
  const c = cases.find((x) => x.kind === 'crossEntropy')!;
  if (c.kind !== 'crossEntropy') throw new Error('unreachable');
  const v = noGrad(() => tidy(() => crossEntropy(Tensor.from(c.logits, c.shape, true), Int32Array.from(c.targets), c.ignoreIndex).item()));
  assertClose('loss', [v], [c.loss]);
});

// NOTE: PyTorch returns NaN (0/0) when every target is ignored; ours returns 0 with a zero gradient, so a
// batch of padding contributes nothing instead of poisoning training with NaN.
test('crossEntropy with every target ignored is 0 with a zero gradient (PyTorch: NaN)', () => {
  tidy(() => {
    const logits = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], true);
    const loss = crossEntropy(logits, Int32Array.from([-100, -100]));
    assert.equal(loss.item(), 0);
    backward(loss);
    assert.deepEqual(logits.grad!.toArray(), [0, 0, 0, 0, 0, 0]);
  });
});

test('crossEntropy rejects targets outside the vocabulary and a wrong target count', () => {
  tidy(() => {
    const logits = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], true);
    assert.throws(() => crossEntropy(logits, Int32Array.from([0, 3])), /target 3 at row 1 is outside \[0, 3\)/);
    assert.throws(() => crossEntropy(logits, Int32Array.from([0])), /1 targets for 2 rows/);
  });
});

test('crossEntropy: label smoothing is a number in [0, 1], and the fixtures cover it', () => {
  assert.ok(cases.some((c) => c.kind === 'crossEntropy' && c.labelSmoothing > 0 && c.labelSmoothing < 1));
  tidy(() => {
    const logits = Tensor.from([1, 2, 3, 4], [2, 2]);
    for (const e of [-0.1, 1.5, NaN, '0.1']) {
      assert.throws(() => crossEntropy(logits, Int32Array.from([0, 1]), -100, e as never), new RegExp(`labelSmoothing must be a number in \\[0, 1\\], got ${String(e)}`));
    }
  });
});
