// `recurrent classify train|eval|predict`: character-level sequence classification from `label<TAB>text`
// lines. The vocabulary (characters) and the label set come from the training file; a seeded 90/10 split of
// its lines validates. Checkpoints: config.json + model.safetensors (+ training.safetensors for --resume),
// each written atomically. Characters outside the vocabulary are an error naming the line and the character
// (there is no <unk> id: a model never saw one, so its prediction would be a guess presented as an answer).

import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crossEntropy } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { backend } from '../src/backend/registry.js';
import { readTextFile } from '../src/data/text-file.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { readSafetensorsFileSync, writeFileAtomicSync } from '../src/io/checkpoint-file.js';
import { loadModelWeights } from '../src/train/model-weights.js';
import { encodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { SequenceClassifier, poolKinds, type SequenceClassifierConfig } from '../src/nn/sequence-classifier.js';
import { clipGradNorm } from '../src/optim/clip.js';
import {
  createOptimizer, optimizerNames, optimizerStateFromRecord, optimizerStateToRecord, optimizerStep, type OptimizerState,
} from '../src/optim/optimizer.js';
import { Rng, type RngState } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { dataFingerprint } from '../src/train/checkpoint.js';
import { UsageError, int, num, oneOf, parse, str } from './args.js';
import { ProgressBar, formatDuration } from './progress.js';

export const CLASSIFY_HELP = `recurrent classify: character-level sequence classification from "label<TAB>text" lines

Usage:
  recurrent classify train   --data FILE [--model lstm|gru|rnn|...] [--hidden N] [--layers N] [--bidirectional]
                             [--pool last|mean|max] [--batch-size B] [--steps N] [--lr X]
                             [--optimizer NAME] [--clip X] [--dropout X] [--eval-every N] [--seed S]
                             [--out DIR] [--resume]
  recurrent classify eval    --checkpoint DIR --data FILE      one JSON line: accuracy, macroF1, perClass
  recurrent classify predict --checkpoint DIR [--data FILE]    "label<TAB>probability" per text line
                                                               (reads stdin without --data)

  --data FILE          one example per line, "label<TAB>text" (predict: the text alone); every line must be
                       complete (no empty lines, labels or texts); the characters and labels of the training
                       file are the model's vocabulary and classes; 10% of its lines (seeded) validate
  --model NAME         ${['lstm', 'gru', 'rnn', ...cellKinds.filter((k) => !['lstm', 'gru'].includes(k))].join(', ')} (default lstm)
  --hidden N           hidden size, also the embedding size (default 64)
  --layers N           recurrent layers (default 1)
  --bidirectional      add a reverse direction; features are [forward, reverse]
  --pool NAME          last (final state of each direction), mean or max over each line's characters (default last)
  --batch-size B       lines per step (default 32)
  --steps N            training steps in all, counting those before --resume (default 500)
  --lr X               learning rate (default 3e-3)
  --optimizer NAME     ${optimizerNames.join(', ')} (default adam)
  --clip X             clip the global gradient norm to X, 0 = off (default 5)
  --dropout X          dropout between recurrent layers and on the pooled features (default 0)
  --eval-every N       validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 100)
  --seed S             seed of the split, the initialisation and the batches (default 1)
  --out DIR            checkpoint directory (default runs/classifier)
  --resume             continue the checkpoint in --out exactly where it stopped

A character the model has not seen is an error naming the line and the character (there is no <unk>).`;

const FORMAT = 'recurrent-sequence-classifier/1';

interface ClassifyTrainOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  pool: (typeof poolKinds)[number];
  batchSize: number;
  steps: number;
  lr: number;
  optimizer: string;
  clip: number;
  dropout: number;
  evalEvery: number;
  seed: number;
}

interface ClassifierCheckpointConfig {
  format: typeof FORMAT;
  model: Required<SequenceClassifierConfig>;
  vocab: string[];
  labels: string[];
  train: ClassifyTrainOptions;
  data: { name: string; chars: number; hash: string };
}

interface Example {
  label: string;
  text: string;
  /** 1-based line number in its file. */
  line: number;
}

/** The lines of a file; a final newline does not make an extra (empty) line. */
function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
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

