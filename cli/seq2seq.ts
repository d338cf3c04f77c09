// `recurrent seq2seq train|eval|decode`: encoder–decoders on `source<TAB>target` lines (one pair per
// line, each side split into characters or space-separated tokens). The vocabularies come from the
// training file; a held-out file (--val, or a seeded 5% of the training sources) validates. Checkpoints
// follow src/train/task-checkpoint.ts; several checkpoints given to eval/decode run as an ensemble.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward } from '../src/autograd/tape.js';
import { lengthBucketedBatches } from '../src/data/length-buckets.js';
import {
  TokenVocabulary, parseParallelText, parseSourceLines, tokenSplits, type ParallelPair, type TokenSplit,
} from '../src/data/parallel-text.js';
import { readTextFile } from '../src/data/text-file.js';
import { beamSearch } from '../src/decode/beam-search.js';
import { greedyDecode, sampleDecode, type Hypothesis } from '../src/decode/greedy.js';
import { scoreSequences } from '../src/metrics/sequence-metrics.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { teacherForcingProbability, validateSamplingSchedule, type SamplingSchedule } from '../src/nn/scheduled-sampling.js';
import { IGNORE_INDEX, Seq2Seq, seq2seqAttentionKinds, type Seq2SeqAttention, type Seq2SeqConfig } from '../src/nn/seq2seq.js';
import { clipGradNorm, gradNorm } from '../src/optim/clip.js';
import { createOptimizer, optimizerNames, optimizerStep } from '../src/optim/optimizer.js';
import { budgetSecondsLeft, createSchedule, type ScheduleSpec } from '../src/optim/schedule.js';
import { createWeightAverage, disposeWeightAverage, updateWeightAverage, withAveragedWeights } from '../src/optim/weight-average.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { dataFingerprint } from '../src/train/checkpoint.js';
import {
  loadTaskTraining, loadTaskWeights, readTaskConfig, saveTaskCheckpoint, taskCheckpointExists, type TaskTrainingState,
} from '../src/train/task-checkpoint.js';
import { UsageError, int, num, oneOf, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { LR_SCHEDULE_OPTIONS, lrScheduleHelp, parseLrSchedule } from './schedule-flags.js';
import { ProgressBar, formatDuration } from './progress.js';

export const SEQ2SEQ_HELP = `recurrent seq2seq: encoder–decoders (with attention) on "source<TAB>target" lines

Usage:
  recurrent seq2seq train  --data FILE [--val FILE] [--src-split char|space] [--tgt-split char|space]
                           [--model lstm|gru|rnn|...] [--embedding N] [--hidden N] [--encoder-hidden N] [--layers N]
                           [--bidirectional] [--attention none|bahdanau|luong-dot|luong-general] [--input-feeding]
                           [--attention-size N] [--dropout X] [--teacher-forcing SCHEDULE] [--feedback sample|argmax] [--batch-size B]
                           [--steps N | --time SECONDS] [--lr X] [--lr-schedule NAME ...] [--optimizer NAME] [--clip X]
                           [--label-smoothing E] [--ema D] [--eval-every N] [--seed S] [--out DIR] [--resume] [--backend NAME]
  recurrent seq2seq eval   --checkpoint DIR[,DIR...] --data FILE [--beam K] [--length-penalty A] [--max-length N]
                           [--backend NAME]
  recurrent seq2seq decode --checkpoint DIR[,DIR...] [--data FILE] [--beam K] [--nbest N] [--length-penalty A]
                           [--sample] [--temperature X] [--top-k K] [--top-p P] [--seed S] [--max-length N]
                           [--attention-out FILE] [--backend NAME]

  --data FILE            train/eval: one pair per line, "source<TAB>target"; decode: one source per line
                         (stdin without --data). Several lines with the same source are alternative references:
                         eval counts a hypothesis right if it equals any of them
  --val FILE             held-out pairs to validate on (default: a seeded 5% of the training sources)
  --src-split, --tgt-split  tokens of each side: char (every character) or space (space-separated), default char
  --model NAME           ${['lstm', 'gru', 'rnn', ...cellKinds.filter((k) => !['lstm', 'gru'].includes(k))].join(', ')} (default lstm)
  --embedding N          width of both embeddings (default: --hidden)
  --hidden N             hidden size of the decoder, and of the encoder unless --encoder-hidden (default 128)
  --encoder-hidden N     hidden size of the encoder, per direction (default --hidden)
  --layers N             layers of encoder and decoder (default 1)
  --bidirectional        a bidirectional encoder (its final states are bridged to the decoder)
  --attention NAME       ${seq2seqAttentionKinds.join(', ')} (default luong-general)
  --input-feeding        Luong attention: feed the previous attentional state into the decoder
  --attention-size N     bahdanau attention: width of the score's hidden layer (default --hidden)
  --dropout X            dropout on the embeddings, between layers and before the output layer, in [0, 1) (default 0)
  --teacher-forcing S    probability of feeding the gold previous token, per training step i (Bengio et al. 2015):
                           P                    constant, e.g. 1 (teacher forcing, the default) or 0.75
                           linear:K,C,MIN       max(MIN, K - C·i)
                           exponential:K        K^i, 0 < K < 1
                           inverse-sigmoid:K    K / (K + exp(i / K)), K >= 1
  --feedback NAME        the model's own token when not teacher forcing: sample or argmax (default sample)
  --batch-size B         pairs per step, grouped by length (default 64)
  --steps N              training steps in all, counting those before --resume (default 2000)
  --time SECONDS         train for this long instead of a number of steps (with --lr-schedule cosine: the whole
                         run, through --resume, and the rate decays over it)
  --lr X                 learning rate (default 2e-3)
  --optimizer NAME       ${optimizerNames.join(', ')} (default adam)
  --clip X               clip the global gradient norm to X, 0 = off (default 5)
  --label-smoothing E    train on (1 - E)·onehot + E/V targets, in [0, 1) (default 0; validation loss is unsmoothed)
  --ema D                keep a moving average of the weights, a <- d·a + (1 - d)·w after every step with
                         d = min(D, (1 + n)/(10 + n)) (e.g. 0.999; default 0: off). Validation scores it (and the raw
                         weights beside it), and the checkpoint's model is the average: what eval and decode use
${lrScheduleHelp(25)}
  --eval-every N         validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 500)
  --seed S               seed of the split, the initialisation, the batches and scheduled sampling (default 1)
  --out DIR              checkpoint directory (default runs/seq2seq)
  --resume               continue the checkpoint in --out exactly where it stopped
  --checkpoint DIRS      a checkpoint, or several separated by commas: an ensemble (their vocabularies must match)
  --beam K               beam search of width K (default 1: greedy)
  --length-penalty A     beam search: rank by log p / length^A (default 1)
  --nbest N              decode: print the N best hypotheses of the beam with their scores (default 1)
  --sample               decode: sample instead of searching (--temperature, --top-k, --top-p, --seed)
  --max-length N         most target tokens per decoded sequence (default: 2 × the source length + 10)
  --attention-out FILE   decode: write each hypothesis's attention weights as JSON lines
${backendHelp(25)}

eval prints one JSON line: loss and tokenAccuracy under teacher forcing, then sequenceAccuracy, tokenErrorRate
(edit distance / reference length: the phoneme error rate, PER, of G2P) and sequenceErrorRate (the word error
rate, WER, of G2P) of the decoded hypotheses. A token the model has not seen is an error naming the line.`;

const FORMAT = 'recurrent-seq2seq/1';
const BOS = '<s>';
const EOS = '</s>';

interface Seq2SeqTrainOptions {
  srcSplit: TokenSplit;
  tgtSplit: TokenSplit;
  teacherForcing: SamplingSchedule;
  feedback: 'sample' | 'argmax';
  batchSize: number;
  steps: number | null;
  timeSec: number | null;
  lr: number;
  schedule: ScheduleSpec;
  optimizer: string;
  clip: number;
  /** Absent in checkpoints from before the option: 0. */
  labelSmoothing: number;
  /** Decay of the weights' moving average, 0 = none. Absent in checkpoints from before the option: 0. */
  ema: number;
  evalEvery: number;
  seed: number;
}

interface Seq2SeqCheckpointConfig {
  format: typeof FORMAT;
  model: Seq2SeqConfig;
  srcVocab: string[];
  tgtVocab: string[];
  train: Seq2SeqTrainOptions;
  data: { name: string; chars: number; hash: string };
}

interface Loaded {
  dir: string;
  config: Seq2SeqCheckpointConfig;
  src: TokenVocabulary;
  tgt: TokenVocabulary;
  model: Seq2Seq;
  step: number;
}

/** Pairs as ids: `src` ids, `tgt` ids (without bos/eos). */
interface Encoded {
  src: Int32Array[];
  tgt: Int32Array[];
}

function encodePairs(pairs: readonly ParallelPair[], src: TokenVocabulary, tgt: TokenVocabulary, what: string): Encoded {
  return {
    src: pairs.map((p) => src.encode(p.src, `${what} line ${p.line}, source`)),
    tgt: pairs.map((p) => tgt.encode(p.tgt, `${what} line ${p.line}, target`)),
  };
}

/** Groups pairs by source (alternative references); returns the distinct sources and their references, in first-seen order. */
function groupBySource(pairs: readonly ParallelPair[]): Array<{ pair: ParallelPair; refs: string[][] }> {
  const bySrc = new Map<string, { pair: ParallelPair; refs: string[][] }>();
  for (const p of pairs) {
    const key = p.src.join('\u0000');
    const g = bySrc.get(key);
    if (g === undefined) bySrc.set(key, { pair: p, refs: [p.tgt] });
    else g.refs.push(p.tgt);
  }
  return [...bySrc.values()];
}

function parseSchedule(raw: string | undefined): SamplingSchedule {
  if (raw === undefined) return { kind: 'constant', p: 1 };
  const bad = (why: string): never => {
    throw new UsageError(`--teacher-forcing "${raw}": ${why} (give P, linear:K,C,MIN, exponential:K or inverse-sigmoid:K)`);
  };
  const [kind, args = ''] = raw.includes(':') ? raw.split(/:(.*)/s) : ['constant', raw];
  const xs = args.split(',').map((a) => (a.trim() === '' ? NaN : Number(a)));
  const want = (n: number): number[] => (xs.length === n && xs.every(Number.isFinite) ? xs : bad(`expected ${n} number${n > 1 ? 's' : ''}`));
  let s: SamplingSchedule;
  switch (kind) {
    case 'constant': s = { kind, p: want(1)[0] }; break;
    case 'linear': { const [k, c, min] = want(3); s = { kind, k, c, min }; break; }
    case 'exponential': s = { kind, k: want(1)[0] }; break;
    case 'inverse-sigmoid': s = { kind, k: want(1)[0] }; break;
    default: return bad(`unknown schedule "${kind}"`);
  }
  try {
    validateSamplingSchedule(s);
  } catch (e) {
    bad((e as Error).message);
  }
  return s;
}

// ---- checkpoints ----

/** `rng` becomes the model's dropout generator: training resumes with the run's own (its state restored after). */
function loadSeq2Seq(dir: string, rng = new Rng(0)): Loaded {
  const config = readTaskConfig<Seq2SeqCheckpointConfig>(dir, FORMAT, 'recurrent seq2seq');
  const path = join(dir, 'config.json');
  if (!Array.isArray(config.srcVocab) || !Array.isArray(config.tgtVocab) || config.model === null || typeof config.model !== 'object') {
    throw new Error(`${path} is corrupt: it lacks the model or a vocabulary`);
  }
  const src = new TokenVocabulary(config.srcVocab);
  const tgt = new TokenVocabulary(config.tgtVocab);
  if (config.model.srcVocabSize !== src.size || config.model.tgtVocabSize !== tgt.size) {
    throw new Error(`${path} is inconsistent: the model's vocabulary sizes do not match its vocabularies`);
  }
  const model = new Seq2Seq(config.model, rng);
  const step = loadTaskWeights(dir, model);
  return { dir, config, src, tgt, model, step };
}

/** Several checkpoints (comma-separated) as an ensemble: their vocabularies and token splits must be identical. */
function loadEnsemble(dirs: string): Loaded[] {
  const list = dirs.split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (list.length === 0) throw new UsageError('--checkpoint needs a directory');
  const members = list.map((d) => loadSeq2Seq(d));
  for (const m of members) m.model.eval(); // eval and decode are inference: no dropout
  const [m0] = members;
  for (const m of members.slice(1)) {
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(m.config.srcVocab, m0.config.srcVocab) || !same(m.config.tgtVocab, m0.config.tgtVocab)) {
      throw new Error(`ensemble: ${m.dir} has different vocabularies from ${m0.dir} (every member must be trained on the same token sets)`);
    }
    if (m.config.train.srcSplit !== m0.config.train.srcSplit || m.config.train.tgtSplit !== m0.config.train.tgtSplit) {
      throw new Error(`ensemble: ${m.dir} splits its tokens differently from ${m0.dir}`);
    }
  }
  return members;
}

