// Sequence classification for the training engine, from `label<TAB>text` lines: a recurrent model over the
// characters (SequenceClassifier) or the bag-of-words logistic-regression baseline. The vocabulary
// (characters, or words) and the label set come from the training lines; a seeded 10% of them validates;
// each step trains on B lines drawn at random from the rest. Also here, for eval and predict: reading a
// checkpoint's config into a model, class probabilities, and accuracy / macro-F1.
// A character outside the vocabulary is an error naming the line and the character (the character models
// have no <unk> id: a model never saw one, so its prediction would be a guess presented as an answer); the
// bag of words leaves unknown words out, as bag-of-words models do.

import { crossEntropy } from '../autograd/ops.js';
import { checkSameData, dataFingerprint, type DataFingerprint } from '../data/fingerprint.js';
import { splitLines } from '../data/lines.js';
import { Vocabulary } from '../data/vocabulary.js';
import { WordVocabulary } from '../data/word-vocabulary.js';
import { BagOfWordsClassifier, type BagOfWordsClassifierConfig, type BowFeatureKind } from '../nn/bag-of-words-classifier.js';
import type { Module } from '../nn/module.js';
import type { CellKind } from '../nn/recurrent/index.js';
import { SequenceClassifier, resolveEncoderConfig, type PoolKind, type SequenceClassifierConfig } from '../nn/sequence-classifier.js';
import { Rng, shuffle } from '../random/rng.js';
import { noGrad, tidy, type Tensor } from '../tensor/tensor.js';
import { checkResumeOption, disposeOnThrow, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const CHAR_CLASSIFIER_FORMAT = 'recurrent-sequence-classifier/1';
export const BOW_CLASSIFIER_FORMAT = 'recurrent-bow-classifier/1';

export interface CharClassifierOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  pool: PoolKind;
  dropout: number;
}

export interface BowClassifierOptions {
  model: 'bow';
  /** Keep the maxWords words found in most training lines... */
  maxWords: number;
  /** ...and only those found in at least minDocs lines. */
  minDocs: number;
  features: BowFeatureKind;
}

/** The task's options: the model's, and how texts are read and batched. */
export type ClassifierTaskOptions = (CharClassifierOptions | BowClassifierOptions) & {
  /** Characters of each text read, 0 = all. */
  maxLength: number;
  /** Lines per step. */
  batchSize: number;
};

/** The options as given: each one left out takes the command line's default. */
export type ClassifierTaskInput =
  | (Partial<CharClassifierOptions> & { model?: undefined; maxLength?: number; batchSize?: number })
  | (Partial<BowClassifierOptions> & { model: 'bow'; maxLength?: number; batchSize?: number });

export function resolveClassifierOptions(o: ClassifierTaskInput): ClassifierTaskOptions {
  const common = { maxLength: o.maxLength ?? 0, batchSize: o.batchSize ?? 32 };
  if (o.model === 'bow') return { model: 'bow', maxWords: o.maxWords ?? 20000, minDocs: o.minDocs ?? 2, features: o.features ?? 'log', ...common };
  return {
    cell: o.cell ?? 'lstm', hiddenSize: o.hiddenSize ?? 64, numLayers: o.numLayers ?? 1, bidirectional: o.bidirectional ?? false,
    pool: o.pool ?? 'last', dropout: o.dropout ?? 0, ...common,
  };
}

type DataInfo = { name: string } & DataFingerprint;

export type ClassifierCheckpointConfig =
  | { format: typeof CHAR_CLASSIFIER_FORMAT; model: Required<SequenceClassifierConfig>; vocab: string[]; labels: string[]; train: ClassifierTaskOptions & CharClassifierOptions; data: DataInfo }
  | { format: typeof BOW_CLASSIFIER_FORMAT; model: Required<BagOfWordsClassifierConfig>; words: string[]; labels: string[]; train: ClassifierTaskOptions & BowClassifierOptions; data: DataInfo };

export interface LabeledLine {
  label: string;
  text: string;
  /** 1-based line number in its file. */
  line: number;
}

