// ConditionedGenerator: gradients through the whole model (every conditioning mode, LSTM, GRU and an
// Elman cell, into the vector too), teacher forcing against the step-by-step scheduled-sampling path,
// decoding through the shared scorer (beam width 1 is greedy, ensembles), bad input, memory, and a
// tiny model that learns to spell the number a 5-bit code stands for.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward } from '../src/autograd/tape.js';
import { beamSearch } from '../src/decode/beam-search.js';
import { createScorer } from '../src/decode/ensemble.js';
import { greedyDecode, sampleDecode, type Hypothesis } from '../src/decode/greedy.js';
import { ConditionedGenerator, conditioningKinds, type ConditionedGeneratorConfig } from '../src/nn/conditioned-generator.js';
import { teacherForcingProbability } from '../src/nn/scheduled-sampling.js';
import { Seq2Seq } from '../src/nn/seq2seq.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { createOptimizer, optimizerStep } from '../src/optim/optimizer.js';
import { Rng } from '../src/random/rng.js';
import { heap } from '../src/tensor/heap.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const BOS = 0;
const EOS = 1;
const base: ConditionedGeneratorConfig = {
  cell: 'gru', vectorSize: 3, vocabSize: 6, embeddingSize: 4, hiddenSize: 5, conditioning: 'init', bos: BOS, eos: EOS,
};
const vectors = [[0.5, -1, 0.25], [1, 0, -0.5], [-0.75, 0.5, 1]];
const batch = { vectors, tgt: [[2, 3, 4, 5], [5], [3, 3, 2]] };