// ---- evaluation ----

interface DecodeOptions {
  beam: number;
  lengthPenalty: number;
  maxLength: number | null;
}

/** Hypotheses (best first per source) for every source, decoded in batches (greedy) or one by one (beam). */
function decodeAll(models: Seq2Seq[], srcs: readonly Int32Array[], o: DecodeOptions & { nBest?: number }, batchSize = 64): Hypothesis[][] {
  const maxLen = (s: Int32Array): number => o.maxLength ?? 2 * s.length + 10;
  const out: Hypothesis[][] = [];
  if (o.beam === 1) {
    for (let i = 0; i < srcs.length; i += batchSize) {
      const chunk = srcs.slice(i, i + batchSize);
      const hyps = greedyDecode(models, chunk, { maxLength: Math.max(...chunk.map(maxLen)) });
      // A batch decodes to its longest limit; cut each row back to its own.
      hyps.forEach((h, b) => out.push([cutTo(h, maxLen(chunk[b]))]));
    }
    return out;
  }
  for (const s of srcs) out.push(beamSearch(models, s, { beamWidth: o.beam, maxLength: maxLen(s), lengthPenalty: o.lengthPenalty, nBest: o.nBest ?? 1 }));
  return out;
}

function cutTo(h: Hypothesis, n: number): Hypothesis {
  if (h.tokens.length + (h.finished ? 1 : 0) <= n) return h;
  return { ...h, tokens: h.tokens.slice(0, n), finished: false, weights: h.weights?.slice(0, n) ?? null };
}

