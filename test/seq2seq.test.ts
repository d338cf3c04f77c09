// Seq2Seq: gradients through the whole encoder–decoder for each attention kind, scheduled sampling
// (ε = 1 is teacher forcing, bit for bit; ε = 0 with argmax feeds what greedy decoding picks), the
// schedules, dropout (gradients with fixed masks, where it applies, train vs eval mode), bad input, and a
// tiny model that learns to reverse digit strings.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossEntropy, stack } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { beamSearch } from '../src/decode/beam-search.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { Seq2Seq, seq2seqAttentionKinds, type Seq2SeqConfig } from '../src/nn/seq2seq.js';
import { teacherForcingProbability } from '../src/nn/scheduled-sampling.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { createOptimizer, optimizerStep } from '../src/optim/optimizer.js';
import { Rng, type MaskKernel } from '../src/random/rng.js';
import { heap } from '../src/tensor/heap.js';
import { tidy, type Tensor } from '../src/tensor/tensor.js';
import { gradcheck } from './util/gradcheck.js';

const BOS = 10;
const EOS = 11;
const base: Seq2SeqConfig = { cell: 'gru', srcVocabSize: 10, tgtVocabSize: 12, embeddingSize: 4, hiddenSize: 5, bos: BOS, eos: EOS };
const batch = { src: [[1, 2, 3, 4], [5, 6], [7]], tgt: [[4, 3, 2, 1], [6], [7, 7, 0]] };

test('gradients of the loss for every attention kind, cell, bidirectional encoder and input feeding', () => {
  const variants: Array<Partial<Seq2SeqConfig>> = [
    ...seq2seqAttentionKinds.map((attention) => ({ attention })),
    { cell: 'lstm', bidirectional: true, attention: 'luong-general', inputFeeding: true },
    { cell: 'lstm', bidirectional: true, attention: 'bahdanau', numLayers: 2 },
    { cell: 'rnn_tanh', attention: 'luong-dot', inputFeeding: true },
    // An encoder narrower or wider than the decoder: bridged, unidirectional too.
    { cell: 'lstm', bidirectional: true, attention: 'luong-general', encoderHiddenSize: 3 },
    { cell: 'gru', attention: 'bahdanau', encoderHiddenSize: 7 },
    { cell: 'lstm', attention: 'none', encoderHiddenSize: 4, numLayers: 2 },
  ];
  for (const v of variants) {
    const model = new Seq2Seq({ ...base, ...v }, new Rng(3));
    gradcheck(`seq2seq ${JSON.stringify(v)}`, () => model.forward(batch).loss, model.parameters(), { maxPerInput: 6 });
  }
});

test('label smoothing: gradients on both the fused and the stepped path; 0 is the plain loss', () => {
  for (const v of [{ cell: 'lstm', attention: 'luong-general', bidirectional: true }, { attention: 'bahdanau' }] as Array<Partial<Seq2SeqConfig>>) {
    const model = new Seq2Seq({ ...base, ...v }, new Rng(5));
    gradcheck(`seq2seq label smoothing ${JSON.stringify(v)}`, () => model.forward(batch, { labelSmoothing: 0.1 }).loss, model.parameters(), { maxPerInput: 4 });
    const loss = (opts: object): number => tidy(() => model.forward(batch, opts).loss.item());
    assert.equal(loss({ labelSmoothing: 0 }), loss({}));
    assert.notEqual(loss({ labelSmoothing: 0.1 }), loss({}));
  }
  const model = new Seq2Seq(base, new Rng(5));
  assert.throws(() => model.forward(batch, { labelSmoothing: 1.2 }), /Seq2Seq.forward: labelSmoothing must be a number in \[0, 1\], got 1.2/);
});