function models(): ConditionedGenerator[] {
  return conditioningKinds.flatMap((conditioning, i) => [
    new ConditionedGenerator({ ...base, conditioning }, new Rng(10 + i)),
    new ConditionedGenerator({ ...base, cell: 'lstm', conditioning, numLayers: 2 }, new Rng(20 + i)),
  ]);
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

function assertSameHyp(what: string, got: Hypothesis, want: Hypothesis, tol = 1e-6): void {
  assert.deepEqual(got.tokens, want.tokens, `${what}: tokens`);
  assert.equal(got.finished, want.finished, `${what}: finished`);
  assert.ok(close(got.logProb, want.logProb, tol), `${what}: logProb ${got.logProb} vs ${want.logProb}`);
  assert.equal(got.weights, null, `${what}: a generator has no attention weights`);
}

test('gradients of the loss, into every parameter and the vector, for each conditioning mode and cell', () => {
  const variants: Array<Partial<ConditionedGeneratorConfig>> = [
    ...conditioningKinds.flatMap((conditioning) => [{ conditioning, cell: 'lstm' as const }, { conditioning, cell: 'gru' as const }]),
    { conditioning: 'both', cell: 'lstm', numLayers: 2 },
    { conditioning: 'init', cell: 'gru', numLayers: 2 },
    { conditioning: 'every-step', cell: 'rnn_tanh' }, // h_t = tanh(W_ie e_t + W_hh h_{t-1} + W_iv v + b)
  ];
  for (const v of variants) {
    const model = new ConditionedGenerator({ ...base, ...v }, new Rng(3));
    const vec = randomTensor(new Rng(4), [3, base.vectorSize]); // (B, Dv), requires grad
    gradcheck(`generator ${JSON.stringify(v)}`, () => model.forward({ vectors: vec, tgt: batch.tgt }).loss, [...model.parameters(), vec], { maxPerInput: 6 });
  }
});

test('the parameters: PyTorch names and shapes, [W_ie | W_iv] in the first layer under every-step', () => {
  const shapes = (m: ConditionedGenerator): Record<string, number[]> => Object.fromEntries(m.namedParameters().map(([k, t]) => [k, [...t.shape]]));
  const lstm = shapes(new ConditionedGenerator({ ...base, cell: 'lstm', conditioning: 'both', numLayers: 2 }, new Rng(1)));
  assert.deepEqual(lstm, {
    'embedding.weight': [6, 4], 'init_h.weight': [10, 3], 'init_h.bias': [10], 'init_c.weight': [10, 3], 'init_c.bias': [10],
    'rnn.weight_ih_l0': [20, 7], 'rnn.weight_hh_l0': [20, 5], 'rnn.bias_ih_l0': [20], 'rnn.bias_hh_l0': [20],
    'rnn.weight_ih_l1': [20, 5], 'rnn.weight_hh_l1': [20, 5], 'rnn.bias_ih_l1': [20], 'rnn.bias_hh_l1': [20],
    'head.weight': [6, 5], 'head.bias': [6],
  });
  const gru = shapes(new ConditionedGenerator({ ...base, conditioning: 'every-step' }, new Rng(1)));
  assert.deepEqual(Object.keys(gru), ['embedding.weight', 'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'head.weight', 'head.bias']);
  assert.deepEqual(gru['rnn.weight_ih_l0'], [15, 7]);
  // 'init': h_0 = tanh(W_h v + b_h), layer by layer; an LSTM's c_0 = W_c v + b_c, unsquashed.
  const m = new ConditionedGenerator({ ...base, cell: 'lstm', numLayers: 2 }, new Rng(2));
  noGrad(() => tidy(() => {
    const { state } = m.encode([vectors[0]]);
    const p = new Map(m.namedParameters());
    const affine = (name: string, row: number): number => {
      const w = p.get(`${name}.weight`)!.data;
      let s = p.get(`${name}.bias`)!.data[row];
      for (let j = 0; j < 3; j++) s += w[row * 3 + j] * vectors[0][j];
      return s;
    };
    for (let l = 0; l < 2; l++) {
      for (let j = 0; j < 5; j++) {
        assert.ok(close(state.h.data[l * 5 + j], Math.tanh(affine('init_h', l * 5 + j)), 1e-6), `h0[${l}][${j}]`);
        assert.ok(close(state.c!.data[l * 5 + j], affine('init_c', l * 5 + j), 1e-6), `c0[${l}][${j}]`);
      }
    }
  }));
});

test('scheduled sampling at ε = 1 is teacher forcing: same outputs and gradients, no random draws; ε just below 1 steps one token at a time to the same result', () => {
  const one = teacherForcingProbability({ kind: 'inverse-sigmoid', k: 1e9 }, 0); // k / (k + e^0) = 1 − 1e-9
  assert.ok(one < 1, 'inverse-sigmoid at step 0 is just below 1, so it takes the step-by-step path');
  const exactOne = teacherForcingProbability({ kind: 'exponential', k: 0.5 }, 0);
  assert.equal(exactOne, 1);
  for (const m of models()) {
    const what = `${m.config.cell} ${m.config.conditioning} L=${m.config.numLayers}`;
    const run = (opts: object): { logits: number[]; loss: number; grads: number[][]; inputs: number[] } => tidy(() => {
      m.zeroGrad();
      const out = m.forward(batch, opts);
      backward(out.loss);
      return { logits: out.logits.toArray(), loss: out.loss.item(), grads: m.parameters().map((p) => p.grad!.toArray()), inputs: Array.from(out.inputs) };
    });
    const forced = run({});
    const rng = new Rng(8);
    const before = rng.getState();
    assert.deepEqual(run({ teacherForcing: exactOne, feedback: 'sample', rng }), forced, what);
    assert.deepEqual(rng.getState(), before, `${what}: no random number drawn at ε = 1`);
    // The step-by-step path: one coin per row and step (all gold with this ε), the same function.
    const stepped = run({ teacherForcing: one, feedback: 'sample', rng });
    assert.notDeepEqual(rng.getState(), before, `${what}: the step-by-step path flipped its coins`);
    assert.deepEqual(stepped.inputs, forced.inputs, `${what}: gold fed at every step`);
    assert.ok(close(stepped.loss, forced.loss, 1e-5), `${what}: loss ${stepped.loss} vs ${forced.loss}`);
    // Past a target's end the fused layer outputs 0 (head bias only), the stepped one keeps going: unscored, so compare the scored rows.
    const T = 5;
    const B = 3;
    const V = base.vocabSize;
    const lengths = batch.tgt.map((s) => s.length + 1);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        if (t >= lengths[b]) continue;
        for (let j = 0; j < V; j++) {
          const k = (t * B + b) * V + j;
          assert.ok(close(stepped.logits[k], forced.logits[k], 1e-5), `${what}: logits[${t}, ${b}, ${j}]`);
        }
      }
    }
    stepped.grads.forEach((g, i) => g.forEach((x, j) => assert.ok(Math.abs(x - forced.grads[i][j]) < 1e-5, `${what}: grad ${i}[${j}] ${x} vs ${forced.grads[i][j]}`)));
  }
});

test('scheduled sampling at ε = 0 with argmax feeds back exactly what greedy decoding picks', () => {
  for (const m of models()) {
    const inputs = tidy(() => Array.from(m.forward(batch, { teacherForcing: 0, feedback: 'argmax', rng: new Rng(1) }).inputs));
    const T = 5;
    const B = 3;
    const greedy = greedyDecode(m, vectors, { maxLength: T });
    for (let b = 0; b < B; b++) {
      const fed = Array.from({ length: T - 1 }, (_, t) => inputs[(t + 1) * B + b]);
      const picked = [...greedy[b].tokens, ...(greedy[b].finished ? [EOS] : [])];
      assert.deepEqual(fed.slice(0, picked.length), picked.slice(0, T - 1), `${m.config.cell} ${m.config.conditioning}, row ${b}`);
    }
  }
});

test('scheduled sampling with 0 < ε < 1 mixes gold and sampled tokens, reproducibly for a seed', () => {
  const m = new ConditionedGenerator({ ...base, conditioning: 'both' }, new Rng(2));
  const fed = (seed: number): string => tidy(() => Array.from(m.forward(batch, { teacherForcing: 0.5, rng: new Rng(seed) }).inputs).join());
  assert.equal(fed(3), fed(3));
  assert.ok(new Set(Array.from({ length: 8 }, (_, s) => fed(s))).size > 1, 'different seeds feed different tokens');
});

test('beam search of width 1 is greedy decoding; an ensemble of one is the model; sampling is seeded', () => {
  for (const m of models()) {
    const what = `${m.config.cell} ${m.config.conditioning}`;
    for (const maxLength of [1, 4, 8]) {
      const greedy = greedyDecode(m, vectors, { maxLength });
      vectors.forEach((v, i) => {
        const [beam] = beamSearch(m, v, { beamWidth: 1, maxLength });
        assertSameHyp(`${what} maxLength ${maxLength} vector ${i}`, beam, greedy[i]);
      });
      greedyDecode([m], vectors, { maxLength }).forEach((h, i) => assertSameHyp(`${what} ensemble of one, greedy ${i}`, h, greedy[i]));
    }
    const s1 = sampleDecode(m, vectors, { maxLength: 6, temperature: 0.9, topK: 4, topP: 0.95 }, new Rng(5));
    const s2 = sampleDecode([m], vectors, { maxLength: 6, temperature: 0.9, topK: 4, topP: 0.95 }, new Rng(5));
    s1.forEach((h, i) => assertSameHyp(`${what} sample ${i}`, s2[i], h));
    const b1 = beamSearch(m, vectors[2], { beamWidth: 3, maxLength: 6, nBest: 3 });
    const b2 = beamSearch([m], vectors[2], { beamWidth: 3, maxLength: 6, nBest: 3 });
    b1.forEach((h, i) => assertSameHyp(`${what} beam ${i}`, b2[i], h));
  }
});

/** log p(tokens, then eos | v), stepped by hand through the model (not the scorer). */
function sequenceLogProb(m: ConditionedGenerator, v: number[], tokens: number[]): number {
  return noGrad(() => tidy(() => {
    const { encoded, state: s0 } = m.encode([v]);
    let state = s0;
    let lp = 0;
    let prev = m.config.bos;
    for (const next of [...tokens, m.config.eos]) {
      const out = m.step(encoded, state, Int32Array.of(prev));
      const row = Array.from(out.logits.data);
      const max = Math.max(...row);
      lp += row[next] - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      state = out.state;
      prev = next;
    }
    return lp;
  }));
}

test('a beam that keeps every prefix is exhaustive search; ensembles average probabilities', () => {
  const m = new ConditionedGenerator({ ...base, cell: 'lstm', conditioning: 'both', vocabSize: 4 }, new Rng(7));
  const V = 4;
  const all: number[][] = [[]];
  for (let len = 1; len < 3; len++) for (const s of all.filter((x) => x.length === len - 1)) for (let v = 0; v < V; v++) if (v !== EOS) all.push([...s, v]);
  const want = all.map((tokens) => sequenceLogProb(m, vectors[1], tokens) / (tokens.length + 1)).sort((a, b) => b - a);
  const got = beamSearch(m, vectors[1], { beamWidth: 64, maxLength: 3, nBest: all.length });
  assert.equal(got.length, all.length);
  got.forEach((h, i) => {
    assert.ok(h.finished);
    assert.ok(close(h.score, want[i], 1e-6), `#${i}: score ${h.score} vs ${want[i]}`);
    assert.ok(close(h.logProb, sequenceLogProb(m, vectors[1], h.tokens), 1e-6));
  });
  // Members of an ensemble may differ in cell, sizes and conditioning.
  const ms = [m, new ConditionedGenerator({ ...base, vocabSize: 4, conditioning: 'init', hiddenSize: 3 }, new Rng(8))];
  const first = (x: ConditionedGenerator | ConditionedGenerator[]): Float64Array => noGrad(() => tidy(() => {
    const s = createScorer(x);
    return s.step(s.start(vectors), new Int32Array(3).fill(BOS)).logProbs;
  }));
  const [a, b] = ms.map((x) => first(x));
  first(ms).forEach((lp, k) => assert.ok(close(lp, Math.log((Math.exp(a[k]) + Math.exp(b[k])) / 2), 1e-12)));
  const nbest = beamSearch(ms, vectors[0], { beamWidth: 4, maxLength: 5, nBest: 4 });
  for (let i = 1; i < nbest.length; i++) assert.ok(nbest[i - 1].score >= nbest[i].score);
});

test('bad input gets an error naming the problem', () => {
  const rng = new Rng(1);
  const m = new ConditionedGenerator(base, rng);
  assert.throws(() => m.forward({ vectors, tgt: [[2], [6], [3]] }), /ConditionedGenerator target: tgt\[1\]\[0\] = 6 is outside the vocabulary \[0, 6\)/);
  assert.throws(() => m.forward({ vectors, tgt: [[2], [], [3]] }), /tgt\[1\] is empty/);
  assert.throws(() => m.forward({ vectors, tgt: [] }), /tgt must be a non-empty array of sequences, got an empty array/);
  assert.throws(() => m.forward({ vectors: vectors.slice(0, 2), tgt: batch.tgt }), /vectors must hold one vector per target \(3\), got 2/);
  assert.throws(() => m.forward({ vectors: [[1, 2], [3, 4, 5], [6, 7, 8]], tgt: batch.tgt }), /vectors\[0\] has 2 numbers, vectorSize is 3/);
  assert.throws(() => m.forward({ vectors: [[1, NaN, 2], [3, 4, 5], [6, 7, 8]], tgt: batch.tgt }), /vectors\[0\]\[1\] = NaN is not a finite number/);
  assert.throws(() => m.forward({ vectors: [], tgt: batch.tgt }), /vectors must be a non-empty array of vectors or a \(B, 3\) tensor, got an empty array/);
  assert.throws(() => tidy(() => m.forward({ vectors: new Tensor([3, 4]), tgt: batch.tgt })), /a vectors tensor must have shape \(B, vectorSize = 3\) with B >= 1, got \[3, 4\]/);
  assert.throws(() => tidy(() => m.forward({ vectors: Tensor.from([0, 1, Infinity], [1, 3]), tgt: [[2]] })), /vectors\[0\]\[2\] = Infinity is not a finite number/);
  assert.throws(() => m.forward({ vectors, tgt: batch.tgt, src: [] } as never), /ConditionedGenerator.forward batch: unknown option "src"/);
  assert.throws(() => m.forward(batch, { teacherForcing: 0.5 }), /teacherForcing < 1 needs a seeded rng/);
  assert.throws(() => m.forward(batch, { teacherForcing: -0.1 }), /teacherForcing must be a probability in \[0, 1\], got -0.1/);
  assert.throws(() => m.forward(batch, { feedback: 'beam' } as never), /feedback must be 'sample' or 'argmax', got "beam"/);
  assert.throws(() => m.forward(batch, { teacherFocring: 0.5 } as never), /ConditionedGenerator.forward options: unknown option "teacherFocring"/);
  assert.throws(() => tidy(() => { const { encoded, state } = m.encode(vectors); m.step(encoded, state, Int32Array.of(0, 1)); }), /step: prev must be an Int32Array of 3 previous tokens, got 2/);
  assert.throws(() => tidy(() => { const { encoded, state } = m.encode(vectors); m.step(encoded, state, Int32Array.of(0, 9, 1)); }), /previous token 9 of row 1 is outside the vocabulary \[0, 6\)/);
  assert.throws(() => new ConditionedGenerator({ ...base, dropout: 0.1 } as never, rng), /ConditionedGenerator config: unknown option "dropout"/);
  assert.throws(() => new ConditionedGenerator({ ...base, conditioning: 'first-step' } as never, rng), /conditioning must be one of init, every-step, both, got "first-step"/);
  assert.throws(() => new ConditionedGenerator({ ...base, conditioning: undefined } as never, rng), /conditioning must be one of init, every-step, both, got undefined/);
  assert.throws(() => new ConditionedGenerator({ ...base, vectorSize: 0 }, rng), /vectorSize must be a positive integer, got 0/);
  assert.throws(() => new ConditionedGenerator({ ...base, numLayers: 1.5 }, rng), /numLayers must be a positive integer, got 1.5/);
  assert.throws(() => new ConditionedGenerator({ ...base, eos: 6 }, rng), /eos must be an id in \[0, vocabSize = 6\), got 6/);
  assert.throws(() => new ConditionedGenerator({ ...base, cell: 'tree' } as never, rng), /cell must be one of/);
  assert.throws(() => new ConditionedGenerator({ ...base, cell: 'mut1', conditioning: 'every-step', hiddenSize: 4 }, rng),
    /cell 'mut1' needs its step input \(embeddingSize 4 \+ vectorSize 3 under 'every-step' conditioning = 7\) to equal hiddenSize 4/);
  assert.doesNotThrow(() => new ConditionedGenerator({ ...base, cell: 'mut1', conditioning: 'init', hiddenSize: 4 }, rng));
  // Decoding: wrong widths, and ensembles that cannot share a source.
  assert.throws(() => greedyDecode(m, [[1, 2]], { maxLength: 3 }), /vectors\[0\] has 2 numbers, vectorSize is 3/);
  assert.throws(() => beamSearch(m, [1, 2, 3, 4], { beamWidth: 2, maxLength: 3 }), /vectors\[0\] has 4 numbers/);
  assert.throws(() => greedyDecode([m, new ConditionedGenerator({ ...base, vectorSize: 4 }, rng)], vectors, { maxLength: 3 }), /ensemble: member 1 has vectorSize 4, member 0 has 3/);
  assert.throws(() => greedyDecode([m, new ConditionedGenerator({ ...base, eos: 2 }, rng)], vectors, { maxLength: 3 }), /ensemble: member 1 has eos 2, member 0 has 1/);
  const s2s = new Seq2Seq({ cell: 'gru', srcVocabSize: 6, tgtVocabSize: 6, embeddingSize: 4, hiddenSize: 5, bos: BOS, eos: EOS }, rng);
  assert.throws(() => greedyDecode([m, s2s], vectors, { maxLength: 3 }), /ensemble: member 1 is a Seq2Seq, member 0 is a ConditionedGenerator/);
  assert.throws(() => greedyDecode([m, {} as never], vectors, { maxLength: 3 }), /ensemble: member 1 must be a model that decodes step by step/);
});

test('decoding frees everything it makes; training memory is flat', () => {
  const ms = models();
  greedyDecode(ms[1], vectors, { maxLength: 4 }); // warm-up
  const before = heap.stats().bytesInUse;
  for (const m of ms) {
    greedyDecode(m, vectors, { maxLength: 5 });
    sampleDecode(m, vectors, { maxLength: 5 }, new Rng(3));
    beamSearch(m, vectors[0], { beamWidth: 3, maxLength: 5 });
  }
  beamSearch(ms.slice(0, 2), vectors[2], { beamWidth: 2, maxLength: 4 });
  assert.equal(heap.stats().bytesInUse, before);
});

// ---- Learning: spell the number that a 5-bit code stands for. ----
// Only the vector says which of 20 names to spell, so a model that ignored it could get at most 1/20
// right. The beam-search count is also the regression test for beam search's stopping rule: stopping as
// soon as K hypotheses had finished returned poor early-eos hypotheses here (14/20 with beamWidth 3).

const NAMES = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
  'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen',
];
const LETTERS = [...new Set(NAMES.join(''))].sort();
const spell = (n: number): number[] => [...NAMES[n]].map((ch) => 2 + LETTERS.indexOf(ch)); // 0 bos, 1 eos
const code = (n: number): number[] => Array.from({ length: 5 }, (_, k) => ((n >> k) & 1 ? 1 : -1)); // ±1 bits
const read = (ids: number[]): string => ids.map((i) => LETTERS[i - 2] ?? '?').join('');

