// The bag-of-words baseline: the word tokenizer and vocabulary, the exact feature values of each kind, a
// finite-difference check of the classifier's gradients (logits and the cross-entropy loss), and a toy
// task learned to high held-out accuracy (is a text's majority word "good" or "bad").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossEntropy } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { WordVocabulary, wordTokens } from '../src/data/word-vocabulary.js';
import { BagOfWordsClassifier, bagOfWords, bowFeatureKinds, type BagOfWordsClassifierConfig } from '../src/nn/bag-of-words-classifier.js';
import { createOptimizer, optimizerStep } from '../src/optim/optimizer.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck } from './util/gradcheck.js';

test('wordTokens: lower-cased runs of letters and digits, inner apostrophes kept', () => {
  assert.deepEqual(wordTokens("FREE money!!! Don't wait: $500 at www.Example.com 'now' café"), [
    'free', 'money', "don't", 'wait', '500', 'at', 'www', 'example', 'com', 'now', 'café',
  ]);
  assert.deepEqual(wordTokens(' \t!?-- '), []);
});

test('WordVocabulary: ranked by document frequency, ties by code unit, minDocuments and maxSize', () => {
  const texts = ['b a a a a', 'a c b', 'c d', 'b e'];
  // document frequencies: b 3, a 2, c 2, d 1, e 1 (the four a's of text 0 count once).
  assert.deepEqual(WordVocabulary.fromTexts(texts).words, ['b', 'a', 'c', 'd', 'e']);
  assert.deepEqual(WordVocabulary.fromTexts(texts, { minDocuments: 2 }).words, ['b', 'a', 'c']);
  assert.deepEqual(WordVocabulary.fromTexts(texts, { maxSize: 2 }).words, ['b', 'a']);
  const v = WordVocabulary.fromTexts(texts, { minDocuments: 2 });
  assert.deepEqual([...v.encode('A zebra, b; C c')], [1, 0, 2, 2]); // "zebra" is not in the table
  assert.equal(v.id('zebra'), -1);
  assert.throws(() => WordVocabulary.fromTexts(texts, { minDocuments: 0 }), /minDocuments must be a positive integer, got 0/);
  assert.throws(() => WordVocabulary.fromTexts(texts, { maxSize: 2.5 }), /maxSize must be a positive integer, got 2.5/);
  assert.throws(() => WordVocabulary.fromTexts(texts, { minCount: 2 } as never), /unknown option "minCount"/);
  assert.throws(() => new WordVocabulary(['a', 'a']), /repeated words/);
  assert.throws(() => new WordVocabulary(['Hello']), /"Hello" is not a word token/);
  assert.throws(() => new WordVocabulary(['two words']), /"two words" is not a word token/);
});

