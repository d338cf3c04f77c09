// `recurrent classify train|eval|predict`: sequence classification from `label<TAB>text` lines, with a
// recurrent model over characters or the bag-of-words logistic-regression baseline (`--model bow`). The
// vocabulary (characters, or words) and the label set come from the training file; a seeded 90/10 split
// of its lines validates. Checkpoints follow src/train/task-checkpoint.ts (config.json, model.safetensors,
// training.safetensors for --resume). A character outside the vocabulary is an error naming the line and
// the character (the character models have no <unk> id: a model never saw one, so its prediction would be
// a guess presented as an answer); the bag of words leaves unknown words out, as bag-of-words models do.

import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crossEntropy } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { backend } from '../src/backend/registry.js';
import { splitLines } from '../src/data/lines.js';
import { readTextFile } from '../src/data/text-file.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { WordVocabulary } from '../src/data/word-vocabulary.js';
import { BagOfWordsClassifier, bowFeatureKinds, type BagOfWordsClassifierConfig, type BowFeatureKind } from '../src/nn/bag-of-words-classifier.js';
import type { Module } from '../src/nn/module.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { SequenceClassifier, poolKinds, resolveEncoderConfig, type SequenceClassifierConfig } from '../src/nn/sequence-classifier.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { checkOptimizerName, createOptimizer, optimizerNames, optimizerStep, resolveOptimizerOptions } from '../src/optim/optimizer.js';
import { createWeightAverage, disposeWeightAverage, updateWeightAverage, withAveragedWeights } from '../src/optim/weight-average.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy, type Tensor } from '../src/tensor/tensor.js';
import { dataFingerprint } from '../src/train/checkpoint.js';
import {
  loadTaskTraining, loadTaskWeights, readTaskConfig, saveTaskCheckpoint, taskCheckpointExists, type TaskTrainingState,
} from '../src/train/task-checkpoint.js';
import { UsageError, int, num, oneOf, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { ProgressBar, formatDuration } from './progress.js';

export const CLASSIFY_HELP = `recurrent classify: sequence classification from "label<TAB>text" lines

Usage:
  recurrent classify train   --data FILE [--model lstm|gru|rnn|...|bow] [--hidden N] [--layers N]
                             [--bidirectional] [--pool last|mean|max] [--dropout X]
                             [--max-words N] [--min-docs N] [--features binary|count|log]
                             [--max-length N] [--batch-size B] [--steps N | --time SECONDS] [--lr X]
                             [--optimizer NAME] [--weight-decay X] [--clip X] [--ema D] [--eval-every N]
                             [--seed S] [--out DIR] [--resume] [--backend NAME]
  recurrent classify eval    --checkpoint DIR --data FILE [--backend NAME]
                             one JSON line: accuracy, macroF1, perClass
  recurrent classify predict --checkpoint DIR [--data FILE] [--backend NAME]
                             "label<TAB>probability" per text line (reads stdin without --data)

  --data FILE          one example per line, "label<TAB>text" (predict: the text alone); every line must be
                       complete (no empty lines, labels or texts); the characters (or words) and labels of
                       the training file are the model's vocabulary and classes; 10% of its lines (seeded)
                       validate
  --model NAME         ${['lstm', 'gru', 'rnn', ...cellKinds.filter((k) => !['lstm', 'gru'].includes(k))].join(', ')}: a recurrent model over
                       the characters; bow: logistic regression on the words (default lstm)

 recurrent models:
  --hidden N           hidden size, also the embedding size (default 64)
  --layers N           recurrent layers (default 1)
  --bidirectional      add a reverse direction; features are [forward, reverse]
  --pool NAME          last (final state of each direction), mean or max over each line's characters (default last)
  --dropout X          dropout between recurrent layers and on the pooled features (default 0)

 bow (words are lower-cased runs of letters and digits; unknown words are left out):
  --max-words N        keep the N words found in most training lines (default 20000)
  --min-docs N         ... and only words found in at least N training lines (default 2)
  --features NAME      a word occurring n times in a line is the feature [n > 0] (binary), n (count),
                       or log(1 + n) (log) (default log)

 both:
  --max-length N       read only the first N characters of each text, in training, eval and predict;
                       0 = all (default 0)
  --batch-size B       lines per step (default 32)
  --steps N            training steps in all, counting those before --resume (default 500)
  --time SECONDS       train for this long (this run's wall time) instead of a number of steps
  --lr X               learning rate (default 3e-3)
  --optimizer NAME     ${optimizerNames.join(', ')} (default adam)
  --weight-decay X     the optimizer's weight decay (L2; decoupled for adamw) (default: the optimizer's,
                       0 except adamw's 0.01)
  --clip X             clip the global gradient norm to X, 0 = off (default 5)
  --ema D              keep a moving average of the weights, a <- d·a + (1 - d)·w after every step with
                       d = min(D, (1 + n)/(10 + n)) (e.g. 0.999; default 0: off). Validation scores it (and the
                       raw weights beside it), and the checkpoint's model is the average: what eval and predict use
  --eval-every N       validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 100)
  --seed S             seed of the split, the initialisation and the batches (default 1)
  --out DIR            checkpoint directory (default runs/classifier)
  --resume             continue the checkpoint in --out exactly where it stopped (Ctrl-C saves one first)
${backendHelp(23)}

A character the recurrent model has not seen is an error naming the line and the character (there is no <unk>).`;

const CHAR_FORMAT = 'recurrent-sequence-classifier/1';
const BOW_FORMAT = 'recurrent-bow-classifier/1';

/** Options every model trains with. */
interface CommonTrainOptions {
  /** Characters of each text read, 0 = all. */
  maxLength: number;
  batchSize: number;
  /** Training steps in all; null when `timeSec` bounds the run instead. */
  steps: number | null;
  /** Wall-clock seconds of this run (not counting those before --resume); null when `steps` bounds it. */
  timeSec: number | null;
  lr: number;
  optimizer: string;
  weightDecay: number;
  clip: number;
  /** Decay of the weights' moving average, 0 = none. Absent in checkpoints from before the option: 0. */
  ema: number;
  evalEvery: number;
  seed: number;
}

interface CharTrainOptions extends CommonTrainOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  pool: (typeof poolKinds)[number];
  dropout: number;
}