test('scheduled sampling with ε = 1 is teacher forcing: same outputs, same gradients, no random draws', () => {
  const one = teacherForcingProbability({ kind: 'exponential', k: 0.5 }, 0); // k^0 = 1
  assert.equal(one, 1);
  for (const attention of seq2seqAttentionKinds) {
    const model = new Seq2Seq({ ...base, cell: 'lstm', attention, bidirectional: attention !== 'luong-dot' }, new Rng(4));
    const run = (opts: object): { logits: number[]; loss: number; grads: number[][]; weights: number[] | null; weightShape: number[] | null } => tidy(() => {
      model.zeroGrad();
      const out = model.forward(batch, opts);
      backward(out.loss);
      return {
        logits: out.logits.toArray(), loss: out.loss.item(), grads: model.parameters().map((p) => p.grad!.toArray()),
        weights: out.weights?.toArray() ?? null, weightShape: out.weights?.shape.slice() ?? null,
      };
    });
    const forced = run({});
    const rng = new Rng(8);
    const state = rng.getState();
    const scheduled = run({ teacherForcing: one, feedback: 'sample', rng });
    assert.deepEqual(scheduled, forced, attention);
    assert.deepEqual(rng.getState(), state, 'no random number drawn at ε = 1');
    if (attention !== 'none') assert.deepEqual(forced.weightShape, [5, 3, 4], 'weights (T, B, S): one matrix per decoded step');
  }
});

test('teacher forcing without input feeding runs the decoder over all steps at once: same loss and gradients as stepping', () => {
  const variants: Array<Partial<Seq2SeqConfig>> = [
    { attention: 'none' },
    { cell: 'lstm', attention: 'luong-general', bidirectional: true, numLayers: 2 },
    { cell: 'lstm', attention: 'luong-dot' },
    { cell: 'rnn_tanh', attention: 'luong-general' },
    { cell: 'lstm', attention: 'luong-general', bidirectional: true, encoderHiddenSize: 3 },
    // Dropout in eval mode changes nothing: the two paths still agree.
    { attention: 'none', numLayers: 2, dropout: 0.4 },
    { cell: 'lstm', attention: 'luong-general', bidirectional: true, numLayers: 2, dropout: 0.4 },
  ];
  for (const v of variants) {
    const model = new Seq2Seq({ ...base, ...v }, new Rng(12));
    if (v.dropout !== undefined) model.eval();
    const grads = (): number[][] => model.parameters().map((p) => p.grad!.toArray());
    const fused = tidy(() => {
      model.zeroGrad();
      const out = model.forward(batch);
      backward(out.loss);
      return { loss: out.loss.item(), grads: grads(), weights: out.weights?.toArray() ?? [] };
    });
    const stepped = tidy(() => {
      model.zeroGrad();
      // The per-step path by hand: encode, then T = 5 steps fed bos and the gold tokens (eos past a target's end).
      let { encoded, state } = model.encode(batch.src);
      const fed = [[BOS, BOS, BOS], [4, 6, 7], [3, EOS, 7], [2, EOS, 0], [1, EOS, EOS]];
      const gold = [[4, 6, 7], [3, EOS, 7], [2, -100, 0], [1, -100, EOS], [EOS, -100, -100]];
      const logits = [];
      const weights: number[] = [];
      for (let t = 0; t < 5; t++) {
        const out = model.step(encoded, state, Int32Array.from(fed[t]));
        logits.push(out.logits);
        if (out.weights !== null) weights.push(...out.weights.toArray());
        state = out.state;
      }
      const loss = crossEntropy(stack(logits), Int32Array.from(gold.flat()));
      backward(loss);
      return { loss: loss.item(), grads: grads(), weights };
    });
    const what = JSON.stringify(v);
    assert.ok(Math.abs(fused.loss - stepped.loss) < 1e-5, `${what}: loss ${fused.loss} vs ${stepped.loss}`);
    assertClose(fused.weights, stepped.weights, 1e-5, `${what}: attention weights`);
    fused.grads.forEach((g, i) => assertClose(g, stepped.grads[i], 1e-4, `${what}: gradient of ${model.namedParameters()[i][0]}`));
  }
});

function assertClose(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const scale = Math.max(1, ...b.map(Math.abs));
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol * scale, `${what}[${i}]: ${x} vs ${b[i]}`));
}