/** Teacher-forced mean loss per target token (eos included) and argmax token accuracy. */
function teacherForcedScores(model: Seq2Seq, data: Encoded, batchSize: number): { loss: number; tokenAccuracy: number } {
  let lossSum = 0;
  let tokens = 0;
  let right = 0;
  const V = model.config.tgtVocabSize;
  for (let i = 0; i < data.src.length; i += batchSize) {
    const batch = { src: data.src.slice(i, i + batchSize), tgt: data.tgt.slice(i, i + batchSize) };
    noGrad(() => tidy(() => {
      const out = model.forward(batch);
      const n = out.targets.reduce((a, t) => a + (t === IGNORE_INDEX ? 0 : 1), 0);
      lossSum += out.loss.item() * n;
      tokens += n;
      const logits = out.logits.data; // (T, B, V)
      out.targets.forEach((t, r) => {
        if (t === IGNORE_INDEX) return;
        let best = 0;
        for (let j = 1; j < V; j++) if (logits[r * V + j] > logits[r * V + best]) best = j;
        if (best === t) right++;
      });
    }));
  }
  return { loss: lossSum / tokens, tokenAccuracy: right / tokens };
}

/** Decoding scores over sources grouped with all their references. */
function decodedScores(models: Seq2Seq[], groups: ReturnType<typeof groupBySource>, src: TokenVocabulary, tgt: TokenVocabulary, o: DecodeOptions, what: string) {
  const srcs = groups.map((g) => src.encode(g.pair.src, `${what} line ${g.pair.line}, source`));
  const hyps = decodeAll(models, srcs, o).map((h) => tgt.decode(h[0].tokens));
  return scoreSequences(hyps, groups.map((g) => g.refs));
}

