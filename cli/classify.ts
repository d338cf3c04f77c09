// `recurrent classify train|eval|predict`: sequence classification from `label<TAB>text` lines, with a
// recurrent model over characters or the bag-of-words logistic-regression baseline (`--model bow`): the
// flags parsed into the classifier task (src/tasks/classifier.ts), trained by the engine (training-run.ts);
// eval and predict load its checkpoint.

import { readFileSync } from 'node:fs';
import { splitLines } from '../src/data/lines.js';
import { readTextFile } from '../src/data/text-file.js';
import { bowFeatureKinds } from '../src/nn/bag-of-words-classifier.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { poolKinds } from '../src/nn/sequence-classifier.js';
import { checkOptimizerName, optimizerNames, resolveOptimizerOptions } from '../src/optim/optimizer.js';
import {
  BOW_CLASSIFIER_FORMAT, CHAR_CLASSIFIER_FORMAT, argmax, classificationScores, classifierFromConfig, classifierTask, cutText, parseLabeledLines,
  predictProbs, type ClassifierCheckpointConfig, type ClassifierTaskOptions,
} from '../src/tasks/classifier.js';
import { loadCheckpointDirectory } from '../src/train/checkpoint-directory.js';
import type { EngineOptions } from '../src/train/engine.js';
import { UsageError, int, num, oneOf, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { fixed, formatDuration } from './progress.js';
import { ENGINE_OPTIONS, lrScheduleHelp, parseEngineFlags } from './engine-flags.js';
import { runTraining } from './training-run.js';

export const CLASSIFY_HELP = `recurrent classify: sequence classification from "label<TAB>text" lines

Usage:
  recurrent classify train   --data FILE [--model lstm|gru|rnn|...|bow] [--hidden N] [--layers N]
                             [--bidirectional] [--pool last|mean|max] [--dropout X]
                             [--max-words N] [--min-docs N] [--features binary|count|log]
                             [--max-length N] [--batch-size B] [--steps N | --time SECONDS] [--lr X]
                             [--lr-schedule NAME ...] [--optimizer NAME] [--weight-decay X] [--clip X] [--clip-value X]
                             [--ema D] [--eval-every N] [--seed S] [--out DIR] [--resume] [--backend NAME]
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
  --time SECONDS       train for this long instead of a number of steps (with --lr-schedule cosine: the whole
                       run, through --resume, and the rate decays over it)
  --lr X               learning rate (default 3e-3)
  --optimizer NAME     ${optimizerNames.join(', ')} (default adam)
  --weight-decay X     the optimizer's weight decay (L2; decoupled for adamw) (default: the optimizer's,
                       0 except adamw's 0.01)
  --clip X             clip the global gradient norm to X, 0 = off (default 5)
  --clip-value X       clip each gradient element to [-X, X], 0 = off (default 0)
  --ema D              keep a moving average of the weights, a <- d·a + (1 - d)·w after every step with
                       d = min(D, (1 + n)/(10 + n)) (e.g. 0.999; default 0: off). Validation scores it (and the
                       raw weights beside it), and the checkpoint's model is the average: what eval and predict use
${lrScheduleHelp(23)}
  --eval-every N       validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 100)
  --seed S             seed of the split, the initialisation and the batches (default 1)
  --out DIR            checkpoint directory (default runs/classifier)
  --resume             continue the checkpoint in --out exactly where it stopped (Ctrl-C saves one first)
${backendHelp(23)}

A character the recurrent model has not seen is an error naming the line and the character (there is no <unk>).`;


const CHAR_ONLY = ['hidden', 'layers', 'bidirectional', 'pool', 'dropout'] as const;
const BOW_ONLY = ['max-words', 'min-docs', 'features'] as const;

/** The task's and the engine's options from the command line, checked; options of the other kind of model are an error. */
function trainOptions(v: Record<string, string | boolean | undefined>): { task: ClassifierTaskOptions; engine: EngineOptions } {
  const modelName = oneOf(v, 'model', 'lstm', ['bow', 'rnn', ...cellKinds] as const);
  const isBow = modelName === 'bow';
  for (const k of isBow ? CHAR_ONLY : BOW_ONLY) {
    if (v[k] !== undefined) throw new UsageError(`--${k} applies to ${isBow ? 'the recurrent models' : '--model bow'}, not --model ${modelName}`);
  }
  const flags = parseEngineFlags(v, { steps: 500, lr: 3e-3, evalEvery: 100 });
  const weightDecay = v['weight-decay'] === undefined
    ? resolveOptimizerOptions(checkOptimizerName(flags.optimizer!)).weightDecay // recorded in config.json, as the run's other options
    : num(v, 'weight-decay', 0, (x) => x >= 0, 'a non-negative number');
  const engine: EngineOptions = { ...flags, optimizerOptions: { weightDecay } };
  const common = { maxLength: int(v, 'max-length', 0, 0), batchSize: int(v, 'batch-size', 32) };
  if (isBow) {
    return {
      task: { model: 'bow', maxWords: int(v, 'max-words', 20000), minDocs: int(v, 'min-docs', 2), features: oneOf(v, 'features', 'log', bowFeatureKinds), ...common },
      engine,
    };
  }
  return {
    task: {
      cell: modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind),
      hiddenSize: int(v, 'hidden', 64),
      numLayers: int(v, 'layers', 1),
      bidirectional: v.bidirectional === true,
      pool: oneOf(v, 'pool', 'last', poolKinds),
      dropout: num(v, 'dropout', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
      ...common,
    },
    engine,
  };
}

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, model: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' },
    bidirectional: { type: 'boolean' }, pool: { type: 'string' }, dropout: { type: 'string' },
    'max-words': { type: 'string' }, 'min-docs': { type: 'string' }, features: { type: 'string' },
    'max-length': { type: 'string' }, 'batch-size': { type: 'string' }, 'weight-decay': { type: 'string' },
    out: { type: 'string' }, backend: { type: 'string' }, ...ENGINE_OPTIONS,
  });
  selectBackend(v);
  const dataPath = str(v, 'data');
  if (dataPath === undefined) throw new UsageError('classify train needs --data FILE');
  const { task, engine } = trainOptions(v);
  return runTraining(classifierTask(readTextFile(dataPath), dataPath, task), engine, str(v, 'out') ?? 'runs/classifier', (m) => {
    const raw = m.raw as { valLoss: number; valAccuracy: number } | undefined;
    return `step ${m.step}: train loss ${fixed(m.trainLoss)}, val loss ${fixed(m.valLoss as number)}, val accuracy ${fixed(m.valAccuracy as number)}, ` +
      (raw === undefined ? '' : `(raw weights: val loss ${raw.valLoss.toFixed(4)}, accuracy ${raw.valAccuracy.toFixed(4)}), `) +
      `${formatDuration(m.elapsedSec as number)}`;
  });
}