test('scheduled sampling with ε = 0 and argmax feeds back exactly what greedy decoding picks', () => {
  for (const attention of seq2seqAttentionKinds) {
    const model = new Seq2Seq({ ...base, attention, ...(attention.startsWith('luong') ? { inputFeeding: true } : {}) }, new Rng(6));
    const inputs = tidy(() => Array.from(model.forward(batch, { teacherForcing: 0, feedback: 'argmax', rng: new Rng(1) }).inputs));
    const T = 5;
    const B = 3;
    const greedy = greedyDecode(model, batch.src, { maxLength: T });
    for (let b = 0; b < B; b++) {
      const fed = Array.from({ length: T - 1 }, (_, t) => inputs[(t + 1) * B + b]);
      const picked = [...greedy[b].tokens, ...(greedy[b].finished ? [EOS] : [])];
      assert.deepEqual(fed.slice(0, picked.length), picked.slice(0, T - 1), `${attention}, row ${b}`);
    }
  }
});

test('scheduled sampling with 0 < ε < 1 mixes gold and sampled tokens, reproducibly for a seed', () => {
  const model = new Seq2Seq({ ...base, attention: 'bahdanau' }, new Rng(2));
  const fed = (seed: number): number[] => tidy(() => Array.from(model.forward(batch, { teacherForcing: 0.5, rng: new Rng(seed) }).inputs));
  assert.deepEqual(fed(3), fed(3));
  const many = Array.from({ length: 8 }, (_, s) => fed(s).join(','));
  assert.ok(new Set(many).size > 1, 'different seeds feed different tokens');
});

test('teacher-forcing schedules as in Bengio et al. 2015', () => {
  const lin = { kind: 'linear', k: 1, c: 0.1, min: 0.25 } as const;
  assert.deepEqual([0, 1, 5, 7, 100].map((i) => teacherForcingProbability(lin, i)), [1, 1 - 0.1, 1 - 0.1 * 5, 1 - 0.1 * 7, 0.25]);
  assert.equal(teacherForcingProbability({ kind: 'exponential', k: 0.9 }, 3), 0.9 ** 3);
  const k = 10;
  assert.equal(teacherForcingProbability({ kind: 'inverse-sigmoid', k }, 20), k / (k + Math.exp(2)));
  assert.equal(teacherForcingProbability({ kind: 'inverse-sigmoid', k }, 1e6), 0);
  assert.equal(teacherForcingProbability({ kind: 'constant', p: 0.3 }, 9), 0.3);
  assert.throws(() => teacherForcingProbability({ kind: 'cosine' } as never, 0), /kind must be one of constant, linear, exponential, inverse-sigmoid, got "cosine"/);
  assert.throws(() => teacherForcingProbability({ kind: 'exponential', k: 1.5 }, 0), /'exponential': k must be in \(0, 1\), got 1.5/);
  assert.throws(() => teacherForcingProbability({ kind: 'exponential', k: 0.5, c: 1 } as never, 0), /unknown option "c"/);
  assert.throws(() => teacherForcingProbability({ kind: 'inverse-sigmoid', k: 0.5 }, 0), /k must be >= 1/);
  assert.throws(() => teacherForcingProbability({ kind: 'constant', p: 1 }, -1), /step must be a non-negative integer/);
});

/** Counts the uniforms drawn (dropout masks draw one per element), passing them through unchanged. */
class CountingRng extends Rng {
  draws = 0;
  override uniform(): number {
    this.draws++;
    return super.uniform();
  }
  override dropoutMask(out: Float32Array, p: number, keep: number, kernel?: MaskKernel): void {
    this.draws += out.length; // one draw per element, as the loop of uniform() calls it stands for
    super.dropoutMask(out, p, keep, kernel);
  }
}

