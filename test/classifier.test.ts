// SequenceClassifier and SequenceTagger: gradient checks of the pooling ops and of each pooling mode end to
// end, invariance to whatever sits in padded steps, and two tiny synthetic tasks learned to high accuracy
// (does a digit string contain a 7; is each digit odd or even).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossEntropy, maxOverSteps, meanOverSteps } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { SequenceClassifier, poolKinds, type SequenceClassifierConfig } from '../src/nn/sequence-classifier.js';
import { SequenceTagger } from '../src/nn/sequence-tagger.js';
import { createOptimizer, optimizerStep } from '../src/optim/optimizer.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

/** (T, B, F) with distinct values at least 0.05 apart, so the finite differences never cross a tie. */
function separated(rng: Rng, shape: number[]): Tensor {
  const t = new Tensor(shape, true);
  const perm = Array.from({ length: t.size }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = (perm[i] - t.size / 2) * 0.05;
  return t;
}

test('meanOverSteps and maxOverSteps: gradcheck, padded steps get no gradient', () => {
  const rng = new Rng(3);
  const lengths = [3, 1, 2, 3];
  for (const [name, op] of [['meanOverSteps', meanOverSteps], ['maxOverSteps', maxOverSteps]] as const) {
    const x = separated(rng, [3, 4, 5]); // (T, B, F)
    gradcheck(name, () => op(x, lengths), [x], { maxPerInput: 60 });
    const g = x.grad!.data;
    for (let b = 0; b < 4; b++) {
      for (let t = lengths[b]; t < 3; t++) for (let f = 0; f < 5; f++) assert.equal(g[(t * 4 + b) * 5 + f], 0, `${name}: padded [${t}, ${b}, ${f}]`);
    }
    x.dispose();
  }
  // The values themselves.
  const x = Tensor.from([1, 10, 5, -20, 3, 100], [3, 2, 1]); // (T=3, B=2, F=1)
  assert.deepEqual(meanOverSteps(x, [3, 1]).toArray(), [3, 10]);
  assert.deepEqual(maxOverSteps(x, [2, 1]).toArray(), [5, 10]);
  assert.throws(() => meanOverSteps(x, [4, 1]), /lengths\[0\] must be an integer in \[1, T = 3\], got 4/);
  assert.throws(() => maxOverSteps(x, [1]), /one length per sequence \(B = 2\), got 1/);
});

const small = (pool: (typeof poolKinds)[number], bidirectional: boolean): SequenceClassifierConfig => ({
  cell: 'lstm', vocabSize: 6, embeddingSize: 3, hiddenSize: 4, numLayers: 2, bidirectional, numClasses: 3, pool,
});

test('every pooling mode is differentiable end to end (gradcheck through the classifier)', () => {
  const T = 4;
  const B = 3;
  const ids = Int32Array.from({ length: T * B }, (_, i) => (i * 5 + 1) % 6);
  const lengths = [4, 2, 3];
  for (const pool of poolKinds) {
    for (const bidirectional of [false, true]) {
      const model = new SequenceClassifier(small(pool, bidirectional), new Rng(5));
      const params = model.parameters();
      gradcheck(`classifier ${pool}${bidirectional ? ' bidirectional' : ''}`, () => model.forward(ids, T, B, lengths), params, { maxPerInput: 8, tol: 3e-2 });
      model.dispose();
    }
  }
});

test('pooling reads valid steps only: padded ids change nothing, and a batch equals each sequence alone', () => {
  const T = 5;
  const B = 3;
  const lengths = [5, 2, 3];
  const rng = new Rng(9);
  const ids = Int32Array.from({ length: T * B }, () => rng.int(6));
  const other = Int32Array.from(ids);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= lengths[b]) other[t * B + b] = (ids[t * B + b] + 1 + rng.int(5)) % 6;
  for (const pool of poolKinds) {
    for (const bidirectional of [false, true]) {
      for (const cell of ['lstm', 'gru'] as const) {
        const model = new SequenceClassifier({ ...small(pool, bidirectional), cell }, new Rng(2)).eval();
        noGrad(() => tidy(() => {
          const a = model.forward(ids, T, B, lengths).toArray();
          const b2 = model.forward(other, T, B, lengths).toArray();
          assert.deepEqual(b2, a, `${cell} ${pool} bidirectional=${bidirectional}: padded ids changed the logits`);
          for (let b = 0; b < B; b++) {
            const n = lengths[b];
            const alone = model.forward(Int32Array.from({ length: n }, (_, t) => ids[t * B + b]), n, 1).toArray();
            for (let c = 0; c < 3; c++) {
              assert.ok(Math.abs(alone[c] - a[b * 3 + c]) < 1e-5, `${cell} ${pool} bidirectional=${bidirectional}: sequence ${b} alone ${alone[c]} vs batched ${a[b * 3 + c]}`);
            }
          }
        }));
        model.dispose();
      }
    }
  }
});

