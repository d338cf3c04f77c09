// The analysis library (src/analysis/): activations recorded step by step equal the fused model's and a
// plain float64 LSTM/GRU written out here; the text features on small cases; the cell ranking finds a
// planted cell, and a model trained where quotes are easy grows a quote cell it finds; the span select,
// gate saturation; gradient flow against the fused layer restarted from each state (its h0 gradient)
// and against central differences; the unrolled "hello" and its task; the attention map; text bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropy, scale, select } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { attentionMap } from '../src/analysis/attention-map.js';
import { cellActivations, cellSeries, recurrentModel, topPredictions, type CellActivations } from '../src/analysis/cell-activations.js';
import { cellsOnSpan, rankCells } from '../src/analysis/cell-search.js';
import { gateSaturation } from '../src/analysis/gate-saturation.js';
import { gradientFlow, gradientFlowWindows } from '../src/analysis/gradient-flow.js';
import { regexFeature, textFeature } from '../src/analysis/text-features.js';
import { unrollSequence } from '../src/analysis/unroll.js';
import { decodeTextBytes } from '../src/data/text-bytes.js';
import { TokenVocabulary } from '../src/data/parallel-text.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { LanguageModel } from '../src/nn/language-model.js';
import type { CellKind } from '../src/nn/recurrent/index.js';
import { Seq2Seq } from '../src/nn/seq2seq.js';
import { Rng } from '../src/random/rng.js';
import { languageModelTask, languageModelFromConfig, type LanguageModelCheckpointConfig } from '../src/tasks/language-model.js';
import { oneSequenceTask } from '../src/tasks/one-sequence.js';
import { memoryStore } from '../src/train/checkpoint-store.js';
import { trainTask } from '../src/train/engine.js';
import { loadCheckpointWeights } from '../src/train/checkpoint-files.js';
import { Tensor, noGrad, tidy, untracked } from '../src/tensor/tensor.js';

const TEXT = 'the cat (sat) on "the mat"\nand [the {dog}] ran.\n"yes," said the cat.\n'.repeat(3);

