// The classifiers' ONNX graphs in ONNX Runtime against recurrent: every cell kind, two layers,
// bidirectional, every pooling, sequences of different lengths whose padding holds random ids; and the
// bag of words with every feature kind. Logits within 1e-5 of their largest magnitude.

import { test } from 'node:test';
import { BagOfWordsClassifier, bowFeatureKinds } from '../src/nn/bag-of-words-classifier.js';
import { cellKinds } from '../src/nn/recurrent/index.js';
import { SequenceClassifier, poolKinds } from '../src/nn/sequence-classifier.js';
import { bagOfWordsToOnnx, sequenceClassifierToOnnx } from '../src/onnx/classifier-onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, int64, session } from './util/onnx-runtime.js';

const V = 9;
const C = 4;
const T = 6;
const lengths = [6, 2, 4, 1, 5];
const B = lengths.length;

for (const cell of cellKinds) {
  // MUT1 and MUT2 add their input to an H-wide gate, so a second layer cannot read 2H: bidirectional with one layer.
  const shapes = cell === 'mut1' || cell === 'mut2' ? [{ numLayers: 2, bidirectional: false }, { numLayers: 1, bidirectional: true }] : [{ numLayers: 2, bidirectional: true }];
  for (const shape of shapes) {
    test(`classifier (${cell}, ${shape.numLayers} layer${shape.numLayers > 1 ? 's' : ''}${shape.bidirectional ? ', bidirectional' : ''}): every pooling, variable lengths`, async () => {
      for (const pool of poolKinds) {
        const rng = new Rng(11);
        const model = new SequenceClassifier({ cell, vocabSize: V, hiddenSize: 5, numClasses: C, pool, ...shape }, rng).eval();
        const ids = Int32Array.from({ length: T * B }, () => rng.int(V)); // (T, B), random ids in the padding too
        const want = noGrad(() => tidy(() => model.forward(ids, T, B, lengths).data.slice())); // (B, C)
        const [graph] = sequenceClassifierToOnnx(model);
        const tokens = new Float64Array(B * T);
        for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) tokens[b * T + t] = ids[t * B + b];
        const out = await (await session(graph.bytes)).run({ tokens: int64(tokens, [B, T]), lengths: int64(lengths, [B]) });
        assertClose(out.logits, want, `${cell} pool ${pool} logits`, [B, C]);
        model.dispose();
      }
    });
  }
}

test('bag-of-words classifier: binary, count and log features over padded rows of word ids', async () => {
  const docs = [[0, 3, 3, 7], [5], [2, 2, 2, 2, 1, 8], [4, 4]];
  const N = 6;
  const Vw = 10;
  for (const features of bowFeatureKinds) {
    const model = new BagOfWordsClassifier({ vocabSize: Vw, numClasses: 3, features }, new Rng(2)).eval();
    const want = noGrad(() => tidy(() => model.forward(docs).data.slice()));
    const words = new Float64Array(docs.length * N).fill(9); // padding: a real word id, never counted
    docs.forEach((d, b) => d.forEach((w, i) => (words[b * N + i] = w)));
    const [graph] = bagOfWordsToOnnx(model);
    const out = await (await session(graph.bytes)).run({ words: int64(words, [docs.length, N]), lengths: int64(docs.map((d) => d.length), [docs.length]) });
    assertClose(out.logits, want, `bow ${features} logits`, [docs.length, 3]);
    model.dispose();
  }
});
