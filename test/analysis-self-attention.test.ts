// selfAttentionMap (src/analysis/self-attention.ts): a Transformer language model's causal self-attention,
// every layer and head: each row sums to 1, nothing above the diagonal, the weights each layer's own
// MultiheadAttention returns when the layers are run one by one, the head average its averaged weights;
// forwardWithWeights' logits are forward's; a text too long, empty or outside the vocabulary is an error.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selfAttentionMap } from '../src/analysis/self-attention.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { TransformerLanguageModel } from '../src/nn/transformer-language-model.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';

const TEXT = 'the cat sat';
const vocab = Vocabulary.fromText(TEXT);

function model(): TransformerLanguageModel {
  const m = new TransformerLanguageModel({ arch: 'transformer', vocabSize: vocab.size, dModel: 12, numLayers: 2, numHeads: 3, context: 11, dropout: 0.1, tieEmbeddings: true }, new Rng(4));
  // Weights of order 1, so that the heads attend unevenly (GPT-2's N(0, 0.02) would give near-uniform rows).
  const rng = new Rng(5);
  for (const p of m.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] += 0.5 * rng.normal();
  return m;
}

test('selfAttentionMap: rows of 1, causal zeros, each layer\'s own MultiheadAttention weights and their head average', () => {
  const m = model(); // in training mode: the map reads it in eval mode and leaves it as it was
  const map = selfAttentionMap(m, vocab, TEXT);
  assert.ok(m.training, 'the model is back in training mode');
  const T = TEXT.length;
  assert.deepEqual(map.chars, Array.from(TEXT));
  assert.equal(map.layers, 2);
  assert.equal(map.heads, 3);
  let uneven = 0;
  map.weights.forEach((heads, l) => heads.forEach((w, h) => {
    assert.equal(w.length, T * T);
    for (let i = 0; i < T; i++) {
      let sum = 0;
      for (let j = 0; j < T; j++) {
        if (j > i) assert.equal(w[i * T + j], 0, `layer ${l} head ${h}: query ${i} reads key ${j}, after it`);
        sum += w[i * T + j];
        uneven = Math.max(uneven, Math.abs(w[i * T + j] - (j <= i ? 1 / (i + 1) : 0)));
      }
      assert.ok(Math.abs(sum - 1) < 1e-5, `layer ${l} head ${h} row ${i} sums to ${sum}`);
    }
  }));
  assert.ok(uneven > 0.2, `the heads attend unevenly (largest distance from a uniform row ${uneven.toFixed(3)})`);

  // The layers run one by one, each one's attention asked for its weights directly.
  m.eval();
  noGrad(() => tidy(() => {
    const ids = vocab.encode(TEXT);
    let x = m.positions.forward(m.embedding.forward(ids, [T, 1])); // (T, 1, E)
    m.encoder.layers.forEach((layer, l) => {
      const h = layer.norm1.forward(x); // (T, 1, E)
      const per = layer.selfAttn.forward(h, h, h, { isCausal: true, averageAttnWeights: false }).weights!.data; // (1, heads, T, T)
      const avg = layer.selfAttn.forward(h, h, h, { isCausal: true }).weights!.data; // (1, T, T)
      for (let k = 0; k < 3 * T * T; k++) assert.equal(map.weights[l][Math.floor(k / (T * T))][k % (T * T)], per[k], `layer ${l}, weight ${k}`);
      for (let k = 0; k < T * T; k++) assert.ok(Math.abs(map.mean[l][k] - avg[k]) < 1e-6, `layer ${l} head average, weight ${k}`);
      x = layer.forward(x, { isCausal: true }); // (T, 1, E)
    });
    const plain = m.forward(ids, T, 1).logits.data;
    const withWeights = m.forwardWithWeights(ids, T, 1).logits.data;
    assert.deepEqual(withWeights, plain, 'forwardWithWeights gives forward\'s logits');
  }));
  m.dispose();
});

test('selfAttentionMap: a text longer than the context, an empty one or one outside the vocabulary is an error naming it', () => {
  const m = model();
  assert.throws(() => selfAttentionMap(m, vocab, `${TEXT}!`), /the text has 12 characters; this model reads at most 11 \(its context\)/);
  assert.throws(() => selfAttentionMap(m, vocab, ''), /the text is empty/);
  assert.throws(() => selfAttentionMap(m, vocab, 'the dog'), /the text/);
  m.dispose();
});