test('dropout: gradients with the masks held fixed (the same generator state before every forward), fused and stepped paths', () => {
  const variants: Array<Partial<Seq2SeqConfig>> = [
    { attention: 'none', numLayers: 2 }, // fused
    { cell: 'lstm', attention: 'luong-general', bidirectional: true, numLayers: 2 }, // fused, Luong
    { cell: 'lstm', attention: 'luong-dot', inputFeeding: true }, // stepped, dropped h̃ fed back
    { cell: 'gru', attention: 'bahdanau', bidirectional: true, numLayers: 2 }, // stepped, [h; c] dropped
  ];
  for (const v of variants) {
    const rng = new Rng(7);
    const model = new Seq2Seq({ ...base, ...v, dropout: 0.3 }, rng);
    const masks = rng.getState();
    const loss = (): Tensor => {
      rng.setState(masks);
      return model.forward(batch).loss;
    };
    const what = `seq2seq dropout ${JSON.stringify(v)}`;
    // The check is of a dropped model: its training loss is not the eval-mode one.
    const train = tidy(() => loss().item());
    const evalLoss = tidy(() => model.eval().forward(batch).loss.item());
    model.train();
    assert.notEqual(train, evalLoss, `${what}: dropout changes the training loss`);
    gradcheck(what, loss, model.parameters(), { maxPerInput: 6 });
  }
});

test('dropout: one mask element per dropped value, in both paths (embeddings, between layers, the output layer\'s input)', () => {
  const B = 3;
  const S = 4; // longest source
  const T = 5; // longest target + eos
  const E = base.embeddingSize;
  const H = base.hiddenSize;
  const cases: Array<{ v: Partial<Seq2SeqConfig>; head: number }> = [
    { v: { attention: 'none' }, head: H },
    { v: { attention: 'luong-general', bidirectional: true }, head: H }, // h̃_t
    { v: { attention: 'luong-general', inputFeeding: true }, head: H },
    { v: { attention: 'bahdanau', bidirectional: true }, head: H + 2 * H }, // [h_t; c_t]
  ];
  for (const { v, head } of cases) {
    for (const L of [1, 3]) {
      const dirs = v.bidirectional === true ? 2 : 1;
      const rng = new CountingRng(2);
      const model = new Seq2Seq({ ...base, ...v, numLayers: L, dropout: 0.5 }, rng);
      const want = B * S * E + (L - 1) * B * S * dirs * H // source embeddings; between encoder layers (padding included)
        + T * B * E + (L - 1) * T * B * H + T * B * head; // target embeddings; between decoder layers; the head's input
      const what = `${JSON.stringify(v)}, ${L} layers`;
      rng.draws = 0;
      tidy(() => model.forward(batch));
      assert.equal(rng.draws, want, `${what}: teacher forcing`);
      rng.draws = 0;
      // ε = 0 with argmax feedback steps one token at a time (and draws nothing for the feedback itself).
      tidy(() => model.forward(batch, { teacherForcing: 0, feedback: 'argmax', rng: new Rng(1) }));
      assert.equal(rng.draws, want, `${what}: stepped`);
      rng.draws = 0;
      tidy(() => model.eval().forward(batch));
      assert.equal(rng.draws, 0, `${what}: eval mode draws nothing`);
    }
  }
});