/** Parses `label<TAB>text` lines (the text may itself contain tabs); any malformed line is an error naming it. */
export function parseLabeledLines(text: string, what: string): LabeledLine[] {
  const out: LabeledLine[] = [];
  splitLines(text).forEach((l, i) => {
    const line = i + 1;
    const tab = l.indexOf('\t');
    if (tab < 0) throw new Error(`${what} line ${line}: expected "label<TAB>text", found no tab`);
    const label = l.slice(0, tab);
    const body = l.slice(tab + 1);
    if (label.trim() === '') throw new Error(`${what} line ${line}: the label is empty`);
    if (body === '') throw new Error(`${what} line ${line}: the text is empty`);
    out.push({ label, text: body, line });
  });
  if (out.length === 0) throw new Error(`${what} has no examples`);
  return out;
}

/** The first `maxLength` characters (code points) of `text`; all of it when maxLength is 0. */
export function cutText(text: string, maxLength: number): string {
  if (maxLength === 0 || text.length <= maxLength) return text; // fewer UTF-16 units than maxLength: fewer characters too
  return Array.from(text).slice(0, maxLength).join('');
}

function encodeLine(vocab: Vocabulary, text: string, what: string, line: number): Int32Array {
  const chars = Array.from(text);
  const ids = new Int32Array(chars.length);
  for (let i = 0; i < chars.length; i++) {
    const id = vocab.has(chars[i]) ? vocab.encode(chars[i])[0] : -1;
    if (id < 0) throw new Error(`${what} line ${line}: the character ${JSON.stringify(chars[i])} (column ${i + 1}) is not in the model's vocabulary`);
    ids[i] = id;
  }
  return ids;
}

/** A padded time-major batch of the sequences `seqs[idx]`: ids (T, B), lengths (B). Padding is id 0, never read. */
function makeBatch(seqs: readonly Int32Array[], idx: readonly number[]): { ids: Int32Array; T: number; B: number; lengths: Int32Array } {
  const B = idx.length;
  const lengths = Int32Array.from(idx, (i) => seqs[i].length);
  const T = Math.max(...lengths);
  const ids = new Int32Array(T * B); // (T, B)
  idx.forEach((i, b) => seqs[i].forEach((id, t) => (ids[t * B + b] = id)));
  return { ids, T, B, lengths };
}

/**
 * A classifier of either kind behind one interface: what training, eval and predict need. `encode` turns a
 * text (already cut to maxLength) into the ids the model reads; `forward` gives the logits (B, C) of the
 * encoded texts seqs[idx].
 */
export interface Classifier {
  config: ClassifierCheckpointConfig;
  module: Module;
  encode(text: string, what: string, line: number): Int32Array;
  forward(seqs: readonly Int32Array[], idx: readonly number[]): Tensor;
  /** One line on what the model is, e.g. "gru 1×64 bidirectional (pool mean, 12 characters)". */
  describe(): string;
}

function makeClassifier(config: ClassifierCheckpointConfig, rng: Rng): Classifier {
  if (config.format === BOW_CLASSIFIER_FORMAT) {
    const words = new WordVocabulary(config.words);
    const model = new BagOfWordsClassifier(config.model, rng);
    return {
      config, module: model,
      encode: (text) => words.encode(text),
      forward: (seqs, idx) => model.forward(idx.map((i) => seqs[i])), // (B, C)
      describe: () => `bag of words (${config.words.length} words, ${config.model.features} features)`,
    };
  }
  const vocab = new Vocabulary(config.vocab);
  const model = new SequenceClassifier(config.model, rng);
  const m = config.model;
  return {
    config, module: model,
    encode: (text, what, line) => encodeLine(vocab, text, what, line),
    forward: (seqs, idx) => {
      const { ids, T, B, lengths } = makeBatch(seqs, idx);
      return model.forward(ids, T, B, lengths); // (B, C)
    },
    describe: () => `${m.cell} ${m.numLayers}×${m.hiddenSize}${m.bidirectional ? ' bidirectional' : ''} (pool ${m.pool}, ${config.vocab.length} characters)`,
  };
}

/**
 * A checkpoint's classifier from its config.json (weights not loaded). Checkpoints written before
 * --max-length and --ema existed read the whole text and kept no average.
 */
