// generateText's batch-1 path (packed weights, RecurrentStepper, no tape) against the definition: the
// model's own forward over the whole text so far, for every cell kind, greedy and sampled.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Vocabulary } from '../src/data/vocabulary.js';
import { generateText } from '../src/decode/generate.js';
import { sampleLogits, type SampleOptions } from '../src/decode/sample.js';
import { LanguageModel } from '../src/nn/language-model.js';
import { cellKinds } from '../src/nn/recurrent/cells.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';

/** The definition: re-run model.forward over prime + everything generated, sample from the last row. */
function slowGenerate(model: LanguageModel, vocab: Vocabulary, prime: string, length: number, opts: SampleOptions, rng: Rng): string {
  const ids = [...vocab.encode(prime, 'prime')];
  model.eval();
  for (let i = 0; i < length; i++) {
    const V = vocab.size;
    const last = noGrad(() => tidy(() => {
      const { logits } = model.forward(Int32Array.from(ids), ids.length, 1, null); // (T, V)
      return logits.data.slice((ids.length - 1) * V, ids.length * V);
    }));
    ids.push(sampleLogits(last, opts, rng));
  }
  model.train();
  return vocab.decode(Int32Array.from(ids));
}

const vocab = new Vocabulary([...'abcdefg \n']);
for (const cell of cellKinds) {
  test(`generateText (${cell}, 2 layers) equals re-running the model's forward`, () => {
    const model = new LanguageModel({ cell, vocabSize: vocab.size, hiddenSize: 6, numLayers: 2, dropout: 0.3 }, new Rng(5));
    for (const opts of [{ argmax: true }, { temperature: 0.9 }] as SampleOptions[]) {
      const fast = generateText(model, vocab, { ...opts, length: 12, prime: 'abc' }, new Rng(9));
      const slow = slowGenerate(model, vocab, 'abc', 12, opts, new Rng(9));
      assert.equal(fast, slow, JSON.stringify(opts));
    }
    assert.equal(model.training, true);
  });
}