test('dropout: train and eval mode differ with p > 0 and agree with p = 0; eval mode is deterministic; decoding runs in eval mode', () => {
  const logits = (model: Seq2Seq, opts: object = {}): number[] => tidy(() => model.forward(batch, opts).logits.toArray());
  for (const attention of seq2seqAttentionKinds) {
    const v: Partial<Seq2SeqConfig> = { cell: 'lstm', attention, numLayers: 2, ...(attention === 'luong-general' ? { inputFeeding: true } : {}) };
    const plain = new Seq2Seq({ ...base, ...v }, new Rng(5));
    assert.equal(plain.config.dropout, 0, 'the default');
    assert.deepEqual(logits(plain), logits(plain.eval()), `${attention}: p = 0, train = eval`);

    const model = new Seq2Seq({ ...base, ...v, dropout: 0.3 }, new Rng(5));
    assert.equal(model.training, true);
    const t1 = logits(model);
    const t2 = logits(model);
    assert.notDeepEqual(t1, t2, `${attention}: fresh masks at each training forward`);
    model.eval();
    const e1 = logits(model);
    assert.notDeepEqual(t1, e1, `${attention}: train ≠ eval`);
    assert.deepEqual(logits(model), e1, `${attention}: eval mode is deterministic`);
    assert.deepEqual(logits(model, { teacherForcing: 0.5, rng: new Rng(4) }), logits(model, { teacherForcing: 0.5, rng: new Rng(4) }));
    // Same weights as the p = 0 model (same seed): in eval mode the same function.
    assert.deepEqual(e1, logits(plain), `${attention}: eval mode ignores dropout`);

    // Decoding a model left in training mode: eval mode for the search, training mode again after.
    const greedyEval = greedyDecode(model, batch.src, { maxLength: 6 });
    const beamEval = beamSearch(model, batch.src[0], { beamWidth: 3, maxLength: 6 });
    model.train();
    assert.deepEqual(greedyDecode(model, batch.src, { maxLength: 6 }), greedyEval, `${attention}: greedy`);
    assert.deepEqual(beamSearch(model, batch.src[0], { beamWidth: 3, maxLength: 6 }), beamEval, `${attention}: beam search`);
    beamSearch([model, model], batch.src[0], { beamWidth: 3, maxLength: 6 }); // a model twice in an ensemble
    assert.equal(model.training, true, 'the mode is restored');
    assert.equal(model.decoder.training, true, 'children too');
  }
});

test('bad input gets an error naming the problem', () => {
  const rng = new Rng(1);
  const model = new Seq2Seq({ ...base, attention: 'luong-general' }, rng);
  assert.throws(() => model.forward({ src: [[1, 2]], tgt: [[3, 12]] }), /Seq2Seq target: tgt\[0\]\[1\] = 12 is outside the vocabulary \[0, 12\)/);
  assert.throws(() => model.forward({ src: [[1, -1]], tgt: [[3]] }), /Seq2Seq source: src\[0\]\[1\] = -1 is outside the vocabulary \[0, 10\)/);
  assert.throws(() => model.forward({ src: [[1, 2], [3]], tgt: [[3], []] }), /tgt\[1\] is empty/);
  assert.throws(() => model.forward({ src: [[]], tgt: [[3]] }), /src\[0\] is empty/);
  assert.throws(() => model.forward({ src: [[1]], tgt: [] }), /tgt must be a non-empty array of sequences/);
  assert.throws(() => model.forward({ src: [[1]], tgt: [[1], [2]] }), /src must hold one sequence per target \(2\), got 1/);
  assert.throws(() => model.forward(batch, { teacherForcing: 0.5 }), /teacherForcing < 1 needs a seeded rng/);
  assert.throws(() => model.forward(batch, { teacherForcing: 1.5 }), /teacherForcing must be a probability in \[0, 1\], got 1.5/);
  assert.throws(() => model.forward(batch, { teacherFocring: 0.5 } as never), /Seq2Seq.forward options: unknown option "teacherFocring"/);
  assert.throws(() => model.forward(batch, { feedback: 'topk' } as never), /feedback must be 'sample' or 'argmax'/);
  assert.throws(() => new Seq2Seq({ ...base, dropuot: 0.1 } as never, rng), /Seq2Seq config: unknown option "dropuot"/);
  for (const p of [-0.1, 1, 1.5, NaN, '0.2', null]) {
    assert.throws(() => new Seq2Seq({ ...base, dropout: p } as never, rng), new RegExp(`Seq2Seq dropout must be a number in \\[0, 1\\), got ${String(p)}`));
  }
  assert.throws(() => new Seq2Seq({ ...base, attention: 'cosine' } as never, rng), /attention must be one of none, bahdanau, luong-dot, luong-general/);
  assert.throws(() => new Seq2Seq({ ...base, inputFeeding: true }, rng), /inputFeeding applies to Luong attention only/);
  assert.throws(() => new Seq2Seq({ ...base, attention: 'luong-dot', bidirectional: true }, rng), /'luong-dot' needs keySize = querySize/);
  assert.throws(() => new Seq2Seq({ ...base, eos: 12 }, rng), /eos must be a target id in \[0, 12\), got 12/);
  assert.throws(() => new Seq2Seq({ ...base, encoderHiddenSize: 0 }, rng), /encoderHiddenSize must be a positive integer, got 0/);
  assert.throws(() => new Seq2Seq({ ...base, attention: 'luong-dot', encoderHiddenSize: 4 }, rng), /'luong-dot' needs keySize = querySize/);
  assert.throws(() => new Seq2Seq({ ...base, cell: 'tree' } as never, rng), /cell must be one of/);
});