export function classifierFromConfig(config: ClassifierCheckpointConfig, configPath: string, rng: Rng = new Rng(0)): Classifier & { model: Module } {
  const table = config.format === CHAR_CLASSIFIER_FORMAT ? config.vocab : config.words;
  if (!Array.isArray(table) || !Array.isArray(config.labels) || typeof config.model !== 'object' || config.model === null || typeof config.train !== 'object' || config.train === null) {
    throw new Error(`${configPath} is not a recurrent classifier checkpoint (format ${JSON.stringify(config.format)}): it lacks the model, its tables or its training options`);
  }
  if (config.model.vocabSize !== table.length || config.model.numClasses !== config.labels.length) {
    throw new Error(`${configPath} is inconsistent: the model's vocabulary or class count does not match its tables`);
  }
  config.train.maxLength = (config.train as Partial<ClassifierTaskOptions>).maxLength ?? 0;
  const clf = makeClassifier(config, rng);
  return { ...clf, model: clf.module };
}

/** A fresh model of the kind `opts` asks for, its tables built from the (cut) training texts. */
function newClassifier(opts: ClassifierTaskOptions, texts: string[], labels: string[], data: DataInfo, rng: Rng): Classifier {
  if ('model' in opts) {
    const words = WordVocabulary.fromTexts(texts, { minDocuments: opts.minDocs, maxSize: opts.maxWords });
    if (words.size === 0) throw new Error(`${data.name} has no word found in ${opts.minDocs} or more lines (lower --min-docs)`);
    const model: Required<BagOfWordsClassifierConfig> = { vocabSize: words.size, numClasses: labels.length, features: opts.features };
    return makeClassifier({ format: BOW_CLASSIFIER_FORMAT, model, words: [...words.words], labels, train: opts, data }, rng);
  }
  // Every character of the training file, even past maxLength: a held-out text may hold one early that
  // the training texts hold only late (its embedding then stays near its initialisation, and is still known).
  const vocab = Vocabulary.fromText(texts.join(''));
  const model: Required<SequenceClassifierConfig> = {
    ...resolveEncoderConfig('SequenceClassifier', {
      cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, bidirectional: opts.bidirectional, dropout: opts.dropout,
    }, []),
    numClasses: labels.length,
    pool: opts.pool,
  };
  return makeClassifier({ format: CHAR_CLASSIFIER_FORMAT, model, vocab: [...vocab.chars], labels, train: opts, data }, rng);
}

/**
 * Class probabilities (N, C) of every sequence, without the tape, in chunks of `batchSize` taken in order of
 * length so a chunk pads little (a sequence's logits do not depend on its batch mates); returned in input order.
 */
export function predictProbs(clf: Classifier, seqs: readonly Int32Array[], batchSize: number): Float32Array[] {
  const model = clf.module;
  const wasTraining = model.training;
  model.eval();
  const C = clf.config.labels.length;
  const out = new Array<Float32Array>(seqs.length);
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a].length - seqs[b].length || a - b);
  try {
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      noGrad(() => tidy(() => {
        const logits = clf.forward(seqs, idx).data; // (B, C)
        idx.forEach((i, b) => {
          const row = logits.subarray(b * C, (b + 1) * C);
          const max = Math.max(...row);
          let z = 0;
          for (const v of row) z += Math.exp(v - max);
          out[i] = Float32Array.from(row, (v) => Math.exp(v - max) / z);
        });
      }));
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/** Accuracy, and macro-F1 over the classes that occur in the truth or the predictions (scikit-learn's default set). */
export function classificationScores(truth: readonly number[], pred: readonly number[], labels: readonly string[]): {
  accuracy: number; macroF1: number; perClass: Record<string, { precision: number; recall: number; f1: number }>;
} {
  const C = labels.length;
  const tp = new Array<number>(C).fill(0);
  const predicted = new Array<number>(C).fill(0);
  const actual = new Array<number>(C).fill(0);
  truth.forEach((y, i) => {
    actual[y]++;
    predicted[pred[i]]++;
    if (pred[i] === y) tp[y]++;
  });
  const perClass: Record<string, { precision: number; recall: number; f1: number }> = {};
  let f1Sum = 0;
  let classes = 0;
  for (let c = 0; c < C; c++) {
    if (actual[c] === 0 && predicted[c] === 0) continue;
    const precision = predicted[c] > 0 ? tp[c] / predicted[c] : 0;
    const recall = actual[c] > 0 ? tp[c] / actual[c] : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[c]] = { precision, recall, f1 };
    f1Sum += f1;
    classes++;
  }
  return { accuracy: tp.reduce((a, b) => a + b, 0) / truth.length, macroF1: f1Sum / classes, perClass };
}