interface BowTrainOptions extends CommonTrainOptions {
  model: 'bow';
  maxWords: number;
  minDocs: number;
  features: BowFeatureKind;
}

type DataInfo = { name: string; chars: number; hash: string };

type ClassifierCheckpointConfig =
  | { format: typeof CHAR_FORMAT; model: Required<SequenceClassifierConfig>; vocab: string[]; labels: string[]; train: CharTrainOptions; data: DataInfo }
  | { format: typeof BOW_FORMAT; model: Required<BagOfWordsClassifierConfig>; words: string[]; labels: string[]; train: BowTrainOptions; data: DataInfo };

interface Example {
  label: string;
  text: string;
  /** 1-based line number in its file. */
  line: number;
}

/** Parses `label<TAB>text` lines (the text may itself contain tabs); any malformed line is an error naming it. */
export function parseLabeledLines(text: string, what: string): Example[] {
  const out: Example[] = [];
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
function cut(text: string, maxLength: number): string {
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
 * A classifier of either kind behind one interface: what the training loop, eval and predict need.
 * `encode` turns a text (already cut to maxLength) into the ids the model reads; `forward` gives the logits
 * (B, C) of the encoded texts seqs[idx].
 */
interface Classifier {
  config: ClassifierCheckpointConfig;
  module: Module;
  /** What the progress bar counts: characters or known words. */
  unit: string;
  encode(text: string, what: string, line: number): Int32Array;
  forward(seqs: readonly Int32Array[], idx: readonly number[]): Tensor;
}

function makeClassifier(config: ClassifierCheckpointConfig, rng: Rng): Classifier {
  if (config.format === BOW_FORMAT) {
    const words = new WordVocabulary(config.words);
    const model = new BagOfWordsClassifier(config.model, rng);
    return {
      config, module: model, unit: 'words',
      encode: (text) => words.encode(text),
      forward: (seqs, idx) => model.forward(idx.map((i) => seqs[i])), // (B, C)
    };
  }
  const vocab = new Vocabulary(config.vocab);
  const model = new SequenceClassifier(config.model, rng);
  return {
    config, module: model, unit: 'chars',
    encode: (text, what, line) => encodeLine(vocab, text, what, line),
    forward: (seqs, idx) => {
      const { ids, T, B, lengths } = makeBatch(seqs, idx);
      return model.forward(ids, T, B, lengths); // (B, C)
    },
  };
}

/**
 * Class probabilities (N, C) of every sequence, without the tape, in chunks of `batchSize` taken in order of
 * length so a chunk pads little (a sequence's logits do not depend on its batch mates); returned in input order.
 */
function predictProbs(clf: Classifier, seqs: readonly Int32Array[], batchSize: number): Float32Array[] {
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

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

// ---- checkpoints ----

/** The training loop's counters, saved in the checkpoint: everything besides the step, generator and optimizer. */
const COUNTERS = ['lossSum', 'lossCount', 'elapsedSec'] as const;
type ClassifyTrainingState = TaskTrainingState & { counters: Record<(typeof COUNTERS)[number], number> };

function loadClassifier(dir: string, rng: Rng): { clf: Classifier; step: number } {
  const config = readTaskConfig<ClassifierCheckpointConfig>(dir, [CHAR_FORMAT, BOW_FORMAT], 'recurrent classifier');
  const configPath = join(dir, 'config.json');
  const table = config.format === CHAR_FORMAT ? config.vocab : config.words;
  if (!Array.isArray(table) || !Array.isArray(config.labels) || typeof config.model !== 'object' || config.model === null || typeof config.train !== 'object' || config.train === null) {
    throw new Error(`${configPath} is not a recurrent classifier checkpoint (format ${JSON.stringify(config.format)}): it lacks the model, its tables or its training options`);
  }
  if (config.model.vocabSize !== table.length || config.model.numClasses !== config.labels.length) {
    throw new Error(`${configPath} is inconsistent: the model's vocabulary or class count does not match its tables`);
  }
  // Checkpoints written before --max-length, --weight-decay and --ema existed read the whole text, used the
  // optimizer's default decay and kept no average.
  const train = config.train as Partial<CommonTrainOptions> & { optimizer: string };
  config.train.maxLength = train.maxLength ?? 0;
  config.train.weightDecay = train.weightDecay ?? resolveOptimizerOptions(checkOptimizerName(train.optimizer)).weightDecay;
  config.train.ema = train.ema ?? 0;
  const clf = makeClassifier(config, rng);
  return { clf, step: loadTaskWeights(dir, clf.module) };
}

// ---- the subcommands ----

const CHAR_ONLY = ['hidden', 'layers', 'bidirectional', 'pool', 'dropout'] as const;
const BOW_ONLY = ['max-words', 'min-docs', 'features'] as const;

/** The training options of the command line, checked; options of the other kind of model are an error. */
function trainOptions(v: Record<string, string | boolean | undefined>): CharTrainOptions | BowTrainOptions {
  const modelName = oneOf(v, 'model', 'lstm', ['bow', 'rnn', ...cellKinds] as const);
  const isBow = modelName === 'bow';
  for (const k of isBow ? CHAR_ONLY : BOW_ONLY) {
    if (v[k] !== undefined) throw new UsageError(`--${k} applies to ${isBow ? 'the recurrent models' : '--model bow'}, not --model ${modelName}`);
  }
  if (v.steps !== undefined && v.time !== undefined) throw new UsageError('give --steps or --time, not both');
  const optimizer = oneOf(v, 'optimizer', 'adam', optimizerNames);
  const lr = num(v, 'lr', 3e-3, (x) => x > 0, 'a positive number');
  const weightDecay = v['weight-decay'] === undefined
    ? resolveOptimizerOptions(optimizer).weightDecay
    : num(v, 'weight-decay', 0, (x) => x >= 0, 'a non-negative number');
  const common: CommonTrainOptions = {
    maxLength: int(v, 'max-length', 0, 0),
    batchSize: int(v, 'batch-size', 32),
    steps: v.time === undefined ? int(v, 'steps', 500) : null,
    timeSec: v.time === undefined ? null : num(v, 'time', 0, (x) => x > 0, 'a positive number of seconds'),
    lr,
    optimizer,
    weightDecay,
    clip: num(v, 'clip', 5, (x) => x >= 0, 'a non-negative number'),
    ema: num(v, 'ema', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1) (0: off)'),
    evalEvery: int(v, 'eval-every', 100),
    seed: int(v, 'seed', 1, 0),
  };
  if (isBow) {
    return {
      model: 'bow', maxWords: int(v, 'max-words', 20000), minDocs: int(v, 'min-docs', 2),
      features: oneOf(v, 'features', 'log', bowFeatureKinds), ...common,
    };
  }
  return {
    cell: modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind),
    hiddenSize: int(v, 'hidden', 64),
    numLayers: int(v, 'layers', 1),
    bidirectional: v.bidirectional === true,
    pool: oneOf(v, 'pool', 'last', poolKinds),
    dropout: num(v, 'dropout', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    ...common,
  };
}

/** A fresh model of the kind `opts` asks for, its tables built from the (cut) training texts. */
function newClassifier(opts: CharTrainOptions | BowTrainOptions, texts: string[], labels: string[], data: DataInfo, rng: Rng): Classifier {
  if ('model' in opts) {
    const words = WordVocabulary.fromTexts(texts, { minDocuments: opts.minDocs, maxSize: opts.maxWords });
    if (words.size === 0) throw new Error(`${data.name} has no word found in ${opts.minDocs} or more lines (lower --min-docs)`);
    const model: Required<BagOfWordsClassifierConfig> = { vocabSize: words.size, numClasses: labels.length, features: opts.features };
    return makeClassifier({ format: BOW_FORMAT, model, words: [...words.words], labels, train: opts, data }, rng);
  }
  // Every character of the training file, even past --max-length: a held-out text may hold one early that
  // the training texts hold only late (its embedding then stays near its initialisation, and is still known).
  const vocab = Vocabulary.fromText(texts.join(''));
  const model: Required<SequenceClassifierConfig> = {
    ...resolveEncoderConfig('SequenceClassifier', {
      cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, bidirectional: opts.bidirectional, dropout: opts.dropout,
    }, []),
    numClasses: labels.length,
    pool: opts.pool,
  };
  return makeClassifier({ format: CHAR_FORMAT, model, vocab: [...vocab.chars], labels, train: opts, data }, rng);
}

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, model: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' },
    bidirectional: { type: 'boolean' }, pool: { type: 'string' }, dropout: { type: 'string' },
    'max-words': { type: 'string' }, 'min-docs': { type: 'string' }, features: { type: 'string' },
    'max-length': { type: 'string' }, 'batch-size': { type: 'string' }, steps: { type: 'string' }, time: { type: 'string' },
    lr: { type: 'string' }, optimizer: { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' }, ema: { type: 'string' },
    'eval-every': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
    backend: { type: 'string' },
  });
  selectBackend(v);
  const dataPath = str(v, 'data');
  if (dataPath === undefined) throw new UsageError('classify train needs --data FILE');
  const opts = trainOptions(v);
  const out = str(v, 'out') ?? 'runs/classifier';
  const resume = v.resume === true;

  const text = readTextFile(dataPath);
  const examples = parseLabeledLines(text, dataPath);
  if (examples.length < 2) throw new Error(`${dataPath} has ${examples.length} example; training needs at least 2 (one to validate)`);
  const fingerprint = dataFingerprint(text);
  if (!resume && taskCheckpointExists(out)) throw new Error(`${out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);

  let clf: Classifier;
  let state: ClassifyTrainingState;
  const rng = new Rng(opts.seed);
  if (resume && taskCheckpointExists(out)) {
    const ck = loadClassifier(out, rng);
    clf = ck.clf;
    const was = clf.config.train;
    const kind = (o: CharTrainOptions | BowTrainOptions): string => ('model' in o ? 'bow' : o.cell);
    if (kind(was) !== kind(opts)) throw new Error(`cannot resume ${out}: it holds a ${kind(was)} model, this run asks for ${kind(opts)}`);
    for (const k of Object.keys(opts) as Array<keyof typeof opts>) {
      if (k !== 'steps' && k !== 'timeSec' && k !== 'evalEvery' && was[k as keyof typeof was] !== opts[k]) {
        throw new Error(`cannot resume ${out}: it was trained with ${k} ${String(was[k as keyof typeof was])}, this run asks for ${String(opts[k])}`);
      }
    }
    if (clf.config.data.hash !== fingerprint.hash || clf.config.data.chars !== fingerprint.chars) {
      throw new Error(`cannot resume ${out}: it was trained on different data (${clf.config.data.name}, ${clf.config.data.chars} characters)`);
    }
    // Every one of COUNTERS is checked present (a checkpoint from before classify kept them under `counters`
    // has them at the top level of its metadata; loadTaskTraining reads that layout too).
    state = loadTaskTraining(out, clf.module, rng, ck.step, COUNTERS) as ClassifyTrainingState;
    if ((state.average ?? null) === null && opts.ema > 0) throw new Error(`${out} is corrupt: it was trained with --ema ${opts.ema}, but training.safetensors holds no weight average`);
    clf.config.train = opts;
  } else {
    const labels = [...new Set(examples.map((e) => e.label))].sort();
    if (labels.length < 2) throw new Error(`${dataPath} has a single label ${JSON.stringify(labels[0])}; classification needs at least 2`);
    const texts = examples.map((e) => ('model' in opts ? cut(e.text, opts.maxLength) : e.text));
    clf = newClassifier(opts, texts, labels, { name: dataPath, ...fingerprint }, rng);
    state = {
      step: 0, rng, counters: { lossSum: 0, lossCount: 0, elapsedSec: 0 },
      optimizer: createOptimizer(opts.optimizer, clf.module.namedParameters(), { lr: opts.lr, weightDecay: opts.weightDecay }),
      average: opts.ema > 0 ? createWeightAverage(clf.module.namedParameters(), opts.ema) : null,
    };
  }
  const config = clf.config;
  const model = clf.module;

  // --- data: a seeded shuffle of the lines, the first 10% (at least one) validate ---
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const seqs = examples.map((e) => clf.encode(cut(e.text, opts.maxLength), dataPath, e.line));
  const targets = Int32Array.from(examples, (e) => labelIndex.get(e.label)!);
  const order = examples.map((_, i) => i);
  const splitRng = new Rng(opts.seed).fork(0x5eed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = splitRng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nVal = Math.max(1, Math.round(order.length / 10));
  const valIdx = order.slice(0, nVal);
  const trainIdx = order.slice(nVal);
  const valSeqs = valIdx.map((i) => seqs[i]);

  const params = model.namedParameters();
  const metricsPath = join(out, 'metrics.jsonl');
  const bar = new ProgressBar();
  const start = performance.now();
  const c = state.counters; // lossSum and lossCount since the last validation; elapsedSec as of the last save
  const elapsedBefore = c.elapsedSec;
  const elapsed = (): number => elapsedBefore + (performance.now() - start) / 1000;
  const save = (): void => {
    c.elapsedSec = elapsed();
    saveTaskCheckpoint(out, config.format, config, model, state);
  };
  let tokens = 0;
  let lastEval = -1;
  const average = state.average ?? null;
  const score = (): { valLoss: number; valAccuracy: number } => {
    const probs = predictProbs(clf, valSeqs, opts.batchSize);
    let nll = 0;
    let correct = 0;
    probs.forEach((p, k) => {
      const y = targets[valIdx[k]];
      nll -= Math.log(Math.max(p[y], 1e-30));
      correct += Number(argmax(p) === y);
    });
    const valLoss = nll / probs.length;
    if (!Number.isFinite(valLoss)) throw new Error(`validation loss became ${valLoss} at step ${state.step}; stopped, the last good checkpoint in ${out} is kept`);
    return { valLoss, valAccuracy: correct / probs.length };
  };
  const evaluate = (): void => {
    // With a weight average, the average is scored (it is what the checkpoint saves), and the raw weights beside it.
    const val = average === null ? score() : withAveragedWeights(average, params, score);
    const raw = average === null ? null : score();
    const m = {
      step: state.step,
      trainLoss: c.lossCount > 0 ? c.lossSum / c.lossCount : NaN,
      ...val,
      ...(raw === null ? {} : { raw }),
      elapsedSec: elapsed(),
    };
    bar.clear();
    process.stdout.write(
      `step ${m.step}: train loss ${m.trainLoss.toFixed(4)}, val loss ${m.valLoss.toFixed(4)}, val accuracy ${m.valAccuracy.toFixed(4)}, ` +
        (raw === null ? '' : `(raw weights: val loss ${raw.valLoss.toFixed(4)}, accuracy ${raw.valAccuracy.toFixed(4)}), `) +
        `${formatDuration(m.elapsedSec)}\n`,
    );
    c.lossSum = 0;
    c.lossCount = 0;
    save();
    appendFileSync(metricsPath, JSON.stringify(m) + '\n');
    lastEval = state.step;
  };

  const what = config.format === BOW_FORMAT
    ? `bag of words (${config.words.length} words, ${config.model.features} features)`
    : `${config.model.cell} ${config.model.numLayers}×${config.model.hiddenSize}${config.model.bidirectional ? ' bidirectional' : ''} (pool ${config.model.pool}, ${config.vocab.length} characters)`;
  process.stdout.write(
    `training ${what} on ${dataPath}: ${trainIdx.length} training and ${valIdx.length} validation lines, ${config.labels.length} labels` +
      `${opts.maxLength > 0 ? `, texts cut to ${opts.maxLength} characters` : ''}; checkpoints in ${out}\n`,
  );
  // Ctrl-C: finish the step, save a checkpoint, exit 130 (as `recurrent train`); a second Ctrl-C exits at once.
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  try {
    const runStart = performance.now();
    const firstStep = state.step;
    const done = (): boolean =>
      (opts.steps !== null && state.step >= opts.steps) || (opts.timeSec !== null && (performance.now() - runStart) / 1000 >= opts.timeSec);
    while (!done() && !interrupted) {
      const idx = Array.from({ length: opts.batchSize }, () => trainIdx[state.rng.int(trainIdx.length)]);
      const labels = Int32Array.from(idx, (i) => targets[i]);
      model.train();
      const loss = tidy(() => {
        const l = crossEntropy(clf.forward(seqs, idx), labels); // logits (B, C)
        const value = l.item();
        if (Number.isFinite(value)) backward(l);
        return value;
      });
      if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
      const norm = opts.clip > 0 ? clipGradNorm(model.parameters(), opts.clip) : Math.sqrt(model.parameters().reduce((s, p) => s + (p.grad === null ? 0 : backend().sumSquares(p.grad.data)), 0));
      if (!Number.isFinite(norm)) throw new Error(`gradient norm became ${norm} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
      noGrad(() => optimizerStep(state.optimizer, params));
      if (average !== null) updateWeightAverage(average, params);
      model.zeroGrad();
      state.step++;
      c.lossSum += loss;
      c.lossCount++;
      for (const i of idx) tokens += seqs[i].length;
      const sec = (performance.now() - runStart) / 1000;
      const etaSec = opts.steps !== null ? ((opts.steps - state.step) * sec) / (state.step - firstStep) : opts.timeSec! - sec;
      bar.update({ step: state.step, totalSteps: opts.steps, loss, tokensPerSec: tokens / Math.max(1e-9, sec), etaSec });
      if (state.step % opts.evalEvery === 0) evaluate();
      await new Promise<void>((r) => setImmediate(r)); // let signals (Ctrl-C) be delivered
    }
    if (interrupted) {
      bar.clear();
      save();
      process.stderr.write(`interrupted at step ${state.step}: checkpoint saved in ${out}; continue with --resume\n`);
      return 130;
    }
    if (lastEval !== state.step) evaluate();
    bar.clear();
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    if (average !== null) disposeWeightAverage(average);
    model.dispose();
  }
}