for (const [cell, conditioning] of [['lstm', 'init'], ['gru', 'every-step'], ['gru', 'both']] as const) {
  test(`a ${cell} conditioned by '${conditioning}' learns to spell the number a 5-bit code stands for`, () => {
    const rng = new Rng(5);
    const model = new ConditionedGenerator({
      cell, vectorSize: 5, vocabSize: 2 + LETTERS.length, embeddingSize: 8, hiddenSize: 32, conditioning, bos: BOS, eos: EOS,
    }, rng);
    const params = model.namedParameters();
    const optim = createOptimizer('adam', params, { lr: 2e-2 });
    const t0 = performance.now();
    const steps = 150;
    let inUse5 = 0;
    for (let step = 0; step < steps; step++) {
      const ns = Array.from({ length: 16 }, () => rng.int(20));
      tidy(() => backward(model.forward({ vectors: ns.map(code), tgt: ns.map(spell) }).loss));
      clipGradNorm(params, 5);
      optimizerStep(optim, params);
      model.zeroGrad();
      if (step === 5) inUse5 = heap.stats().bytesInUse;
    }
    assert.equal(heap.stats().bytesInUse, inUse5, 'memory is flat from step to step');
    const all = NAMES.map((_, n) => n);
    const greedy = greedyDecode(model, all.map(code), { maxLength: 12 });
    const exact = greedy.filter((h, n) => h.finished && read(h.tokens) === NAMES[n]).length;
    const beams = all.map((n) => beamSearch(model, code(n), { beamWidth: 3, maxLength: 12 })[0]);
    const beam = beams.filter((h, n) => read(h.tokens) === NAMES[n]).length;
    const seconds = (performance.now() - t0) / 1000;
    console.log(`spell (${cell}, ${conditioning}): greedy ${exact}/20, beam ${beam}/20 exact after ${steps} steps in ${seconds.toFixed(1)} s; e.g. ${greedy.slice(12, 15).map((h) => read(h.tokens)).join(' ')}`);
    assert.ok(exact >= 19, `greedy spelled only ${exact}/20: ${greedy.map((h) => read(h.tokens)).join(' ')}`);
    assert.ok(beam >= 19, `beam search spelled only ${beam}/20`);
  });
}