export interface ClassifierTask extends TrainingTask<number[]> {
  readonly classifier: Classifier;
}

/**
 * The task of training a classifier on `text`, `label<TAB>text` lines (named `dataName` in messages and
 * the checkpoint).
 */
export function classifierTask(text: string, dataName: string, options: ClassifierTaskInput = {}): TaskDefinition<ClassifierTask> {
  const opts = resolveClassifierOptions(options);
  const examples = parseLabeledLines(text, dataName);
  if (examples.length < 2) throw new Error(`${dataName} has ${examples.length} example; training needs at least 2 (one to validate)`);
  const fingerprint = dataFingerprint(text);
  const kind = (o: { model?: unknown; cell?: unknown }): string => ('model' in o ? 'bow' : String(o.cell));

  const make = (clf: Classifier, seed: number, rng: Rng): ClassifierTask => {
    const { config } = clf;
    const model = clf.module;
    // --- data: a seeded shuffle of the lines, the first 10% (at least one) validate ---
    const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
    const seqs = examples.map((e) => clf.encode(cutText(e.text, opts.maxLength), dataName, e.line));
    const targets = Int32Array.from(examples, (e) => labelIndex.get(e.label)!);
    const order = shuffle(examples.map((_, i) => i), new Rng(seed).fork(0x5eed));
    const nVal = Math.max(1, Math.round(order.length / 10));
    const valIdx = order.slice(0, nVal);
    const trainIdx = order.slice(nVal);
    const valSeqs = valIdx.map((i) => seqs[i]);
    const cutNote = opts.maxLength > 0 ? `, texts cut to ${opts.maxLength} characters` : '';
    return {
      format: config.format,
      config: { model: config.model, ...(config.format === CHAR_CLASSIFIER_FORMAT ? { vocab: config.vocab } : { words: config.words }), labels: config.labels, train: opts, data: config.data },
      model,
      classifier: clf,
      description: `${clf.describe()} on ${dataName}: ${trainIdx.length} training and ${valIdx.length} validation lines, ${config.labels.length} labels${cutNote}`,
      batch: () => Array.from({ length: opts.batchSize }, () => trainIdx[rng.int(trainIdx.length)]),
      loss: (idx) => ({
        loss: crossEntropy(clf.forward(seqs, idx), Int32Array.from(idx, (i) => targets[i])), // logits (B, C)
        tokens: idx.reduce((a, i) => a + seqs[i].length, 0),
      }),
      evaluate: () => {
        const probs = predictProbs(clf, valSeqs, opts.batchSize);
        let nll = 0;
        let correct = 0;
        probs.forEach((p, k) => {
          const y = targets[valIdx[k]];
          nll -= Math.log(Math.max(p[y], 1e-30));
          correct += Number(argmax(p) === y);
        });
        return { valLoss: nll / probs.length, valAccuracy: correct / probs.length };
      },
    };
  };

  return {
    formats: [CHAR_CLASSIFIER_FORMAT, BOW_CLASSIFIER_FORMAT],
    what: 'recurrent classifier',
    create: ({ rng, seed }) => {
      const labels = [...new Set(examples.map((e) => e.label))].sort();
      if (labels.length < 2) throw new Error(`${dataName} has a single label ${JSON.stringify(labels[0])}; classification needs at least 2`);
      const texts = examples.map((e) => ('model' in opts ? cutText(e.text, opts.maxLength) : e.text));
      const clf = newClassifier(opts, texts, labels, { name: dataName, ...fingerprint }, rng);
      return disposeOnThrow(clf.module, () => make(clf, seed, rng));
    },
    resume: (raw, { rng, seed }, where) => {
      const clf = classifierFromConfig(raw as unknown as ClassifierCheckpointConfig, `${where}/config.json`, rng);
      const was = clf.config.train as unknown as Record<string, unknown>;
      try {
        if (kind(was) !== kind(opts)) throw new Error(`cannot resume ${where}: it holds a ${kind(was)} model, this run asks for ${kind(opts)}`);
        for (const [k, want] of Object.entries(opts)) checkResumeOption(where, k, was[k], want);
        checkSameData(where, clf.config.data, fingerprint);
      } catch (e) {
        clf.module.dispose();
        throw e;
      }
      return disposeOnThrow(clf.module, () => make(clf, seed, rng));
    },
  };
}