function model(cell: CellKind, H: number, L: number, vocab: Vocabulary, seed = 3): LanguageModel {
  return new LanguageModel({ cell, vocabSize: vocab.size, hiddenSize: H, numLayers: L, dropout: 0 }, new Rng(seed));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** A plain float64 reading of the LSTM or GRU language model's recurrence, layer by layer: per step h, tanh(c) or null, and the σ gates. */
function plainRecurrence(m: LanguageModel, ids: Int32Array): { h: number[][][]; tc: number[][][] | null; gates: number[][][][] } {
  const { cell, hiddenSize: H, numLayers: L } = m.config;
  const p = new Map(m.namedParameters().map(([k, v]) => [k, Array.from(v.data)]));
  const E = p.get('embedding.weight')!;
  const mv = (W: number[], x: number[], rows: number, off: number): number[] =>
    Array.from({ length: rows }, (_, r) => x.reduce((s, xi, j) => s + W[(off + r) * x.length + j] * xi, 0));
  const h: number[][][] = []; // [t][l][j]
  const tc: number[][][] | null = cell === 'lstm' ? [] : null;
  const gates: number[][][][] = []; // [t][l][gate][j]
  let hs = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  let cs = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  for (const id of ids) {
    let x = E.slice(id * H, (id + 1) * H);
    const hNext: number[][] = [];
    const cNext: number[][] = [];
    const tcs: number[][] = [];
    const gs: number[][][] = [];
    for (let l = 0; l < L; l++) {
      const wih = p.get(`rnn.weight_ih_l${l}`)!;
      const whh = p.get(`rnn.weight_hh_l${l}`)!;
      const bih = p.get(`rnn.bias_ih_l${l}`)!;
      const bhh = p.get(`rnn.bias_hh_l${l}`)!;
      const G = cell === 'lstm' ? 4 : 3;
      const xi = mv(wih, x, G * H, 0).map((v, k) => v + bih[k]);
      const hh = mv(whh, hs[l], G * H, 0).map((v, k) => v + bhh[k]);
      const blk = (a: number[], k: number): number[] => a.slice(k * H, (k + 1) * H);
      if (cell === 'lstm') {
        const pre = xi.map((v, k) => v + hh[k]);
        const [i, f, g, o] = [0, 1, 2, 3].map((k) => blk(pre, k));
        const ig = i.map(sigmoid);
        const fg = f.map(sigmoid);
        const og = o.map(sigmoid);
        const c = fg.map((fj, j) => fj * cs[l][j] + ig[j] * Math.tanh(g[j]));
        const t = c.map(Math.tanh);
        hNext.push(og.map((oj, j) => oj * t[j]));
        cNext.push(c);
        tcs.push(t);
        gs.push([ig, fg, og]);
      } else {
        const r = blk(xi, 0).map((v, j) => sigmoid(v + hh[j]));
        const z = blk(xi, 1).map((v, j) => sigmoid(v + hh[H + j]));
        const n = blk(xi, 2).map((v, j) => Math.tanh(v + r[j] * hh[2 * H + j]));
        hNext.push(n.map((nj, j) => (1 - z[j]) * nj + z[j] * hs[l][j]));
        cNext.push([]);
        gs.push([r, z]);
      }
      x = hNext[l];
    }
    hs = hNext;
    cs = cNext;
    h.push(hs);
    tc?.push(tcs);
    gates.push(gs);
  }
  return { h, tc, gates };
}

for (const cell of ['lstm', 'gru'] as const) {
  test(`cellActivations (${cell}, 2 layers): h, tanh(c) and the gates after every character equal a plain float64 recurrence`, () => {
    const vocab = Vocabulary.fromText(TEXT);
    const m = model(cell, 5, 2, vocab);
    const text = TEXT.slice(0, 40);
    const acts = cellActivations(m, vocab, text, { gates: true, probs: true });
    const want = plainRecurrence(m, vocab.encode(text));
    assert.equal(acts.length, 40);
    assert.deepEqual(acts.gates!.map((g) => g.map((s) => s.name)), cell === 'lstm' ? [['i', 'f', 'o'], ['i', 'f', 'o']] : [['r', 'z'], ['r', 'z']]);
    let worst = 0;
    for (let t = 0; t < 40; t++) {
      for (let l = 0; l < 2; l++) {
        for (let j = 0; j < 5; j++) {
          worst = Math.max(worst, Math.abs(acts.h[l][t * 5 + j] - want.h[t][l][j]));
          if (want.tc !== null) worst = Math.max(worst, Math.abs(acts.tanhC![l][t * 5 + j] - want.tc[t][l][j]));
          acts.gates![l].forEach((g, k) => (worst = Math.max(worst, Math.abs(g.values[t * 5 + j] - want.gates[t][l][k][j]))));
        }
      }
    }
    assert.ok(worst < 1e-5, `worst difference ${worst}`);
    assert.equal(acts.tanhC === null, cell !== 'lstm');
    assert.deepEqual(Array.from(cellSeries(acts, { layer: 1, signal: 'h', unit: 3 })), Array.from({ length: 40 }, (_, t) => acts.h[1][t * 5 + 3]));
  });
}

test('cellActivations: the next-character distributions are the fused model\'s softmax over the same text', () => {
  const vocab = Vocabulary.fromText(TEXT);
  const m = model('lstm', 6, 2, vocab);
  const text = TEXT.slice(0, 30);
  const acts = cellActivations(m, vocab, text, { probs: true });
  const V = vocab.size;
  const logits = noGrad(() => tidy(() => m.forward(vocab.encode(text), 30, 1, null).logits.data.slice())); // (30, V)
  let worst = 0;
  for (let t = 0; t < 30; t++) {
    const row = logits.slice(t * V, (t + 1) * V);
    const max = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(acts.probs![t * V + i] - Math.exp(row[i] - max) / z));
  }
  assert.ok(worst < 1e-5, `worst difference ${worst}`);
  const top = topPredictions(acts, vocab, 7, 5);
  assert.equal(top.length, 5);
  assert.ok(top.every((p, i) => i === 0 || p.p <= top[i - 1].p));
  assert.throws(() => cellActivations(m, vocab, 'zebra!'), /the text to analyse has the character "z"/);
  assert.throws(() => cellSeries(acts, { layer: 2, signal: 'h', unit: 0 }), /layer must be an integer in \[0, 2\)/);
});