test('an encoder of its own width: bridged to the decoder, attention keys of dirs·H_e; the same width needs no bridge', () => {
  const shapes = (v: Partial<Seq2SeqConfig>): Record<string, number[]> =>
    Object.fromEntries(new Seq2Seq({ ...base, cell: 'lstm', attention: 'luong-general', ...v }, new Rng(1)).namedParameters().map(([n, p]) => [n, p.shape.slice()]));
  const narrow = shapes({ bidirectional: true, encoderHiddenSize: 3 });
  assert.deepEqual(narrow['encoder.weight_hh_l0'], [12, 3]);
  assert.deepEqual(narrow['bridge_h.weight'], [5, 6]);
  assert.deepEqual(narrow['bridge_c.weight'], [5, 6]);
  assert.deepEqual(narrow['attention.weight'], [5, 6]);
  assert.deepEqual(narrow['combine.weight'], [5, 11]);
  const uni = shapes({ encoderHiddenSize: 7 });
  assert.deepEqual(uni['bridge_h.weight'], [5, 7]);
  const same = shapes({ encoderHiddenSize: 5 });
  assert.equal(same['bridge_h.weight'], undefined);
  assert.deepEqual(same, shapes({}));
});

/** Reverse a string of 2–5 digits: src d_1..d_n, tgt d_n..d_1. */
function reverseBatch(rng: Rng, B: number): { src: number[][]; tgt: number[][] } {
  const src = Array.from({ length: B }, () => Array.from({ length: 2 + rng.int(4) }, () => rng.int(10)));
  return { src, tgt: src.map((s) => [...s].reverse()) };
}

test('a tiny attentional seq2seq learns to reverse digit strings (Adam, clipping, scheduled sampling)', () => {
  const rng = new Rng(12);
  const model = new Seq2Seq({ ...base, cell: 'gru', embeddingSize: 16, hiddenSize: 32, attention: 'bahdanau', bidirectional: true }, rng);
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 1e-2 });
  const t0 = performance.now();
  const steps = 200;
  let inUse5 = 0;
  for (let step = 0; step < steps; step++) {
    const eps = teacherForcingProbability({ kind: 'linear', k: 1, c: 1 / steps, min: 0.75 }, step);
    tidy(() => {
      const out = model.forward(reverseBatch(rng, 16), { teacherForcing: eps, feedback: 'argmax', rng });
      backward(out.loss);
    });
    clipGradNorm(params, 5);
    optimizerStep(optim, params);
    model.zeroGrad();
    if (step === 5) inUse5 = heap.stats().bytesInUse;
  }
  assert.equal(heap.stats().bytesInUse, inUse5, 'memory is flat from step to step');
  const test = reverseBatch(new Rng(99), 200);
  const hyps = greedyDecode(model, test.src, { maxLength: 8 });
  const correct = hyps.filter((h, i) => h.finished && h.tokens.join() === test.tgt[i].join()).length;
  const seconds = (performance.now() - t0) / 1000;
  console.log(`reverse: ${correct}/200 sequences exact after ${steps} steps in ${seconds.toFixed(1)} s`);
  assert.ok(correct >= 180, `only ${correct}/200 reversed exactly`);
  // The attention of the first output symbol is on the last source digit.
  const w = hyps[0].weights![0];
  assert.equal(w.length, test.src[0].length);
  assert.equal(w.indexOf(Math.max(...w)), test.src[0].length - 1);
});