/** Class probabilities (N, C) of every sequence, in chunks of `batchSize`, without the tape. */
function predictProbs(model: SequenceClassifier, seqs: readonly Int32Array[], batchSize: number): Float32Array[] {
  const wasTraining = model.training;
  model.eval();
  const C = model.config.numClasses;
  const out: Float32Array[] = [];
  try {
    for (let s = 0; s < seqs.length; s += batchSize) {
      const idx = Array.from({ length: Math.min(batchSize, seqs.length - s) }, (_, k) => s + k);
      const { ids, T, B, lengths } = makeBatch(seqs, idx);
      noGrad(() => tidy(() => {
        const logits = model.forward(ids, T, B, lengths).data; // (B, C)
        for (let b = 0; b < B; b++) {
          const row = logits.subarray(b * C, (b + 1) * C);
          const max = Math.max(...row);
          let z = 0;
          for (const v of row) z += Math.exp(v - max);
          out.push(Float32Array.from(row, (v) => Math.exp(v - max) / z));
        }
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

function checkpointExists(dir: string): boolean {
  return existsSync(join(dir, 'config.json'));
}

interface ClassifyTrainingState {
  step: number;
  rng: Rng;
  optimizer: OptimizerState;
  lossSum: number;
  lossCount: number;
  elapsedSec: number;
}

function saveClassifier(dir: string, config: ClassifierCheckpointConfig, model: SequenceClassifier, t: ClassifyTrainingState): void {
  mkdirSync(dir, { recursive: true });
  const weights = new Map<string, NamedArray>();
  for (const [name, p] of model.namedParameters()) weights.set(name, { dtype: 'F32', shape: [...p.shape], data: p.data.slice() });
  const opt = optimizerStateToRecord(t.optimizer);
  const slots = new Map<string, NamedArray>();
  for (const [name, v] of opt.tensors) slots.set(`optimizer.${name}`, { dtype: 'F32', shape: [...v.shape], data: v.data.slice() });
  const meta = { step: t.step, rng: t.rng.getState(), optimizer: opt.json, lossSum: t.lossSum, lossCount: t.lossCount, elapsedSec: t.elapsedSec };
  const step = String(t.step);
  writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileAtomicSync(join(dir, 'training.safetensors'), encodeSafetensors(slots, { format: FORMAT, step, training: JSON.stringify(meta) }));
  writeFileAtomicSync(join(dir, 'model.safetensors'), encodeSafetensors(weights, { format: FORMAT, step }));
}

function loadClassifier(dir: string, rng: Rng): { config: ClassifierCheckpointConfig; vocab: Vocabulary; model: SequenceClassifier; step: number } {
  const configPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new Error(`checkpoint directory ${dir} does not exist`);
  if (!existsSync(configPath)) throw new Error(`${dir} is not a checkpoint (no config.json)`);
  let config: ClassifierCheckpointConfig;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath} is corrupt: ${(e as Error).message}`);
  }
  if (config?.format !== FORMAT || !Array.isArray(config.vocab) || !Array.isArray(config.labels) || typeof config.model !== 'object' || config.model === null) {
    throw new Error(`${configPath} is not a recurrent classifier checkpoint (format ${JSON.stringify(config?.format)})`);
  }
  const vocab = new Vocabulary(config.vocab);
  if (config.model.vocabSize !== vocab.size || config.model.numClasses !== config.labels.length) {
    throw new Error(`${configPath} is inconsistent: the model's vocabulary or class count does not match its tables`);
  }
  const model = new SequenceClassifier(config.model, rng);
  const step = loadModelWeights(model, join(dir, 'model.safetensors'), configPath);
  return { config, vocab, model, step };
}

function loadTrainingState(dir: string, model: SequenceClassifier, rng: Rng, step: number): ClassifyTrainingState {
  const path = join(dir, 'training.safetensors');
  if (!existsSync(path)) throw new Error(`${dir} has no training.safetensors: it cannot be resumed`);
  const tr = readSafetensorsFileSync(path);
  let meta: { step: number; rng: RngState; optimizer: unknown; lossSum: number; lossCount: number; elapsedSec: number };
  try {
    meta = JSON.parse(tr.metadata.training ?? '');
  } catch {
    throw new Error(`${path} is corrupt: its training metadata is not JSON`);
  }
  for (const k of ['step', 'lossSum', 'lossCount', 'elapsedSec'] as const) {
    if (typeof meta[k] !== 'number' || !Number.isFinite(meta[k])) throw new Error(`${path} is corrupt: training.${k} is ${JSON.stringify(meta[k])}`);
  }
  if (!Array.isArray(meta.rng) || meta.rng.length !== 4 || !meta.rng.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) {
    throw new Error(`${path} is corrupt: the generator state is not four 32-bit integers`);
  }
  if (meta.step !== step) throw new Error(`${dir} is inconsistent: model.safetensors is at step ${step}, training.safetensors at step ${meta.step} (interrupted while saving?)`);
  rng.setState(meta.rng);
  const slots = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of tr.tensors) if (k.startsWith('optimizer.')) slots.set(k.slice('optimizer.'.length), { shape: v.shape, data: v.data as Float32Array });
  const optimizer = optimizerStateFromRecord({ json: meta.optimizer, tensors: slots }, model.namedParameters());
  return { step, rng, optimizer, lossSum: meta.lossSum, lossCount: meta.lossCount, elapsedSec: meta.elapsedSec };
}

// ---- the subcommands ----

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, model: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' },
    bidirectional: { type: 'boolean' }, pool: { type: 'string' }, 'batch-size': { type: 'string' }, steps: { type: 'string' },
    lr: { type: 'string' }, optimizer: { type: 'string' }, clip: { type: 'string' }, dropout: { type: 'string' },
    'eval-every': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
  });
  const dataPath = str(v, 'data');
  if (dataPath === undefined) throw new UsageError('classify train needs --data FILE');
  const modelName = oneOf(v, 'model', 'lstm', ['rnn', ...cellKinds] as const);
  const opts: ClassifyTrainOptions = {
    cell: modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind),
    hiddenSize: int(v, 'hidden', 64),
    numLayers: int(v, 'layers', 1),
    bidirectional: v.bidirectional === true,
    pool: oneOf(v, 'pool', 'last', poolKinds),
    batchSize: int(v, 'batch-size', 32),
    steps: int(v, 'steps', 500),
    lr: num(v, 'lr', 3e-3, (x) => x > 0, 'a positive number'),
    optimizer: oneOf(v, 'optimizer', 'adam', optimizerNames),
    clip: num(v, 'clip', 5, (x) => x >= 0, 'a non-negative number'),
    dropout: num(v, 'dropout', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    evalEvery: int(v, 'eval-every', 100),
    seed: int(v, 'seed', 1, 0),
  };
  const out = str(v, 'out') ?? 'runs/classifier';
  const resume = v.resume === true;

  const text = readTextFile(dataPath);
  const examples = parseLabeledLines(text, dataPath);
  if (examples.length < 2) throw new Error(`${dataPath} has ${examples.length} example; training needs at least 2 (one to validate)`);
  const fingerprint = dataFingerprint(text);
  if (!resume && checkpointExists(out)) throw new Error(`${out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);

  let config: ClassifierCheckpointConfig;
  let vocab: Vocabulary;
  let model: SequenceClassifier;
  let state: ClassifyTrainingState;
  const rng = new Rng(opts.seed);
  if (resume && checkpointExists(out)) {
    const ck = loadClassifier(out, rng);
    ({ config, vocab, model } = ck);
    for (const k of Object.keys(opts) as Array<keyof ClassifyTrainOptions>) {
      if (k !== 'steps' && k !== 'evalEvery' && config.train[k] !== opts[k]) {
        throw new Error(`cannot resume ${out}: it was trained with ${k} ${String(config.train[k])}, this run asks for ${String(opts[k])}`);
      }
    }
    if (config.data.hash !== fingerprint.hash || config.data.chars !== fingerprint.chars) {
      throw new Error(`cannot resume ${out}: it was trained on different data (${config.data.name}, ${config.data.chars} characters)`);
    }
    state = loadTrainingState(out, model, rng, ck.step);
    config = { ...config, train: opts };
  } else {
    vocab = Vocabulary.fromText(examples.map((e) => e.text).join(''));
    const labels = [...new Set(examples.map((e) => e.label))].sort();
    if (labels.length < 2) throw new Error(`${dataPath} has a single label ${JSON.stringify(labels[0])}; classification needs at least 2`);
    model = new SequenceClassifier({
      cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers,
      bidirectional: opts.bidirectional, dropout: opts.dropout, numClasses: labels.length, pool: opts.pool,
    }, rng);
    config = { format: FORMAT, model: model.config, vocab: [...vocab.chars], labels, train: opts, data: { name: dataPath, ...fingerprint } };
    state = { step: 0, rng, optimizer: createOptimizer(opts.optimizer, model.namedParameters(), { lr: opts.lr }), lossSum: 0, lossCount: 0, elapsedSec: 0 };
  }

  // --- data: a seeded shuffle of the lines, the first 10% (at least one) validate ---
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const seqs = examples.map((e) => encodeLine(vocab, e.text, dataPath, e.line));
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
  const elapsed = (): number => state.elapsedSec + (performance.now() - start) / 1000;
  let chars = 0;
  let lastEval = -1;
  const evaluate = (): void => {
    const probs = predictProbs(model, valSeqs, opts.batchSize);
    let nll = 0;
    let correct = 0;
    probs.forEach((p, k) => {
      const y = targets[valIdx[k]];
      nll -= Math.log(Math.max(p[y], 1e-30));
      correct += Number(argmax(p) === y);
    });
    const m = {
      step: state.step,
      trainLoss: state.lossCount > 0 ? state.lossSum / state.lossCount : NaN,
      valLoss: nll / probs.length,
      valAccuracy: correct / probs.length,
      elapsedSec: elapsed(),
    };
    if (!Number.isFinite(m.valLoss)) throw new Error(`validation loss became ${m.valLoss} at step ${state.step}; stopped, the last good checkpoint in ${out} is kept`);
    bar.clear();
    process.stdout.write(`step ${m.step}: train loss ${m.trainLoss.toFixed(4)}, val loss ${m.valLoss.toFixed(4)}, val accuracy ${m.valAccuracy.toFixed(4)}, ${formatDuration(m.elapsedSec)}\n`);
    state.lossSum = 0;
    state.lossCount = 0;
    saveClassifier(out, config, model, { ...state, elapsedSec: elapsed() });
    appendFileSync(metricsPath, JSON.stringify(m) + '\n');
    lastEval = state.step;
  };

  process.stdout.write(
    `training ${opts.cell} ${opts.numLayers}×${opts.hiddenSize}${opts.bidirectional ? ' bidirectional' : ''} (pool ${opts.pool}) on ${dataPath}: ` +
      `${trainIdx.length} training and ${valIdx.length} validation lines, ${config.labels.length} labels, ${vocab.size} characters; checkpoints in ${out}\n`,
  );
  const runStart = performance.now();
  const firstStep = state.step;
  while (state.step < opts.steps) {
    const idx = Array.from({ length: opts.batchSize }, () => trainIdx[state.rng.int(trainIdx.length)]);
    const { ids, T, B, lengths } = makeBatch(seqs, idx);
    const labels = Int32Array.from(idx, (i) => targets[i]);
    model.train();
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(ids, T, B, lengths), labels); // logits (B, C)
      const value = l.item();
      if (Number.isFinite(value)) backward(l);
      return value;
    });
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
    const norm = opts.clip > 0 ? clipGradNorm(model.parameters(), opts.clip) : Math.sqrt(model.parameters().reduce((s, p) => s + (p.grad === null ? 0 : backend().sumSquares(p.grad.data)), 0));
    if (!Number.isFinite(norm)) throw new Error(`gradient norm became ${norm} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
    noGrad(() => optimizerStep(state.optimizer, params));
    model.zeroGrad();
    state.step++;
    state.lossSum += loss;
    state.lossCount++;
    chars += lengths.reduce((a, b) => a + b, 0);
    const sec = (performance.now() - runStart) / 1000;
    bar.update({ step: state.step, totalSteps: opts.steps, loss, tokensPerSec: chars / Math.max(1e-9, sec), etaSec: ((opts.steps - state.step) * sec) / (state.step - firstStep) });
    if (state.step % opts.evalEvery === 0) evaluate();
  }
  if (lastEval !== state.step) evaluate();
  bar.clear();
  model.dispose();
  return 0;
}