test('text features: quotes, brackets, line position, word starts and a regular expression, per code point', () => {
  const s = 'a "b c" (d[e]) x\nyz “q”';
  const chars = Array.from(s);
  const q = textFeature(s, 'quotes');
  assert.deepEqual(chars.filter((_, t) => q[t] === 1).join(''), '"b c“q');
  assert.deepEqual(Array.from(textFeature('(a[b)c]', 'brackets')), [1, 1, 2, 2, 1, 1, 0]);
  assert.deepEqual(Array.from(textFeature('ab\ncd', 'line-position')), [1, 2, 0, 1, 2]);
  assert.deepEqual(Array.from(textFeature('ab cd,e_f', 'word-start')), [1, 0, 0, 1, 0, 0, 1, 0, 0]);
  // Code points, not UTF-16 units: 😀 counts once.
  assert.deepEqual(Array.from(regexFeature('😀ab😀ab', 'ab')), [0, 1, 1, 0, 1, 1]);
  assert.deepEqual(Array.from(regexFeature('if (x) { y } if', '\\bif\\b')), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(regexFeature('aXa', 'x', 'i')), [0, 1, 0]);
  assert.throws(() => regexFeature('abc', '(a'), /the regular expression \/\(a\/ is invalid/);
  assert.throws(() => regexFeature('abc', 'a', 'g'), /flags may be i, m and s/);
});

/** Activations made up: `N` characters, 2 layers of H units, h and tanh(c), filled by `fill(layer, signal, t, j)`. */
function fakeActs(N: number, H: number, fill: (l: number, signal: 'h' | 'tanh_c', t: number, j: number) => number): CellActivations {
  const m = (l: number, s: 'h' | 'tanh_c') => Float32Array.from({ length: N * H }, (_, k) => fill(l, s, Math.floor(k / H), k % H));
  return {
    cell: 'lstm', layers: 2, hiddenSize: H, length: N, ids: new Int32Array(N),
    h: [m(0, 'h'), m(1, 'h')], tanhC: [m(0, 'tanh_c'), m(1, 'tanh_c')], gates: null, probs: null,
  };
}

test('rankCells: a planted cell comes first with r = ±1, the others near 0; a constant feature is an error', () => {
  const rng = new Rng(1);
  const N = 500;
  const feature = Float32Array.from({ length: N }, () => (rng.uniform() < 0.3 ? 1 : 0));
  const noise = Float32Array.from({ length: 2 * 2 * N * 8 }, () => rng.uniform() * 2 - 1);
  const acts = fakeActs(N, 8, (l, s, t, j) => (l === 1 && s === 'tanh_c' && j === 5 ? 0.2 - 0.5 * feature[t] : noise[((l * 2 + (s === 'h' ? 0 : 1)) * N + t) * 8 + j]));
  const ranked = rankCells(acts, feature);
  assert.equal(ranked.length, 32);
  assert.deepEqual({ ...ranked[0], r: Math.round(ranked[0].r * 1e6) / 1e6 }, { layer: 1, signal: 'tanh_c', unit: 5, r: -1 });
  assert.ok(Math.abs(ranked[1].r) < 0.2, `second best ${ranked[1].r}`);
  assert.equal(rankCells(acts, feature, 3).length, 3);
  assert.throws(() => rankCells(acts, new Float32Array(N).fill(2)), /same value at every character/);
  assert.throws(() => rankCells(acts, new Float32Array(3)), /3 values for a text of 500/);
});

test('a small LSTM trained where quotes decide the case grows a cell that tracks them (|r| >= 0.8), and rankCells finds it', async () => {
  const rng = new Rng(5);
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'said', 'dog', 'ran', 'far', 'to', 'see', 'it'];
  const quotes = (n: number): string => {
    let s = '';
    while (s.length < n) {
      for (let i = 2 + rng.int(5); i > 0; i--) s += `${words[rng.int(words.length)]} `;
      s += `"${Array.from({ length: 1 + rng.int(4) }, () => words[rng.int(words.length)].toUpperCase()).join(' ')}" `;
    }
    return s;
  };
  const task = languageModelTask(quotes(20000), 'quotes', { cell: 'lstm', hiddenSize: 16, numLayers: 1, seqLength: 32, batchSize: 16, sampleLength: 0 });
  const { task: trained } = await trainTask(task, { steps: 200, lr: 1e-2, evalEvery: 200 });
  const probe = quotes(3000);
  const acts = cellActivations(trained.model, trained.vocab, probe);
  const [best] = rankCells(acts, textFeature(probe, 'quotes'), 1);
  trained.model.dispose();
  assert.ok(Math.abs(best.r) >= 0.8, `best cell ${JSON.stringify(best)}`);
});

