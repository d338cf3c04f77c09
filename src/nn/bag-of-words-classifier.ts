// BagOfWordsClassifier: multinomial logistic regression on bag-of-words features, the linear baseline the
// recurrent classifiers are measured against. Word ids (from data/word-vocabulary.ts) → a (B, V) feature
// row per text → Linear(V, C) → logits; trained with softmax cross-entropy (and the optimizer's weight
// decay as the L2 penalty). Not here: tokenizing (WordVocabulary) or the training loop (cli/classify.ts).
// Parameter names: `head.weight` (C, V), `head.bias` (C), as a PyTorch nn.Linear called `head`.

import { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../random/rng.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';

export const bowFeatureKinds = ['binary', 'count', 'log'] as const;
export type BowFeatureKind = (typeof bowFeatureKinds)[number];

export interface BagOfWordsClassifierConfig {
  /** V: word ids are in [0, V). */
  vocabSize: number;
  /** C. */
  numClasses: number;
  /**
   * What feature x_v a text gets from n_v, the number of times word v occurs in it (default 'log'):
   *   binary  [n_v > 0]
   *   count   n_v
   *   log     log(1 + n_v)  (sublinear: the 50th "free" says less than the first)
   */
  features?: BowFeatureKind;
}

/**
 * The (B, V) feature matrix of B texts given as word ids (each in [0, V)); a text with no known word is a
 * zero row, so the classifier falls back on its bias (the class prior it learned). No gradient: an input.
 */
export function bagOfWords(docs: readonly ArrayLike<number>[], vocabSize: number, features: BowFeatureKind): Tensor {
  const B = docs.length;
  const V = vocabSize;
  if (B === 0) throw new Error('bagOfWords: no texts (B = 0)');
  const x = new Tensor([B, V]); // (B, V) zeros
  const d = x.data;
  docs.forEach((ids, b) => {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!Number.isInteger(v) || v < 0 || v >= V) throw new Error(`bagOfWords: text ${b} has word id ${v} at ${i}, outside [0, V = ${V})`);
      d[b * V + v] += 1; // n_v
    }
  });
  if (features === 'binary') for (let i = 0; i < d.length; i++) d[i] = d[i] > 0 ? 1 : 0;
  else if (features === 'log') for (let i = 0; i < d.length; i++) d[i] = Math.log1p(d[i]);
  else if (features !== 'count') throw new Error(`bagOfWords: features must be one of ${bowFeatureKinds.join(', ')}, got ${JSON.stringify(features)}`);
  return x;
}

/** p(c | text) = softmax(W x + b)_c with x = bagOfWords(text): multinomial logistic regression. */
export class BagOfWordsClassifier extends Module {
  readonly config: Required<BagOfWordsClassifierConfig>;
  readonly head: Linear;

  constructor(config: BagOfWordsClassifierConfig, rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`BagOfWordsClassifier: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('BagOfWordsClassifier config', config, ['vocabSize', 'numClasses', 'features']);
    const { vocabSize, numClasses, features = 'log' } = config;
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new Error(`BagOfWordsClassifier vocabSize must be a positive integer, got ${String(vocabSize)}`);
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`BagOfWordsClassifier numClasses must be an integer >= 2, got ${String(numClasses)}`);
    if (!(bowFeatureKinds as readonly string[]).includes(features)) throw new Error(`BagOfWordsClassifier features must be one of ${bowFeatureKinds.join(', ')}, got ${JSON.stringify(features)}`);
    this.config = { vocabSize, numClasses, features };
    this.head = this.child('head', new Linear({ inFeatures: vocabSize, outFeatures: numClasses }, rng));
  }

  /** B texts as word ids → logits (B, C). */
  forward(docs: readonly ArrayLike<number>[]): Tensor {
    const x = bagOfWords(docs, this.config.vocabSize, this.config.features); // (B, V)
    return this.head.forward(x); // (B, C)
  }
}
