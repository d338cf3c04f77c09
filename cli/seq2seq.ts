// `recurrent seq2seq train|eval|decode`: encoder–decoders (recurrent or Transformer) on `source<TAB>target` lines: the flags parsed
// into the seq2seq task (src/tasks/seq2seq.ts), trained by the engine (training-run.ts); eval and decode load
// its checkpoints, several of them as an ensemble.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseParallelText, parseSourceLines, tokenSplits, type ParallelPair } from '../src/data/parallel-text.js';
import { readTextFile } from '../src/data/text-file.js';
import { sampleDecode, type Hypothesis } from '../src/decode/greedy.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { validateSamplingSchedule, type SamplingSchedule } from '../src/nn/scheduled-sampling.js';
import { seq2seqAttentionKinds, type Seq2SeqAttention } from '../src/nn/seq2seq.js';
import { TransformerSeq2Seq, positionKinds } from '../src/nn/transformer-seq2seq.js';
import { optimizerNames } from '../src/optim/optimizer.js';
import { Rng } from '../src/random/rng.js';
import {
  EOS, SEQ2SEQ_FORMAT, decodeAll, decodeLengthLimit, decodedScores, encodePairs, groupBySource, isTransformerConfig, seq2seqModelFromConfig, seq2seqTask, teacherForcedScores,
  type DecodeOptions, type Seq2SeqCheckpointConfig, type Seq2SeqModelOptions,
} from '../src/tasks/seq2seq.js';
import { loadCheckpointDirectory } from '../src/train/checkpoint-directory.js';
import { UsageError, beamFlags, int, loadMembers, num, oneOf, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { ENGINE_OPTIONS, lrScheduleHelp, parseEngineFlags } from './engine-flags.js';
import { fixed, formatDuration } from './progress.js';
import { runTraining } from './training-run.js';

export const SEQ2SEQ_HELP = `recurrent seq2seq: encoder–decoders (with attention) on "source<TAB>target" lines

Usage:
  recurrent seq2seq train  --data FILE [--val FILE] [--src-split char|space] [--tgt-split char|space]
                           [--model lstm|gru|rnn|...] [--embedding N] [--hidden N] [--encoder-hidden N] [--layers N]
                           [--bidirectional] [--attention none|bahdanau|luong-dot|luong-general] [--input-feeding]
                           [--attention-size N] [--dropout X] [--teacher-forcing SCHEDULE] [--feedback sample|argmax] [--batch-size B]
                           [--arch transformer [--layers N] [--heads N] [--width N] [--ff N] [--activation relu|gelu] [--norm-first]
                                               [--positions sinusoidal|learned] [--max-positions N] [--tie-embeddings]]
                           [--steps N | --time SECONDS] [--lr X] [--lr-schedule NAME ...] [--optimizer NAME] [--clip X] [--clip-value X]
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
  --arch NAME            recurrent (the default: the flags above) or transformer (Vaswani et al. 2017: the flags below;
                         the recurrent-only flags --model, --embedding, --hidden, --encoder-hidden, --bidirectional,
                         --attention, --input-feeding, --attention-size, --teacher-forcing and --feedback are refused)
  --model NAME           ${['lstm', 'gru', 'rnn', ...cellKinds.filter((k) => !['lstm', 'gru'].includes(k))].join(', ')} (default lstm)
  --embedding N          width of both embeddings (default: --hidden)
  --hidden N             hidden size of the decoder, and of the encoder unless --encoder-hidden (default 128)
  --encoder-hidden N     hidden size of the encoder, per direction (default --hidden)
  --layers N             layers of encoder and decoder (default 1; transformer: N encoder and N decoder layers, default 3)
  --bidirectional        a bidirectional encoder (its final states are bridged to the decoder)
  --attention NAME       ${seq2seqAttentionKinds.join(', ')} (default luong-general)
  --input-feeding        Luong attention: feed the previous attentional state into the decoder
  --attention-size N     bahdanau attention: width of the score's hidden layer (default --hidden)
  --dropout X            dropout on the embeddings, between layers and before the output layer, in [0, 1) (default 0);
                         transformer: on the embeddings, the attention weights and every residual branch
  --heads N              transformer: attention heads, dividing --width (default 4)
  --width N              transformer: d_model, the width of the embeddings and every layer (default 128)
  --ff N                 transformer: the feed-forward width (default 4 × --width)
  --activation NAME      transformer: relu or gelu (default relu)
  --norm-first           transformer: pre-norm layers (LayerNorm before each sublayer; default post-norm, as Vaswani)
  --positions NAME       transformer: ${positionKinds.join(' or ')} (default sinusoidal)
  --max-positions N      transformer: the longest source, and target with its end token (default twice the
                         data's longest); decoding stops there
  --tie-embeddings       transformer: the output layer is the target embedding (no weights of its own)
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
  --clip-value X         clip each gradient element to [-X, X], 0 = off (default 0)
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
  --attention-out FILE   decode: write each hypothesis's attention weights as JSON lines {line, source, target,
                         weights, crossAttention}: weights[t][s] is what the search reads (recurrent: the attention;
                         transformer: the last decoder layer's cross-attention averaged over heads; an ensemble: the
                         mean of its members'); crossAttention has one entry per model, null for a recurrent one and
                         [layer][head][t][s] for a Transformer (every decoder layer and head). t: each target token
                         written (the end token included), s: each source token
${backendHelp(25)}

eval prints one JSON line: loss and tokenAccuracy under teacher forcing, then sequenceAccuracy, tokenErrorRate
(edit distance / reference length: the phoneme error rate, PER, of G2P) and sequenceErrorRate (the word error
rate, WER, of G2P) of the decoded hypotheses. A token the model has not seen is an error naming the line.`;

/** The --teacher-forcing flag as a schedule (also read by `caption train`). */
export function parseSchedule(raw: string | undefined): SamplingSchedule {
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

/** Several checkpoints (comma-separated) as an ensemble: their vocabularies and token splits must be identical. */
function loadEnsemble(dirs: string) {
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  return loadMembers(dirs, (dir) => loadCheckpointDirectory(dir, [SEQ2SEQ_FORMAT], 'recurrent seq2seq', (c: Seq2SeqCheckpointConfig, path) => seq2seqModelFromConfig(c, path)), (m, m0) => {
    if (!same(m.config.srcVocab, m0.config.srcVocab) || !same(m.config.tgtVocab, m0.config.tgtVocab)) {
      throw new Error(`ensemble: ${m.dir} has different vocabularies from ${m0.dir} (every member must be trained on the same token sets)`);
    }
    if (m.config.train.srcSplit !== m0.config.train.srcSplit || m.config.train.tgtSplit !== m0.config.train.tgtSplit) {
      throw new Error(`ensemble: ${m.dir} splits its tokens differently from ${m0.dir}`);
    }
  });
}

// ---- the subcommands ----

/** The flags of the model options, for the error that refuses a resume whose flags disagree with the checkpoint. */
const MODEL_FLAGS: Record<keyof Seq2SeqModelOptions, string> = {
  arch: 'arch', cell: 'model', hiddenSize: 'hidden', embeddingSize: 'embedding', encoderHiddenSize: 'encoder-hidden', numLayers: 'layers',
  bidirectional: 'bidirectional', attention: 'attention', inputFeeding: 'input-feeding', attentionSize: 'attention-size', dropout: 'dropout',
  dModel: 'width', nhead: 'heads', numEncoderLayers: 'layers', numDecoderLayers: 'layers', dimFeedforward: 'ff', activation: 'activation',
  normFirst: 'norm-first', positions: 'positions', maxLength: 'max-positions', tieEmbeddings: 'tie-embeddings',
};
/** The flags of one arch only (--layers and --dropout are both's). */
const RECURRENT_FLAGS = ['model', 'embedding', 'hidden', 'encoder-hidden', 'bidirectional', 'attention', 'input-feeding', 'attention-size', 'teacher-forcing', 'feedback'];
const TRANSFORMER_FLAGS = ['heads', 'width', 'ff', 'activation', 'norm-first', 'positions', 'max-positions', 'tie-embeddings'];

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, val: { type: 'string' }, 'src-split': { type: 'string' }, 'tgt-split': { type: 'string' },
    model: { type: 'string' }, embedding: { type: 'string' }, hidden: { type: 'string' }, 'encoder-hidden': { type: 'string' }, layers: { type: 'string' },
    bidirectional: { type: 'boolean' }, attention: { type: 'string' }, 'input-feeding': { type: 'boolean' }, 'attention-size': { type: 'string' },
    dropout: { type: 'string' }, 'teacher-forcing': { type: 'string' }, feedback: { type: 'string' }, 'batch-size': { type: 'string' },
    'label-smoothing': { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
    arch: { type: 'string' }, heads: { type: 'string' }, width: { type: 'string' }, ff: { type: 'string' }, activation: { type: 'string' },
    'norm-first': { type: 'boolean' }, positions: { type: 'string' }, 'max-positions': { type: 'string' }, 'tie-embeddings': { type: 'boolean' },
    ...ENGINE_OPTIONS,
  });
  selectBackend(v);
  const dataPath = str(v, 'data');
  if (dataPath === undefined) throw new UsageError('seq2seq train needs --data FILE');
  const arch = oneOf(v, 'arch', 'recurrent', ['recurrent', 'transformer'] as const);
  const transformer = arch === 'transformer';
  for (const flag of transformer ? RECURRENT_FLAGS : TRANSFORMER_FLAGS) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} applies to --arch ${transformer ? 'recurrent' : 'transformer'}, not --arch ${arch}`);
  }
  const modelName = oneOf(v, 'model', 'lstm', ['rnn', ...cellKinds] as const);
  const hidden = int(v, 'hidden', 128);
  const attention = oneOf(v, 'attention', 'luong-general', seq2seqAttentionKinds) as Seq2SeqAttention;
  const dropout = num(v, 'dropout', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  if (v['input-feeding'] === true && !attention.startsWith('luong')) throw new UsageError(`--input-feeding applies to Luong attention, not --attention ${attention}`);
  if (v['attention-size'] !== undefined && attention !== 'bahdanau') throw new UsageError(`--attention-size applies to --attention bahdanau, not ${attention}`);
  // The model options given (a resumed run checks these against its checkpoint's model; a new one fills defaults).
  const width = int(v, 'width', 128);
  const asked: Seq2SeqModelOptions = transformer ? {
    arch, dModel: width, nhead: int(v, 'heads', 4), numEncoderLayers: int(v, 'layers', 3), numDecoderLayers: int(v, 'layers', 3),
    dimFeedforward: int(v, 'ff', 4 * width), dropout, activation: oneOf(v, 'activation', 'relu', ['relu', 'gelu'] as const), normFirst: v['norm-first'] === true,
    positions: oneOf(v, 'positions', 'sinusoidal', positionKinds), maxLength: int(v, 'max-positions', 1), tieEmbeddings: v['tie-embeddings'] === true,
  } : {
    arch, cell: modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind), hiddenSize: hidden, embeddingSize: int(v, 'embedding', hidden),
    encoderHiddenSize: int(v, 'encoder-hidden', hidden), numLayers: int(v, 'layers', 1), bidirectional: v.bidirectional === true, attention,
    inputFeeding: v['input-feeding'] === true, attentionSize: int(v, 'attention-size', hidden), dropout,
  };
  const model = Object.fromEntries(Object.entries(asked).filter(([k]) => v[MODEL_FLAGS[k as keyof Seq2SeqModelOptions]] !== undefined)) as Seq2SeqModelOptions;
  const engine = parseEngineFlags(v, { steps: 2000, lr: 2e-3, evalEvery: 500 });
  const valPath = str(v, 'val');
  const task = seq2seqTask(readTextFile(dataPath), dataPath, {
    srcSplit: oneOf(v, 'src-split', 'char', tokenSplits),
    tgtSplit: oneOf(v, 'tgt-split', 'char', tokenSplits),
    teacherForcing: parseSchedule(str(v, 'teacher-forcing')),
    feedback: oneOf(v, 'feedback', 'sample', ['sample', 'argmax'] as const),
    batchSize: int(v, 'batch-size', 64),
    labelSmoothing: num(v, 'label-smoothing', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    model,
    ...(valPath === undefined ? {} : { val: { text: readTextFile(valPath), name: valPath } }),
    optionName: (k) => `--${MODEL_FLAGS[k]}`,
  });
  return runTraining(task, engine, str(v, 'out') ?? 'runs/seq2seq', (m) => {
    const raw = m.raw as { valLoss: number; valSequenceAccuracy: number } | undefined;
    const num = (k: string): number => m[k] as number;
    return `step ${m.step} (epoch ${num('epoch').toFixed(2)}): train loss ${fixed(m.trainLoss)}, val loss ${num('valLoss').toFixed(4)}, ` +
      `val greedy: ${(100 * (1 - num('valSequenceAccuracy'))).toFixed(1)}% sequence errors, ${(100 * num('valTokenErrorRate')).toFixed(1)}% token errors, ` +
      (raw === undefined ? '' : `(raw weights: val loss ${raw.valLoss.toFixed(4)}, ${(100 * (1 - raw.valSequenceAccuracy)).toFixed(1)}% sequence errors), `) +
      `${Math.round(num('tokensPerSec'))} tokens/s, ${formatDuration(num('elapsedSec'))}`;
  });
}

function decodeFlags(v: Record<string, unknown>): DecodeOptions {
  return {
    ...beamFlags(v),
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
  if (str(v, 'attention-out') !== undefined && members.every((m) => !isTransformerConfig(m.config.model) && m.config.model.attention === 'none')) {
    for (const m of members) m.model.dispose();
    throw new UsageError('--attention-out: the model has no attention');
  }
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
    hyps = srcs.map((s) => sampleDecode(models, [s], { maxLength: decodeLengthLimit(models, s, o.maxLength), ...sampleOpts }, rng));
  } else {
    hyps = decodeAll(models, srcs, { ...o, nBest });
  }
  const joinTokens = (ts: string[]): string => ts.join(config.train.tgtSplit === 'char' ? '' : ' ');
  const srcText = (l: ParallelPair): string => l.src.join(config.train.srcSplit === 'char' ? '' : ' ');
  const outLines: string[] = [];
  const attention: string[] = [];
  const attentionOut = str(v, 'attention-out');
  lines.forEach((l, i) => {
    for (const h of hyps[i]) {
      const tokens = tgt.decode(h.tokens);
      outLines.push(nBest > 1 ? `${srcText(l)}\t${joinTokens(tokens)}\t${h.score.toFixed(4)}` : `${srcText(l)}\t${joinTokens(tokens)}`);
      if (h.weights !== null && attentionOut !== undefined) {
        const round = (w: ArrayLike<number>): number[] => Array.from(w, (x) => +x.toFixed(4));
        const crossAttention = models.map((m) => (m instanceof TransformerSeq2Seq ? m.crossAttention(srcs[i], h.tokens, h.finished).map((l) => l.map((hd) => hd.map(round))) : null));
        attention.push(JSON.stringify({ line: l.line, source: l.src, target: [...tokens, ...(h.finished ? [EOS] : [])], weights: h.weights.map(round), crossAttention }));
      }
    }
  });
  process.stdout.write(outLines.join('\n') + '\n');
  if (attentionOut !== undefined) writeFileSync(attentionOut, attention.join('\n') + '\n');
  for (const m of models) m.dispose();
  return 0;
}

export function seq2seq(argv: string[]): Promise<number> {
  return runSubcommand('seq2seq', SEQ2SEQ_HELP, { train, eval: evaluate, decode }, argv);
}