test('cellsOnSpan: the cells on across the span, the one rarely on elsewhere first, either sign; bad spans are errors', () => {
  const N = 100;
  // Layer 0 h unit 1: on (0.9) over [40, 50) only; unit 2: on everywhere; tanh_c unit 3: -0.8 over [35, 55); the rest 0.
  const acts = fakeActs(N, 4, (l, s, t, j) => {
    if (l !== 0) return 0;
    if (s === 'h' && j === 1) return t >= 40 && t < 50 ? 0.9 : 0.1;
    if (s === 'h' && j === 2) return 0.7;
    if (s === 'tanh_c' && j === 3) return t >= 35 && t < 55 ? -0.8 : 0;
    return 0;
  });
  const on = cellsOnSpan(acts, 42, 48, 0.5);
  assert.deepEqual(on.map((c) => [c.signal, c.unit, c.sign, Math.round(c.onOutside * 1000) / 1000]), [
    ['h', 1, 1, 0.043], // 4 of the 94 characters outside
    ['tanh_c', 3, -1, 0.149], // 14 of 94
    ['h', 2, 1, 1],
  ]);
  assert.equal(cellsOnSpan(acts, 42, 48, 0.95).length, 0);
  assert.throws(() => cellsOnSpan(acts, 50, 50, 0.5), /0 <= start < end <= 100/);
  assert.throws(() => cellsOnSpan(acts, 0, 5, 1.5), /threshold must be in \(0, 1\)/);
});

test('gateSaturation: per layer, gate and unit, the fractions below 0.1 and above 0.9', () => {
  const vocab = Vocabulary.fromText(TEXT);
  const m = model('lstm', 4, 2, vocab);
  const acts = cellActivations(m, vocab, TEXT, { gates: true });
  // Overwrite layer 1's forget gate: unit 0 always 0.05, unit 1 0.95 half the time, unit 2 0.5.
  const f = acts.gates![1][1].values;
  for (let t = 0; t < acts.length; t++) {
    f[t * 4] = 0.05;
    f[t * 4 + 1] = t % 2 === 0 ? 0.95 : 0.5;
    f[t * 4 + 2] = 0.5;
  }
  const sat = gateSaturation(acts);
  assert.deepEqual(sat.map((s) => `${s.layer}${s.gate}`), ['0i', '0f', '0o', '1i', '1f', '1o']);
  const lf = sat[4];
  assert.deepEqual([lf.left[0], lf.right[0], lf.left[2], lf.right[2]], [1, 0, 0, 0]);
  assert.ok(Math.abs(lf.right[1] - Math.ceil(acts.length / 2) / acts.length) < 1e-6);
  assert.ok(sat.every((s) => s.left.every((v, j) => v >= 0 && v + s.right[j] <= 1 + 1e-6)));
  assert.throws(() => gateSaturation(cellActivations(m, vocab, 'the cat')), /without gates/);
});

/**
 * The fused model restarted at state (h, c) = the states after step T-1-k of each window: its h0 (and c0)
 * gradient of Σ_b ℓ_b is ∂ℓ/∂h_{T-1-k} (∂ℓ/∂c_{T-1-k}); per layer the mean over the windows of the row norms.
 */
function restartedFlow(m: LanguageModel, ids: Int32Array, targets: Int32Array, T: number, B: number, k: number): { h: number[]; c: number[] | null } {
  const { hiddenSize: H, numLayers: L } = m.config;
  const norms = (g: Float32Array): number[] =>
    Array.from({ length: L }, (_, l) => {
      let s = 0;
      for (let b = 0; b < B; b++) s += Math.hypot(...g.subarray((l * B + b) * H, (l * B + b + 1) * H));
      return s / B;
    });
  const split = T - k; // steps 0..split-1 make the state; steps split..T-1 run from it
  const first = noGrad(() => tidy(() => {
    const { state } = m.forward(ids.subarray(0, split * B), split, B, null);
    return { h: state.h.data.slice(), c: state.c?.data.slice() ?? null };
  }));
  const h0 = untracked(() => Tensor.from(first.h, [L, B, H]));
  const c0 = first.c === null ? null : untracked(() => Tensor.from(first.c!, [L, B, H]));
  h0.requiresGrad = true;
  if (c0 !== null) c0.requiresGrad = true;
  tidy(() => {
    const last = k === 0 ? h0 : m.forward(ids.subarray(split * B), k, B, { h: h0, c: c0 }).state.h; // (L, B, H)
    const loss = crossEntropy(m.head.forward(select(last, L - 1)), targets); // the prediction after the window
    backward(scale(loss, B));
  });
  const out = { h: norms(h0.grad!.data), c: c0 === null ? null : c0.grad === null ? new Array<number>(L).fill(0) : norms(c0.grad.data) };
  h0.dispose();
  c0?.dispose();
  m.zeroGrad();
  return out;
}