test('bagOfWords: count, binary and log features of each text', () => {
  const docs = [Int32Array.from([0, 2, 2, 2]), Int32Array.from([]), Int32Array.from([1])];
  assert.deepEqual(bagOfWords(docs, 3, 'count').toArray(), [1, 0, 3, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(bagOfWords(docs, 3, 'binary').toArray(), [1, 0, 1, 0, 0, 0, 0, 1, 0]);
  const log = bagOfWords(docs, 3, 'log').toArray();
  [Math.log(2), 0, Math.log(4), 0, 0, 0, 0, Math.log(2), 0].forEach((v, i) => assert.ok(Math.abs(log[i] - v) < 1e-6, `log[${i}] = ${log[i]}, expected ${v}`));
  assert.throws(() => bagOfWords([Int32Array.from([3])], 3, 'count'), /text 0 has word id 3 at 0, outside \[0, V = 3\)/);
  assert.throws(() => bagOfWords([], 3, 'count'), /no texts/);
});

test('BagOfWordsClassifier: gradcheck of the logits and of the cross-entropy loss', () => {
  const docs = [Int32Array.from([0, 1, 1, 5]), Int32Array.from([2, 3]), Int32Array.from([]), Int32Array.from([4, 4, 4, 0])];
  for (const features of bowFeatureKinds) {
    const model = new BagOfWordsClassifier({ vocabSize: 6, numClasses: 3, features }, new Rng(3));
    gradcheck(`bow ${features} logits`, () => model.forward(docs), model.parameters(), { maxPerInput: 18 });
    const targets = Int32Array.from([2, 0, 1, 1]);
    gradcheck(`bow ${features} loss`, () => crossEntropy(model.forward(docs), targets), model.parameters(), { maxPerInput: 18 });
    model.dispose();
  }
});

test('BagOfWordsClassifier: configs are checked', () => {
  const rng = new Rng(1);
  assert.throws(() => new BagOfWordsClassifier({ vocabSize: 4, numClasses: 2, feature: 'log' } as BagOfWordsClassifierConfig, rng), /unknown option "feature"/);
  assert.throws(() => new BagOfWordsClassifier({ vocabSize: 4, numClasses: 2, features: 'tfidf' as 'log' }, rng), /features must be one of binary, count, log, got "tfidf"/);
  assert.throws(() => new BagOfWordsClassifier({ vocabSize: 0, numClasses: 2 }, rng), /vocabSize must be a positive integer, got 0/);
  assert.throws(() => new BagOfWordsClassifier({ vocabSize: 4, numClasses: 1 }, rng), /numClasses must be an integer >= 2, got 1/);
  const m = new BagOfWordsClassifier({ vocabSize: 4, numClasses: 2 }, rng);
  assert.deepEqual(m.namedParameters().map(([n, t]) => [n, [...t.shape]]), [['head.weight', [2, 4]], ['head.bias', [2]]]);
  assert.equal(m.config.features, 'log');
  m.dispose();
});

/** Texts of 1-3 "good"-family and 1-3 "bad"-family words (never as many of each) among noise words. */
function sentimentTexts(n: number, seed: number): Array<{ text: string; label: number }> {
  const rng = new Rng(seed);
  const good = ['good', 'great', 'fine'];
  const bad = ['bad', 'awful', 'poor'];
  const noise = ['the', 'a', 'film', 'plot', 'was', 'and', 'actors', 'music', 'ending', 'quite'];
  const out: Array<{ text: string; label: number }> = [];
  while (out.length < n) {
    const g = 1 + rng.int(3);
    const b = 1 + rng.int(3);
    if (g === b) continue;
    const words = [
      ...Array.from({ length: g }, () => good[rng.int(3)]), ...Array.from({ length: b }, () => bad[rng.int(3)]),
      ...Array.from({ length: 3 + rng.int(6) }, () => noise[rng.int(noise.length)]),
    ];
    for (let i = words.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [words[i], words[j]] = [words[j], words[i]];
    }
    out.push({ text: words.join(' '), label: g > b ? 1 : 0 });
  }
  return out;
}

test('BagOfWordsClassifier learns a toy task (majority of good vs bad words) to high held-out accuracy', () => {
  const train = sentimentTexts(400, 1);
  const held = sentimentTexts(300, 2);
  const vocab = WordVocabulary.fromTexts(train.map((e) => e.text), { minDocuments: 2 });
  const rng = new Rng(5);
  const model = new BagOfWordsClassifier({ vocabSize: vocab.size, numClasses: 2, features: 'count' }, rng);
  const params = model.namedParameters();
  const opt = createOptimizer('adamw', params, { lr: 5e-2, weightDecay: 1e-3 });
  const docs = train.map((e) => vocab.encode(e.text));
  let first = NaN;
  let last = NaN;
  for (let step = 0; step < 150; step++) {
    const idx = Array.from({ length: 32 }, () => rng.int(train.length));
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(idx.map((i) => docs[i])), Int32Array.from(idx, (i) => train[i].label)); // logits (32, 2)
      backward(l);
      return l.item();
    });
    if (step === 0) first = loss;
    last = loss;
    noGrad(() => optimizerStep(opt, params));
    model.zeroGrad();
  }
  assert.ok(last < first / 3, `loss ${first} → ${last}`);
  const correct = noGrad(() => tidy(() => {
    const logits = model.forward(held.map((e) => vocab.encode(e.text))).data; // (300, 2)
    return held.reduce((k, e, b) => k + Number((logits[b * 2 + 1] > logits[b * 2] ? 1 : 0) === e.label), 0);
  }));
  assert.ok(correct / held.length >= 0.95, `held-out accuracy ${correct / held.length} (chance 0.5)`);
  // The weights say what the task is: every "good" word pushes towards class 1, every "bad" word away.
  const W = model.head.weight.data; // (2, V)
  const V = vocab.size;
  for (const w of ['good', 'great', 'fine']) assert.ok(W[V + vocab.id(w)] - W[vocab.id(w)] > 0, w);
  for (const w of ['bad', 'awful', 'poor']) assert.ok(W[V + vocab.id(w)] - W[vocab.id(w)] < 0, w);
  model.dispose();
});