function evaluate(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' } });
  const dir = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dir === undefined) throw new UsageError('classify eval needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('classify eval needs --data FILE');
  const { config, vocab, model } = loadClassifier(dir, new Rng(0));
  const examples = parseLabeledLines(readTextFile(dataPath), dataPath);
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const truth = examples.map((e) => {
    const y = labelIndex.get(e.label);
    if (y === undefined) throw new Error(`${dataPath} line ${e.line}: unknown label ${JSON.stringify(e.label)} (the model knows ${config.labels.map((l) => JSON.stringify(l)).join(', ')})`);
    return y;
  });
  const seqs = examples.map((e) => encodeLine(vocab, e.text, dataPath, e.line));
  const pred = predictProbs(model, seqs, config.train.batchSize).map(argmax);
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
  model.dispose();
  return 0;
}

function predict(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' } });
  const dir = str(v, 'checkpoint');
  if (dir === undefined) throw new UsageError('classify predict needs --checkpoint DIR');
  const dataPath = str(v, 'data');
  const { config, vocab, model } = loadClassifier(dir, new Rng(0));
  const what = dataPath ?? 'stdin';
  const text = dataPath === undefined ? readFileSync(0, 'utf8') : readTextFile(dataPath);
  // Every line is checked before anything is printed.
  const seqs = splitLines(text).map((l, i) => {
    if (l === '') throw new Error(`${what} line ${i + 1}: the line is empty (nothing to classify)`);
    return encodeLine(vocab, l, what, i + 1);
  });
  const lines = predictProbs(model, seqs, config.train.batchSize).map((p) => {
    const c = argmax(p);
    return `${config.labels[c]}\t${p[c].toFixed(4)}\n`;
  });
  process.stdout.write(lines.join(''));
  model.dispose();
  return 0;
}

export async function classify(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'train':
      return train(rest);
    case 'eval':
      return evaluate(rest);
    case 'predict':
      return predict(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(CLASSIFY_HELP + '\n');
      return 0;
    case undefined:
      process.stdout.write(CLASSIFY_HELP + '\n');
      return 2;
    default:
      throw new UsageError(`unknown classify command "${cmd}" (commands: train, eval, predict, help)`);
  }
}