/** The windows gradientFlow reads for `seed`: ids (T, B) time-major and the characters after them. */
function windows(vocab: Vocabulary, text: string, T: number, B: number, seed: number): { ids: Int32Array; targets: Int32Array } {
  const all = vocab.encode(text);
  const starts = gradientFlowWindows(all.length, T, B, new Rng(seed));
  const ids = new Int32Array(T * B);
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) ids[t * B + b] = all[s + t];
  });
  return { ids, targets: Int32Array.from(starts, (s) => all[s + T]) };
}

for (const cell of ['lstm', 'gru', 'rnn_tanh'] as const) {
  test(`gradientFlow (${cell}, 2 layers): every distance k equals the fused layer's h0 (and c0) gradient restarted from the state k steps back`, () => {
    const vocab = Vocabulary.fromText(TEXT);
    const m = model(cell, 6, 2, vocab, 7);
    const T = 12;
    const B = 4;
    const flow = gradientFlow(m, vocab, TEXT, new Rng(9), { length: T, windows: B });
    assert.equal(flow.h.length, 2);
    assert.equal(flow.h[0].length, T);
    assert.equal(flow.c === null, cell !== 'lstm');
    const { ids, targets } = windows(vocab, TEXT, T, B, 9);
    for (const k of [0, 1, 5, T - 1]) {
      const want = restartedFlow(m, ids, targets, T, B, k);
      for (let l = 0; l < 2; l++) {
        const got = flow.h[l][k];
        assert.ok(Math.abs(got - want.h[l]) <= 1e-4 * Math.max(1e-3, want.h[l]), `k ${k} layer ${l}: h ${got} against ${want.h[l]}`);
        if (flow.c !== null) assert.ok(Math.abs(flow.c[l][k] - want.c![l]) <= 1e-4 * Math.max(1e-3, want.c![l]), `k ${k} layer ${l}: c ${flow.c[l][k]} against ${want.c![l]}`);
      }
    }
    // Only the top layer's h is read at k = 0, and the cell state not at all.
    assert.equal(flow.h[0][0], 0);
    assert.ok(flow.h[1][0] > 0);
    if (flow.c !== null) assert.equal(flow.c[1][0], 0);
    assert.ok(m.namedParameters().every(([, p]) => p.grad === null || p.grad.data.every((v) => v === 0)), 'the parameters keep no gradient');
  });
}

test('gradientFlow: ‖∂ℓ/∂h_k‖ against central differences of the loss in every element of h_k (one window)', () => {
  const vocab = Vocabulary.fromText(TEXT);
  const m = model('lstm', 4, 1, vocab, 11);
  const T = 8;
  const flow = gradientFlow(m, vocab, TEXT, new Rng(2), { length: T, windows: 1 });
  const { ids, targets } = windows(vocab, TEXT, T, 1, 2);
  for (const k of [1, 4]) {
    const split = T - k;
    const state = noGrad(() => tidy(() => {
      const s = m.forward(ids.subarray(0, split), split, 1, null).state;
      return { h: s.h.data.slice(), c: s.c!.data.slice() };
    }));
    const lossFrom = (h: Float32Array): number => noGrad(() => tidy(() => {
      const h0 = Tensor.from(h, [1, 1, 4]);
      const c0 = Tensor.from(state.c, [1, 1, 4]);
      const last = m.forward(ids.subarray(split), k, 1, { h: h0, c: c0 }).state.h;
      return crossEntropy(m.head.forward(select(last, 0)), targets).item();
    }));
    const eps = 1e-2;
    let n2 = 0;
    for (let j = 0; j < 4; j++) {
      const up = state.h.slice();
      const down = state.h.slice();
      up[j] += eps;
      down[j] -= eps;
      n2 += ((lossFrom(up) - lossFrom(down)) / (2 * eps)) ** 2;
    }
    const numeric = Math.sqrt(n2);
    assert.ok(Math.abs(flow.h[0][k] - numeric) <= 2e-2 * numeric + 1e-5, `k ${k}: tape ${flow.h[0][k]}, differences ${numeric}`);
  }
  assert.throws(() => gradientFlow(m, vocab, 'the cat', new Rng(1), { length: 10 }), /7 characters: a window of 10 and the character after it need 11/);
});