function loadClassifier(dir: string) {
  return loadCheckpointDirectory(dir, [CHAR_CLASSIFIER_FORMAT, BOW_CLASSIFIER_FORMAT], 'recurrent classifier',
    (config: ClassifierCheckpointConfig, configPath) => classifierFromConfig(config, configPath));
}

function evaluate(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dir === undefined) throw new UsageError('classify eval needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('classify eval needs --data FILE');
  const clf = loadClassifier(dir);
  const { config } = clf;
  const examples = parseLabeledLines(readTextFile(dataPath), dataPath);
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const truth = examples.map((e) => {
    const y = labelIndex.get(e.label);
    if (y === undefined) throw new Error(`${dataPath} line ${e.line}: unknown label ${JSON.stringify(e.label)} (the model knows ${config.labels.map((l) => JSON.stringify(l)).join(', ')})`);
    return y;
  });
  const seqs = examples.map((e) => clf.encode(cutText(e.text, config.train.maxLength), dataPath, e.line));
  const pred = predictProbs(clf, seqs, config.train.batchSize).map(argmax);
  process.stdout.write(JSON.stringify(classificationScores(truth, pred, config.labels)) + '\n');
  clf.module.dispose();
  return 0;
}

function predict(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  if (dir === undefined) throw new UsageError('classify predict needs --checkpoint DIR');
  const dataPath = str(v, 'data');
  const clf = loadClassifier(dir);
  const { config } = clf;
  const what = dataPath ?? 'stdin';
  const text = dataPath === undefined ? readFileSync(0, 'utf8') : readTextFile(dataPath);
  // Every line is checked before anything is printed.
  const seqs = splitLines(text).map((l, i) => {
    if (l === '') throw new Error(`${what} line ${i + 1}: the line is empty (nothing to classify)`);
    return clf.encode(cutText(l, config.train.maxLength), what, i + 1);
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