function evaluate(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dir === undefined) throw new UsageError('classify eval needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('classify eval needs --data FILE');
  const { clf } = loadClassifier(dir, new Rng(0));
  const { config } = clf;
  const examples = parseLabeledLines(readTextFile(dataPath), dataPath);
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const truth = examples.map((e) => {
    const y = labelIndex.get(e.label);
    if (y === undefined) throw new Error(`${dataPath} line ${e.line}: unknown label ${JSON.stringify(e.label)} (the model knows ${config.labels.map((l) => JSON.stringify(l)).join(', ')})`);
    return y;
  });
  const seqs = examples.map((e) => clf.encode(cut(e.text, config.train.maxLength), dataPath, e.line));
  const pred = predictProbs(clf, seqs, config.train.batchSize).map(argmax);
  // Macro-F1 over the classes that occur in the data or in the predictions (scikit-learn's default set).
  const C = config.labels.length;
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
    perClass[config.labels[c]] = { precision, recall, f1 };
    f1Sum += f1;
    classes++;
  }
  const accuracy = tp.reduce((a, b) => a + b, 0) / truth.length;
  process.stdout.write(JSON.stringify({ accuracy, macroF1: f1Sum / classes, perClass }) + '\n');
  clf.module.dispose();
  return 0;
}

function predict(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  if (dir === undefined) throw new UsageError('classify predict needs --checkpoint DIR');
  const dataPath = str(v, 'data');
  const { clf } = loadClassifier(dir, new Rng(0));
  const { config } = clf;
  const what = dataPath ?? 'stdin';
  const text = dataPath === undefined ? readFileSync(0, 'utf8') : readTextFile(dataPath);
  // Every line is checked before anything is printed.
  const seqs = splitLines(text).map((l, i) => {
    if (l === '') throw new Error(`${what} line ${i + 1}: the line is empty (nothing to classify)`);
    return clf.encode(cut(l, config.train.maxLength), what, i + 1);
  });
  const lines = predictProbs(clf, seqs, config.train.batchSize).map((p) => {
    const c = argmax(p);
    return `${config.labels[c]}\t${p[c].toFixed(4)}\n`;
  });
  process.stdout.write(lines.join(''));
  clf.module.dispose();
  return 0;
}

export function classify(argv: string[]): Promise<number> {
  return runSubcommand('classify', CLASSIFY_HELP, { train, eval: evaluate, predict }, argv);
}