test('the "hello" task trains through the engine to "hello", its checkpoint is a language model\'s, and unrollSequence shows every step forward and back', async () => {
  const store = memoryStore('hello');
  const { task } = await trainTask(oneSequenceTask('hello', { cell: 'rnn_tanh', hiddenSize: 3 }), { steps: 300, lr: 0.05, evalEvery: 100 }, { store });
  const { model: m, vocab } = task;
  assert.deepEqual(vocab.chars, ['e', 'h', 'l', 'o']);
  const un = unrollSequence(m, vocab, 'hello');
  assert.deepEqual(un.steps.map((s) => s.input + s.target), ['he', 'el', 'll', 'lo']);
  assert.ok(un.loss < 0.3, `loss ${un.loss}`);
  assert.ok(Math.abs(un.loss - un.steps.reduce((s, x) => s + x.loss, 0) / 4) < 1e-5);
  for (const s of un.steps) {
    assert.equal(s.h.length, 1);
    assert.equal(s.h[0].length, 3);
    assert.ok(Math.abs(s.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.ok(Math.abs(s.dScores.reduce((a, b) => a + b, 0)) < 1e-6, 'softmax gradients sum to 0');
  }
  // ∂L/∂h at the last step is W_hyᵀ ∂L/∂y there (nothing comes after it).
  const W = recurrentModel(m, 'hello').head.weight.data; // (V, H)
  const last = un.steps[3];
  for (let j = 0; j < 3; j++) {
    const want = last.dScores.reduce((s, d, v) => s + d * W[v * 3 + j], 0);
    assert.ok(Math.abs(last.dh[0][j] - want) < 1e-6, `dh[${j}] ${last.dh[0][j]} against ${want}`);
  }
  // The checkpoint loads as a language model (so `recurrent sample` reads it) and holds the same weights.
  const config = JSON.parse(new TextDecoder().decode(store.files.get('config.json')!)) as LanguageModelCheckpointConfig;
  const loaded = languageModelFromConfig(config, 'hello/config.json', new Rng(0));
  assert.equal(loadCheckpointWeights(loaded.model, store.files.get('model.safetensors')!, 'hello/model.safetensors', 'hello/config.json'), 300);
  assert.ok(Math.abs(unrollSequence(loaded.model, loaded.vocab, 'hello').loss - un.loss) < 1e-6);
  for (const x of [m, loaded.model]) x.dispose();
  assert.throws(() => oneSequenceTask('h'), /at least two characters/);
});

test('attentionMap: a row of weights over the source per output symbol, each summing to 1; unknown tokens are errors', () => {
  const src = new TokenVocabulary(['<s>', '</s>', 'a', 'b', 'c']);
  const tgt = new TokenVocabulary(['<s>', '</s>', 'x', 'y']);
  const m = new Seq2Seq({ cell: 'gru', srcVocabSize: 5, tgtVocabSize: 4, embeddingSize: 6, hiddenSize: 8, attention: 'luong-general', bos: 0, eos: 1 }, new Rng(4));
  const map = attentionMap(m, src, tgt, 'abca', 'char', 6);
  assert.deepEqual(map.source, ['a', 'b', 'c', 'a']);
  assert.equal(map.weights!.length, map.output.length);
  assert.ok(map.output.length >= 1 && map.output.length <= 6);
  assert.ok(map.weights!.every((w) => w.length === 4 && Math.abs(w.reduce((s, v) => s + v, 0) - 1) < 1e-5));
  assert.equal(map.finished, map.output.at(-1) === '</s>');
  assert.throws(() => attentionMap(m, src, tgt, 'abz', 'char'), /the source: the token "z"/);
  m.dispose();
});

test('decodeTextBytes: UTF-8 text; empty, binary and non-UTF-8 bytes are refused naming them', () => {
  assert.equal(decodeTextBytes(new TextEncoder().encode('héllo'), 'x'), 'héllo');
  assert.throws(() => decodeTextBytes(new Uint8Array(0), 'the dropped file a.txt'), /^Error: the dropped file a.txt is empty$/);
  assert.throws(() => decodeTextBytes(Uint8Array.from([104, 0, 105]), 'the dropped file a.bin'), /a.bin looks binary/);
  assert.throws(() => decodeTextBytes(Uint8Array.from({ length: 100 }, (_, i) => 0x80 + (i % 60)), 'f'), /f is not UTF-8 text/);
});