// ---- the subcommands ----

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, val: { type: 'string' }, 'src-split': { type: 'string' }, 'tgt-split': { type: 'string' },
    model: { type: 'string' }, embedding: { type: 'string' }, hidden: { type: 'string' }, 'encoder-hidden': { type: 'string' }, layers: { type: 'string' },
    bidirectional: { type: 'boolean' }, attention: { type: 'string' }, 'input-feeding': { type: 'boolean' }, 'attention-size': { type: 'string' },
    dropout: { type: 'string' }, 'teacher-forcing': { type: 'string' }, feedback: { type: 'string' }, 'batch-size': { type: 'string' }, steps: { type: 'string' },
    time: { type: 'string' }, lr: { type: 'string' }, optimizer: { type: 'string' }, clip: { type: 'string' }, 'label-smoothing': { type: 'string' }, ema: { type: 'string' },
    'eval-every': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, backend: { type: 'string' },
    ...LR_SCHEDULE_OPTIONS,
  });
  selectBackend(v);
  const dataPath = str(v, 'data');
  if (dataPath === undefined) throw new UsageError('seq2seq train needs --data FILE');
  if (v.steps !== undefined && v.time !== undefined) throw new UsageError('give --steps or --time, not both');
  const modelName = oneOf(v, 'model', 'lstm', ['rnn', ...cellKinds] as const);
  const hidden = int(v, 'hidden', 128);
  const attention = oneOf(v, 'attention', 'luong-general', seq2seqAttentionKinds) as Seq2SeqAttention;
  const dropout = num(v, 'dropout', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const steps = v.time === undefined ? int(v, 'steps', 2000) : null;
  const timeSec = v.time === undefined ? null : num(v, 'time', 0, (x) => x > 0, 'a positive number of seconds');
  const opts: Seq2SeqTrainOptions = {
    srcSplit: oneOf(v, 'src-split', 'char', tokenSplits),
    tgtSplit: oneOf(v, 'tgt-split', 'char', tokenSplits),
    teacherForcing: parseSchedule(str(v, 'teacher-forcing')),
    feedback: oneOf(v, 'feedback', 'sample', ['sample', 'argmax'] as const),
    batchSize: int(v, 'batch-size', 64),
    steps,
    timeSec,
    lr: num(v, 'lr', 2e-3, (x) => x > 0, 'a positive number'),
    schedule: parseLrSchedule(v, steps, timeSec),
    optimizer: oneOf(v, 'optimizer', 'adam', optimizerNames),
    clip: num(v, 'clip', 5, (x) => x >= 0, 'a non-negative number'),
    labelSmoothing: num(v, 'label-smoothing', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    ema: num(v, 'ema', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1) (0: off)'),
    evalEvery: int(v, 'eval-every', 500),
    seed: int(v, 'seed', 1, 0),
  };
  if (v['input-feeding'] === true && !attention.startsWith('luong')) throw new UsageError(`--input-feeding applies to Luong attention, not --attention ${attention}`);
  if (v['attention-size'] !== undefined && attention !== 'bahdanau') throw new UsageError(`--attention-size applies to --attention bahdanau, not ${attention}`);
  const out = str(v, 'out') ?? 'runs/seq2seq';
  const resume = v.resume === true;
  if (!resume && taskCheckpointExists(out)) throw new Error(`${out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);

  const text = readTextFile(dataPath);
  const fingerprint = dataFingerprint(text);
  const splits = { src: opts.srcSplit, tgt: opts.tgtSplit };
  const all = parseParallelText(text, dataPath, splits);
  for (const p of all) {
    for (const t of p.tgt) if (t === BOS || t === EOS) throw new Error(`${dataPath} line ${p.line}: the target token ${t} is reserved (start and end of a target)`);
  }
  const valPath = str(v, 'val');
  let trainPairs: ParallelPair[];
  let valPairs: ParallelPair[];
  if (valPath !== undefined) {
    trainPairs = all;
    valPairs = parseParallelText(readTextFile(valPath), valPath, splits);
  } else {
    // A seeded 5% of the distinct sources (with all their targets), so no source is on both sides.
    const groups = groupBySource(all);
    if (groups.length < 2) throw new Error(`${dataPath} has ${groups.length} distinct source; training needs at least 2 (one to validate) or --val FILE`);
    const pick = new Rng(opts.seed ^ 0x5eed);
    const order = groups.map((_, i) => i);
    const nVal = Math.max(1, Math.round(groups.length * 0.05));
    for (let i = 0; i < nVal; i++) {
      const j = i + pick.int(order.length - i); // a partial Fisher–Yates shuffle: the first nVal are the sample
      [order[i], order[j]] = [order[j], order[i]];
    }
    const heldKeys = new Set(order.slice(0, nVal).map((i) => groups[i].pair.src.join('\u0000')));
    trainPairs = all.filter((p) => !heldKeys.has(p.src.join('\u0000')));
    valPairs = all.filter((p) => heldKeys.has(p.src.join('\u0000')));
  }

  let config: Seq2SeqCheckpointConfig;
  let src: TokenVocabulary;
  let tgt: TokenVocabulary;
  let model: Seq2Seq;
  let state: TaskTrainingState;
  const rng = new Rng(opts.seed);
  if (resume && taskCheckpointExists(out)) {
    const ck = loadSeq2Seq(out, rng); // the model draws its dropout masks from the run's generator
    ({ config, src, tgt, model } = ck);
    const s = config.train;
    for (const k of ['srcSplit', 'tgtSplit', 'batchSize', 'optimizer', 'seed', 'labelSmoothing', 'ema'] as const) {
      if ((s[k] ?? 0) !== opts[k]) throw new Error(`cannot resume ${out}: it was trained with ${k} ${String(s[k])}, this run asks for ${String(opts[k])}`);
    }
    if (config.data.hash !== fingerprint.hash) throw new Error(`cannot resume ${out}: it was trained on different data (${config.data.name})`);
    // The model is the checkpoint's: a model flag given on resume must agree with it, never be ignored.
    const asked: Array<[string, keyof Seq2SeqConfig, unknown]> = [
      ['model', 'cell', modelName === 'rnn' ? 'rnn_tanh' : modelName], ['hidden', 'hiddenSize', hidden], ['embedding', 'embeddingSize', int(v, 'embedding', hidden)],
      ['encoder-hidden', 'encoderHiddenSize', int(v, 'encoder-hidden', hidden)], ['layers', 'numLayers', int(v, 'layers', 1)], ['bidirectional', 'bidirectional', true], ['attention', 'attention', attention],
      ['input-feeding', 'inputFeeding', true], ['attention-size', 'attentionSize', int(v, 'attention-size', hidden)],
      ['dropout', 'dropout', dropout],
    ];
    // What a key absent from an older config means (Seq2Seq's defaults).
    const defaults: Partial<Record<keyof Seq2SeqConfig, unknown>> = {
      numLayers: 1, bidirectional: false, inputFeeding: false, dropout: 0, encoderHiddenSize: config.model.hiddenSize,
    };
    for (const [flag, key, want] of asked) {
      const had = config.model[key] ?? defaults[key];
      if (v[flag] !== undefined && had !== want) throw new Error(`cannot resume ${out}: its model has ${key} ${String(had)}, this run asks for --${flag} ${String(v[flag] === true ? '' : v[flag]).trim() || '(set)'}`);
    }
    state = loadTaskTraining(out, model, rng, ck.step);
    if ((state.average ?? null) === null && opts.ema > 0) throw new Error(`${out} is corrupt: it was trained with --ema ${opts.ema}, but training.safetensors holds no weight average`);
    config = { ...config, train: opts };
  } else {
    // The vocabularies of the whole --data file (its held-out part included): tokens only a --val file has are an error.
    src = TokenVocabulary.fromSequences(all.map((p) => p.src));
    tgt = TokenVocabulary.fromSequences(all.map((p) => p.tgt), [BOS, EOS]);
    const modelConfig: Seq2SeqConfig = {
      cell: modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind),
      srcVocabSize: src.size, tgtVocabSize: tgt.size,
      embeddingSize: int(v, 'embedding', hidden), hiddenSize: hidden, numLayers: int(v, 'layers', 1),
      ...(v['encoder-hidden'] === undefined ? {} : { encoderHiddenSize: int(v, 'encoder-hidden', hidden) }),
      bidirectional: v.bidirectional === true, attention, inputFeeding: v['input-feeding'] === true,
      ...(v['attention-size'] === undefined ? {} : { attentionSize: int(v, 'attention-size', hidden) }),
      dropout, bos: tgt.id(BOS)!, eos: tgt.id(EOS)!,
    };
    model = new Seq2Seq(modelConfig, rng);
    config = { format: FORMAT, model: modelConfig, srcVocab: [...src.tokens], tgtVocab: [...tgt.tokens], train: opts, data: { name: dataPath, ...fingerprint } };
    state = {
      step: 0, rng, optimizer: createOptimizer(opts.optimizer, model.namedParameters(), { lr: opts.lr }), counters: {},
      average: opts.ema > 0 ? createWeightAverage(model.namedParameters(), opts.ema) : null,
    };
  }
  const trainSet = encodePairs(trainPairs, src, tgt, dataPath);
  const valSet = encodePairs(valPairs, src, tgt, valPath ?? `${dataPath} (validation)`);
  const valGroups = groupBySource(valPairs);
  const lengths = trainSet.tgt.map((t, i) => Math.max(t.length, trainSet.src[i].length));
  const c = state.counters;
  let epoch = c.epoch ?? 0;
  let batchIndex = c.batchIndex ?? 0;
  let lossSum = c.lossSum ?? 0;
  let lossCount = c.lossCount ?? 0;
  let tokens = c.tokens ?? 0;
  const trainSecBefore = c.trainSec ?? 0;
  const elapsedBefore = c.elapsedSec ?? 0;
  let trainSec = 0;
  let batches = lengthBucketedBatches(lengths, opts.batchSize, opts.seed, epoch);
  const params = model.namedParameters();
  const average = state.average ?? null;
  const lrAt = createSchedule(opts.schedule, opts.lr);
  let lr = lrAt(state.step, elapsedBefore); // the rate of the last update
  const metricsPath = join(out, 'metrics.jsonl');
  const start = performance.now();
  const elapsed = (): number => elapsedBefore + (performance.now() - start) / 1000;
  const save = (): void => {
    state.counters = { epoch, batchIndex, lossSum, lossCount, tokens, trainSec: trainSecBefore + trainSec, elapsedSec: elapsed() };
    saveTaskCheckpoint(out, FORMAT, { model: config.model, srcVocab: config.srcVocab, tgtVocab: config.tgtVocab, train: config.train, data: config.data }, model, state);
  };
  const bar = new ProgressBar();
  let lastEval = -1;
  const evaluate = (): void => {
    // Validation is inference: no dropout (and no draws from the run's generator), then back to training.
    // With a weight average, the average is scored (it is what the checkpoint saves), and the raw weights beside it.
    model.eval();
    const score = (): { tf: ReturnType<typeof teacherForcedScores>; dec: ReturnType<typeof decodedScores> } => {
      const tf = teacherForcedScores(model, valSet, opts.batchSize);
      if (!Number.isFinite(tf.loss)) throw new DivergedRun(`validation loss became ${tf.loss} at step ${state.step}; stopped, the last good checkpoint in ${out} is kept`);
      return { tf, dec: decodedScores([model], valGroups, src, tgt, { beam: 1, lengthPenalty: 1, maxLength: null }, valPath ?? dataPath) };
    };
    let tf: ReturnType<typeof teacherForcedScores>;
    let dec: ReturnType<typeof decodedScores>;
    let raw: ReturnType<typeof score> | null = null;
    try {
      ({ tf, dec } = average === null ? score() : withAveragedWeights(average, params, score));
      if (average !== null) raw = score();
    } finally {
      model.train();
    }
    const m = {
      step: state.step, epoch: epoch + batchIndex / batches.length, tokens, trainLoss: lossCount > 0 ? lossSum / lossCount : null,
      valLoss: tf.loss, valTokenAccuracy: tf.tokenAccuracy, valSequenceAccuracy: dec.sequenceAccuracy, valTokenErrorRate: dec.tokenErrorRate,
      teacherForcing: teacherForcingProbability(opts.teacherForcing, state.step), lr,
      tokensPerSec: tokens / Math.max(1e-9, trainSecBefore + trainSec), elapsedSec: elapsed(),
      ...(raw === null ? {} : { raw: { valLoss: raw.tf.loss, valSequenceAccuracy: raw.dec.sequenceAccuracy, valTokenErrorRate: raw.dec.tokenErrorRate } }),
    };
    bar.clear();
    mkdirSync(out, { recursive: true });
    appendFileSync(metricsPath, JSON.stringify(m) + '\n');
    process.stdout.write(
      `step ${m.step} (epoch ${m.epoch.toFixed(2)}): train loss ${m.trainLoss?.toFixed(4) ?? '--'}, val loss ${m.valLoss.toFixed(4)}, ` +
        `val greedy: ${(100 * (1 - dec.sequenceAccuracy)).toFixed(1)}% sequence errors, ${(100 * dec.tokenErrorRate).toFixed(1)}% token errors, ` +
        (raw === null ? '' : `(raw weights: val loss ${raw.tf.loss.toFixed(4)}, ${(100 * (1 - raw.dec.sequenceAccuracy)).toFixed(1)}% sequence errors), `) +
        `${Math.round(m.tokensPerSec)} tokens/s, ${formatDuration(m.elapsedSec)}\n`,
    );
    lossSum = 0;
    lossCount = 0;
    lastEval = state.step;
    save();
  };

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const He = config.model.encoderHiddenSize;
  const encoderNote = He === undefined || He === config.model.hiddenSize ? '' : ` ${config.model.numLayers}×${He}`;
  process.stdout.write(
    `training seq2seq ${config.model.cell} ${config.model.numLayers}×${config.model.hiddenSize}` +
      `${config.model.bidirectional ? ` (bidirectional encoder${encoderNote})` : encoderNote === '' ? '' : ` (encoder${encoderNote})`}, attention ${config.model.attention}, ` +
      `${(config.model.dropout ?? 0) > 0 ? `dropout ${config.model.dropout}, ` : ''}` +
      `on ${trainPairs.length} pairs of ${dataPath} (${valPairs.length} validate), checkpoints in ${out}\n`,
  );
  const runStart = performance.now();
  const firstStep = state.step;
  const secondsLeft = (): number => budgetSecondsLeft(opts.schedule, opts.timeSec, elapsed(), (performance.now() - runStart) / 1000);
  const done = (): boolean => (opts.steps !== null && state.step >= opts.steps) || secondsLeft() <= 0;
  try {
    while (!done()) {
      if (interrupted) break;
      const t0 = performance.now();
      if (batchIndex >= batches.length) {
        epoch++;
        batchIndex = 0;
        batches = lengthBucketedBatches(lengths, opts.batchSize, opts.seed, epoch);
      }
      const idx = batches[batchIndex++];
      const batch = { src: idx.map((i) => trainSet.src[i]), tgt: idx.map((i) => trainSet.tgt[i]) };
      const p = teacherForcingProbability(opts.teacherForcing, state.step);
      const loss = tidy(() => {
        const o = model.forward(batch, { teacherForcing: p, feedback: opts.feedback, rng, labelSmoothing: opts.labelSmoothing });
        const value = o.loss.item();
        if (Number.isFinite(value)) backward(o.loss);
        return value;
      });
      if (!Number.isFinite(loss)) throw new DivergedRun(`loss became ${loss} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
      // The norm is computed even without clipping: a non-finite gradient must never reach the weights.
      const norm = opts.clip > 0 ? clipGradNorm(params, opts.clip) : gradNorm(params);
      if (!Number.isFinite(norm)) throw new DivergedRun(`gradient norm became ${norm} at step ${state.step + 1}; stopped, the last good checkpoint in ${out} is kept`);
      lr = lrAt(state.step, elapsed());
      noGrad(() => optimizerStep(state.optimizer, params, lr));
      if (average !== null) updateWeightAverage(average, params);
      model.zeroGrad();
      state.step++;
      tokens += batch.tgt.reduce((a, t) => a + t.length + 1, 0);
      lossSum += loss;
      lossCount++;
      trainSec += (performance.now() - t0) / 1000;
      const secPerStep = (performance.now() - runStart) / 1000 / (state.step - firstStep);
      bar.update({
        step: state.step, totalSteps: opts.steps, loss, tokensPerSec: tokens / Math.max(1e-9, trainSecBefore + trainSec),
        etaSec: opts.steps !== null ? (opts.steps - state.step) * secPerStep : secondsLeft(),
      });
      if (state.step % opts.evalEvery === 0) evaluate();
      await new Promise<void>((r) => setImmediate(r)); // let Ctrl-C be delivered
    }
    if (interrupted) {
      save();
      bar.clear();
      process.stderr.write(`interrupted: checkpoint saved in ${out}; continue with --resume\n`);
      return 130;
    }
    if (lastEval !== state.step) evaluate();
    bar.clear();
    return 0;
  } catch (e) {
    bar.clear();
    if (e instanceof DivergedRun) {
      process.stderr.write(`recurrent: ${e.message}\n`);
      return 3;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    if (average !== null) disposeWeightAverage(average);
    model.dispose();
  }
}

class DivergedRun extends Error {}

function decodeFlags(v: Record<string, unknown>): DecodeOptions {
  return {
    beam: int(v, 'beam', 1),
    lengthPenalty: num(v, 'length-penalty', 1, (x) => x >= 0, 'a non-negative number'),
    maxLength: v['max-length'] === undefined ? null : int(v, 'max-length', 1),
  };
}

function evaluate(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, data: { type: 'string' }, beam: { type: 'string' }, 'length-penalty': { type: 'string' },
    'max-length': { type: 'string' }, backend: { type: 'string' },
  });
  selectBackend(v);
  const dirs = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dirs === undefined) throw new UsageError('seq2seq eval needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('seq2seq eval needs --data FILE');
  const o = decodeFlags(v);
  const members = loadEnsemble(dirs);
  const { config, src, tgt } = members[0];
  const pairs = parseParallelText(readTextFile(dataPath), dataPath, { src: config.train.srcSplit, tgt: config.train.tgtSplit });
  const data = encodePairs(pairs, src, tgt, dataPath);
  const models = members.map((m) => m.model);
  // Teacher-forced scores are per model: an ensemble reports its members' mean.
  const tf = members.map((m) => teacherForcedScores(m.model, data, 64));
  const start = performance.now();
  const dec = decodedScores(models, groupBySource(pairs), src, tgt, o, dataPath);
  process.stdout.write(JSON.stringify({
    step: members.length === 1 ? members[0].step : members.map((m) => m.step),
    models: members.length, beam: o.beam, pairs: pairs.length,
    loss: tf.reduce((a, t) => a + t.loss, 0) / tf.length, tokenAccuracy: tf.reduce((a, t) => a + t.tokenAccuracy, 0) / tf.length,
    ...dec, decodeSec: (performance.now() - start) / 1000,
  }) + '\n');
  for (const m of models) m.dispose();
  return 0;
}