test('configs are checked: unknown keys, bad pool, bad sizes', () => {
  const rng = new Rng(1);
  const base = small('mean', false);
  assert.throws(() => new SequenceClassifier({ ...base, pooling: 'max' } as SequenceClassifierConfig, rng), /unknown option "pooling"/);
  assert.throws(() => new SequenceClassifier({ ...base, pool: 'sum' as 'max' }, rng), /pool must be one of last, mean, max, got "sum"/);
  assert.throws(() => new SequenceClassifier({ ...base, numClasses: 1 }, rng), /numClasses must be an integer >= 2/);
  assert.throws(() => new SequenceClassifier({ ...base, hiddenSize: 0 }, rng), /hiddenSize must be a positive integer, got 0/);
  assert.throws(() => new SequenceTagger({ cell: 'gru', vocabSize: 4, hiddenSize: 4, numTags: 2, numClases: 2 } as never, rng), /unknown option "numClases"/);
  const m = new SequenceClassifier(base, rng);
  assert.throws(() => m.forward(new Int32Array(5), 3, 2), /ids must hold T·B = 6 ids/);
  assert.throws(() => m.forward(new Int32Array(6), 3, 2, [3, 0]), /lengths\[1\] must be an integer in \[1, T = 3\], got 0/);
  m.dispose();
});

/** A padded time-major batch of random digit strings (ids = digits), lengths in [2, maxLen]. */
function digitBatch(rng: Rng, B: number, maxLen: number): { ids: Int32Array; T: number; lengths: Int32Array; seqs: number[][] } {
  const seqs = Array.from({ length: B }, () => Array.from({ length: 2 + rng.int(maxLen - 1) }, () => rng.int(10)));
  // Half the strings get a 7 (so the classes are balanced), the others none.
  seqs.forEach((s, i) => {
    for (let t = 0; t < s.length; t++) if (s[t] === 7) s[t] = 8;
    if (i % 2 === 0) s[rng.int(s.length)] = 7;
  });
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(T * B).fill(7); // NOTE: padding with 7 would leak the answer if padding were read
  seqs.forEach((s, b) => s.forEach((d, t) => (ids[t * B + b] = d)));
  return { ids, T, lengths: Int32Array.from(seqs, (s) => s.length), seqs };
}

test('a classifier learns "does the string contain a 7" quickly, with every pooling mode', () => {
  for (const pool of poolKinds) {
    const rng = new Rng(11);
    const model = new SequenceClassifier({ cell: 'gru', vocabSize: 10, embeddingSize: 8, hiddenSize: 16, numClasses: 2, pool, bidirectional: pool === 'last' }, rng);
    const params = model.namedParameters();
    const opt = createOptimizer('adam', params, { lr: 2e-2 });
    for (let step = 0; step < 120; step++) {
      const { ids, T, lengths, seqs } = digitBatch(rng, 16, 8);
      const labels = Int32Array.from(seqs, (s) => (s.includes(7) ? 1 : 0));
      tidy(() => backward(crossEntropy(model.forward(ids, T, 16, lengths), labels)));
      noGrad(() => optimizerStep(opt, params));
      model.zeroGrad();
    }
    model.eval();
    const test = digitBatch(new Rng(99), 200, 8);
    const correct = noGrad(() => tidy(() => {
      const logits = model.forward(test.ids, test.T, 200, test.lengths).data; // (B, 2)
      let k = 0;
      test.seqs.forEach((s, b) => (k += Number((logits[b * 2 + 1] > logits[b * 2]) === s.includes(7))));
      return k;
    }));
    assert.ok(correct / 200 >= 0.95, `${pool}: accuracy ${correct / 200}`);
    model.dispose();
  }
});

test('a tagger learns odd/even per digit; the loss ignores tags at padded steps', () => {
  const rng = new Rng(4);
  const model = new SequenceTagger({ cell: 'lstm', vocabSize: 10, hiddenSize: 12, numTags: 2, bidirectional: true }, rng);
  const params = model.namedParameters();
  const opt = createOptimizer('adam', params, { lr: 2e-2 });
  const tagsOf = (b: ReturnType<typeof digitBatch>, pad: number): Int32Array => {
    const tags = new Int32Array(b.ids.length).fill(pad);
    b.seqs.forEach((s, j) => s.forEach((d, t) => (tags[t * b.seqs.length + j] = d % 2)));
    return tags;
  };
  // Padded tags never matter, even out-of-range ones.
  const probe = digitBatch(new Rng(1), 4, 6);
  noGrad(() => tidy(() => {
    const logits = model.forward(probe.ids, probe.T, 4, probe.lengths);
    assert.equal(model.loss(logits, tagsOf(probe, 0), probe.lengths).item(), model.loss(logits, tagsOf(probe, 55), probe.lengths).item());
    assert.throws(() => model.loss(logits, tagsOf(probe, 5)), /tag 5 at step/);
  }));
  for (let step = 0; step < 80; step++) {
    const b = digitBatch(rng, 16, 8);
    tidy(() => backward(model.loss(model.forward(b.ids, b.T, 16, b.lengths), tagsOf(b, -1), b.lengths)));
    noGrad(() => optimizerStep(opt, params));
    model.zeroGrad();
  }
  model.eval();
  const test = digitBatch(new Rng(98), 100, 8);
  const [correct, total] = noGrad(() => tidy(() => {
    const logits = model.forward(test.ids, test.T, 100, test.lengths).data; // (T, B, 2)
    let k = 0;
    let n = 0;
    test.seqs.forEach((s, b) => s.forEach((d, t) => {
      const i = (t * 100 + b) * 2;
      k += Number((logits[i + 1] > logits[i]) === (d % 2 === 1));
      n++;
    }));
    return [k, n];
  }));
  assert.ok(correct / total >= 0.98, `tag accuracy ${correct / total}`);
  model.dispose();
});
