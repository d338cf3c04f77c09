// Captioner (Show, Attend and Tell): finite-difference gradients through the grid attention, the gate β and
// the doubly stochastic penalty (into the annotations too), the penalty against its formula, the α of every
// word, decodeStep against the teacher-forced forward, decoding through the shared scorer (beam width 1 is
// greedy; the α come back with every word), Show and Tell, and bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beamSearch } from '../src/decode/beam-search.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { Captioner, type CaptionerConfig } from '../src/nn/captioner.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const BOS = 0;
const EOS = 1;
const L = 4; // a 2×2 grid
const D = 3;
const base: CaptionerConfig = { vocabSize: 6, embeddingSize: 4, hiddenSize: 5, annotationSize: D, gridCells: L, attention: 'soft', bos: BOS, eos: EOS };
const tgt = [[2, 3, 4, 5], [5], [3, 3, 2]];
const grids = (seed: number, B = 3): number[][] => {
  const rng = new Rng(seed);
  return Array.from({ length: B }, () => Array.from({ length: L * D }, () => rng.uniform() * 2 - 1));
};

/** The grids with δ added to cell 0 and taken from cell 1: other annotations, the same mean. */
function sameMean(g: number[][]): number[][] {
  return g.map((x) => x.map((v, j) => (j < D ? v + 0.8 : j < 2 * D ? v - 0.8 : v)));
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

test('gradients through the grid attention, β and the deep output, into every parameter and the annotations', () => {
  for (const attention of ['soft', 'none'] as const) {
    const model = new Captioner({ ...base, attention }, new Rng(3));
    const a = randomTensor(new Rng(4), [3, L, D]); // (B, L, D), requires grad
    gradcheck(`captioner ${attention}`, () => model.forward({ src: a, tgt }).loss, [...model.parameters(), a], { maxPerInput: 8 });
  }
});

test('the doubly stochastic penalty: its value is λ Σ_b Σ_i (1 − Σ_t α_ti)² / N over each caption\'s steps, and its gradient checks', () => {
  const model = new Captioner(base, new Rng(5));
  const a = randomTensor(new Rng(6), [3, L, D]);
  const lambda = 0.7;
  tidy(() => {
    const out = model.forward({ src: a, tgt }, { penalty: lambda });
    const T = 5;
    const w = out.weights!.data; // (T, B, L)
    let want = 0;
    tgt.forEach((caption, b) => {
      for (let i = 0; i < L; i++) {
        let s = 0;
        for (let t = 0; t <= caption.length; t++) s += w[(t * 3 + b) * L + i]; // eos is a step
        want += (1 - s) ** 2;
      }
    });
    want *= lambda / tgt.reduce((n, c) => n + c.length + 1, 0); // per scored word
    assert.ok(close(out.attentionPenalty!.item(), want, 1e-5), `penalty ${out.attentionPenalty!.item()} vs ${want}`);
    assert.ok(close(out.loss.item(), out.wordLoss.item() + want, 1e-5), 'loss = word loss + penalty');
    assert.deepEqual(out.weights!.shape, [T, 3, L]);
    for (let r = 0; r < T * 3; r++) {
      const rowSum = Array.from(w.subarray(r * L, (r + 1) * L)).reduce((x, y) => x + y, 0);
      assert.ok(close(rowSum, 1, 1e-5), `α of step/row ${r} sums to 1`);
    }
  });
  // The penalty alone, so its gradient is not hidden under the word loss.
  // (The output layers L_o, L_h, L_z do not reach α under teacher forcing.)
  const reachAlpha = model.namedParameters().filter(([k]) => !k.startsWith('out')).map(([, t]) => t);
  gradcheck('penalty', () => model.forward({ src: a, tgt }, { penalty: 2 }).attentionPenalty!, [...reachAlpha, a], { maxPerInput: 8 });
  // λ = 0 trains the words only but still reports the penalty's sum.
  tidy(() => {
    const out = model.forward({ src: a, tgt });
    assert.equal(out.loss.item(), out.wordLoss.item());
    assert.equal(out.attentionPenalty!.item(), 0);
  });
});

test('β gates the context: a gate of 0 (b_β → −∞) leaves the LSTM and the deep output without the image\'s context', () => {
  const model = new Captioner(base, new Rng(7));
  const p = new Map(model.namedParameters());
  const g8 = grids(8);
  gradcheck('β', () => {
    const { encoded, state } = model.encode(g8);
    return model.step(encoded, state, Int32Array.of(BOS, 2, 3)).beta!;
  }, [p.get('beta.weight')!, p.get('beta.bias')!, p.get('init_h.weight')!], { maxPerInput: 8 });
  const logitsOf = (src: number[][]): number[] => noGrad(() => tidy(() => {
    const { encoded, state } = model.encode(src);
    return model.step(encoded, state, Int32Array.of(BOS, 2, 3)).logits.toArray();
  }));
  p.get('beta.bias')!.data[0] = -1e4; // β = σ(−1e4) = 0
  p.get('beta.weight')!.data.fill(0);
  // Same mean annotation (h_0, c_0), different cells: only the attended context could tell them apart.
  const g = grids(9);
  const swapped = sameMean(g);
  logitsOf(g).forEach((v, i) => assert.ok(close(v, logitsOf(swapped)[i], 1e-5), `logit ${i} sees only the mean annotation with β = 0`));
  p.get('beta.bias')!.data[0] = 1e4; // β = 1
  assert.ok(logitsOf(g).some((v, i) => Math.abs(v - logitsOf(swapped)[i]) > 1e-4), 'with β = 1 the cells themselves matter');
});

test('decodeStep, fed the gold words, gives the teacher-forced forward\'s logits and α', () => {
  for (const attention of ['soft', 'none'] as const) {
    const model = new Captioner({ ...base, attention }, new Rng(11));
    const src = grids(12);
    noGrad(() => tidy(() => {
      const out = model.forward({ src, tgt });
      const V = base.vocabSize;
      const B = 3;
      const T = 5;
      let { encoded, state } = model.encode(src);
      for (let t = 0; t < T; t++) {
        const prev = Int32Array.from({ length: B }, (_, b) => out.inputs[t * B + b]);
        const s = model.decodeStep(encoded, state, prev);
        state = s.state;
        for (let k = 0; k < B * V; k++) assert.ok(close(s.logits.data[k], out.logits.data[t * B * V + k], 1e-5), `${attention} logits[${t}][${k}]`);
        if (attention === 'soft') for (let k = 0; k < B * L; k++) assert.ok(close(s.weights!.data[k], out.weights!.data[t * B * L + k], 1e-5), `α[${t}][${k}]`);
        else assert.equal(s.weights, null);
      }
      void encoded;
    }));
  }
});

test('greedy, beam search (width 1 is greedy) and ensembles decode it, with the α of every word', () => {
  const model = new Captioner(base, new Rng(13));
  const src = grids(14);
  const greedy = greedyDecode(model, src, { maxLength: 6 });
  src.forEach((s, i) => {
    const [beam] = beamSearch(model, s, { beamWidth: 1, maxLength: 6 });
    assert.deepEqual(beam.tokens, greedy[i].tokens);
    assert.ok(close(beam.logProb, greedy[i].logProb, 1e-6));
    const words = greedy[i].tokens.length + (greedy[i].finished ? 1 : 0);
    assert.equal(greedy[i].weights!.length, words, 'one α per word produced');
    for (const w of greedy[i].weights!) {
      assert.equal(w.length, L);
      assert.ok(close(w.reduce((x, y) => x + y, 0), 1, 1e-5));
    }
  });
  const twin = new Captioner(base, new Rng(13));
  greedyDecode([model, twin], src, { maxLength: 6 }).forEach((h, i) => assert.deepEqual(h.tokens, greedy[i].tokens, 'an ensemble of two identical models is the model'));
  const none = new Captioner({ ...base, attention: 'none' }, new Rng(13));
  assert.equal(greedyDecode(none, src, { maxLength: 4 })[0].weights, null);
});

test('Show and Tell: the mean annotation sets h_0, c_0 and the parameters are the ones documented', () => {
  const names = (m: Captioner): string[] => m.namedParameters().map(([k]) => k);
  assert.deepEqual(names(new Captioner({ ...base, attention: 'none' }, new Rng(1))), [
    'embedding.weight', 'init_h.weight', 'init_h.bias', 'init_c.weight', 'init_c.bias',
    'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'out_h.weight', 'out_h.bias', 'out.weight', 'out.bias',
  ]);
  const soft = new Map(new Captioner(base, new Rng(1)).namedParameters().map(([k, t]) => [k, t.shape]));
  assert.deepEqual(soft.get('rnn.weight_ih_l0'), [20, 4 + D]);
  assert.deepEqual(soft.get('attention.key.weight'), [5, D]);
  assert.deepEqual(soft.get('beta.weight'), [1, 5]);
  assert.deepEqual(soft.get('out_z.weight'), [4, D]);
  // Grids with the same mean give Show and Tell the same logits: it sees only ā.
  const m = new Captioner({ ...base, attention: 'none' }, new Rng(2));
  const g = grids(3);
  const swapped = sameMean(g);
  const a = noGrad(() => tidy(() => m.forward({ src: g, tgt }).logits.toArray()));
  const b = noGrad(() => tidy(() => m.forward({ src: swapped, tgt }).logits.toArray()));
  a.forEach((v, i) => assert.ok(close(v, b[i], 1e-5)));
});

test('with an encoder the sources are images: the CNN makes the grid, gradients reach its weights, decoding reads pixels', () => {
  const { annotationSize: _d, gridCells: _l, ...noGrid } = base;
  const model = new Captioner({ ...noGrid, image: { channels: 3, height: 8, width: 8 }, encoder: { channels: [4, 3] } }, new Rng(21));
  assert.equal(model.config.gridCells, 4); // 8×8 → 2×2
  assert.equal(model.config.annotationSize, 3);
  const rng = new Rng(22);
  const images = Array.from({ length: 3 }, () => Float32Array.from({ length: 3 * 64 }, () => rng.uniform()));
  const conv = model.namedParameters().filter(([k]) => k.startsWith('encoder.conv1_1'));
  assert.equal(conv.length, 2, 'the encoder\'s parameters are the captioner\'s, under encoder.*');
  gradcheck('captioner with its encoder', () => model.forward({ src: images, tgt }).loss, conv.map(([, t]) => t), { maxPerInput: 6 });
  const [h] = greedyDecode(model, [images[0]], { maxLength: 4 });
  assert.equal(h.weights![0].length, 4);
});

test('bad input: one-line errors naming what is wrong', () => {
  const model = new Captioner(base, new Rng(1));
  const src = grids(2);
  assert.throws(() => model.forward({ src: [src[0].slice(1)], tgt: [[2]] }), /source 0 has 11 numbers, an annotation grid \(gridCells, annotationSize\) = \(4, 3\) has 12/);
  assert.throws(() => model.forward({ src, tgt: [[2], [], [3]] }), /tgt\[1\]/);
  assert.throws(() => model.forward({ src, tgt: [[2], [9], [3]] }), /outside the vocabulary/);
  assert.throws(() => model.forward({ src: src.slice(0, 2), tgt }), /one image per caption \(3\), got 2/);
  assert.throws(() => model.forward({ src, tgt }, { penalty: -1 }), /penalty must be a non-negative number/);
  assert.throws(() => new Captioner({ ...base, attention: 'none' }, new Rng(1)).forward({ src, tgt }, { penalty: 1 }), /needs attention 'soft'/);
  assert.throws(() => new Captioner({ ...base, attention: 'hard' as 'soft' }, new Rng(1)), /attention must be one of soft, none/);
  assert.throws(() => new Captioner({ ...base, attention: 'none', attentionSize: 3 }, new Rng(1)), /attentionSize applies to attention 'soft' only/);
  assert.throws(() => new Captioner({ ...base, image: { channels: 3, height: 8, width: 8 } }, new Rng(1)), /config.image and config.encoder go together/);
  const { annotationSize: _d, gridCells: _l, ...noGrid } = base;
  assert.throws(() => new Captioner(noGrid, new Rng(1)), /annotationSize is needed when the sources are annotation grids/);
  const img = { ...noGrid, image: { channels: 3, height: 8, width: 8 }, encoder: { channels: [4, 3] } };
  assert.throws(() => new Captioner({ ...img, gridCells: 5 }, new Rng(1)), /gridCells 5 disagrees with the encoder's 4 on 8×8 images/);
  assert.throws(() => new Captioner({ ...img, image: { channels: 3, height: 2, width: 8 } }, new Rng(1)), /smaller than the 4×4/);
  const withImages = new Captioner(img, new Rng(1));
  assert.throws(() => withImages.forward({ src: [new Float32Array(3 * 8 * 7)], tgt: [[2]] }), /source 0 has 168 numbers, an image \(channels, height, width\) = \(3, 8, 8\) has 192/);
  assert.throws(() => model.forward({ src: Tensor.from(new Float32Array(3 * L * D).fill(Number.NaN), [3, L, D]), tgt }), /not a finite number/);
});