function decode(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, data: { type: 'string' }, beam: { type: 'string' }, nbest: { type: 'string' },
    'length-penalty': { type: 'string' }, sample: { type: 'boolean' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
    'top-p': { type: 'string' }, seed: { type: 'string' }, 'max-length': { type: 'string' }, 'attention-out': { type: 'string' },
    backend: { type: 'string' },
  });
  selectBackend(v);
  const dirs = str(v, 'checkpoint');
  if (dirs === undefined) throw new UsageError('seq2seq decode needs --checkpoint DIR');
  const o = decodeFlags(v);
  const nBest = int(v, 'nbest', 1);
  if (nBest > o.beam) throw new UsageError(`--nbest ${nBest} needs --beam of at least ${nBest}`);
  const sampling = v.sample === true;
  for (const flag of ['temperature', 'top-k', 'top-p', 'seed'] as const) {
    if (v[flag] !== undefined && !sampling) throw new UsageError(`--${flag} applies to --sample`);
  }
  if (sampling && v.beam !== undefined) throw new UsageError('give --sample or --beam, not both');
  const members = loadEnsemble(dirs);
  const { config, src, tgt } = members[0];
  const dataPath = str(v, 'data');
  const what = dataPath ?? 'stdin';
  const text = dataPath === undefined ? readFileSync(0, 'utf8') : readTextFile(dataPath);
  const lines = parseSourceLines(text, what, config.train.srcSplit);
  const srcs = lines.map((l) => src.encode(l.src, `${what} line ${l.line}`));
  const models = members.map((m) => m.model);
  let hyps: Hypothesis[][];
  if (sampling) {
    const sampleOpts = {
      temperature: num(v, 'temperature', 1, (x) => x > 0, 'a positive number'),
      ...(v['top-k'] === undefined ? {} : { topK: int(v, 'top-k', 1) }),
      ...(v['top-p'] === undefined ? {} : { topP: num(v, 'top-p', 1, (x) => x > 0 && x <= 1, 'in (0, 1]') }),
    };
    const rng = new Rng(int(v, 'seed', (Date.now() ^ process.pid) >>> 0, 0));
    hyps = srcs.map((s) => sampleDecode(models, [s], { maxLength: o.maxLength ?? 2 * s.length + 10, ...sampleOpts }, rng));
  } else {
    hyps = decodeAll(models, srcs, { ...o, nBest });
  }
  const joinTokens = (ts: string[]): string => ts.join(config.train.tgtSplit === 'char' ? '' : ' ');
  const srcText = (l: ParallelPair): string => l.src.join(config.train.srcSplit === 'char' ? '' : ' ');
  const outLines: string[] = [];
  const attention: string[] = [];
  lines.forEach((l, i) => {
    for (const h of hyps[i]) {
      const tokens = tgt.decode(h.tokens);
      outLines.push(nBest > 1 ? `${srcText(l)}\t${joinTokens(tokens)}\t${h.score.toFixed(4)}` : `${srcText(l)}\t${joinTokens(tokens)}`);
      if (h.weights !== null) {
        attention.push(JSON.stringify({ line: l.line, source: l.src, target: [...tokens, ...(h.finished ? [EOS] : [])], weights: h.weights.map((w) => Array.from(w, (x) => +x.toFixed(4))) }));
      }
    }
  });
  process.stdout.write(outLines.join('\n') + '\n');
  const attentionOut = str(v, 'attention-out');
  if (attentionOut !== undefined) {
    if (config.model.attention === 'none' && members.every((m) => m.config.model.attention === 'none')) throw new UsageError('--attention-out: the model has no attention');
    writeFileSync(attentionOut, attention.join('\n') + '\n');
  }
  for (const m of models) m.dispose();
  return 0;
}

export function seq2seq(argv: string[]): Promise<number> {
  return runSubcommand('seq2seq', SEQ2SEQ_HELP, { train, eval: evaluate, decode }, argv);
}

