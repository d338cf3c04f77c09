// The `recurrent` command (started by recurrent.ts): train, sample and evaluate character-level language
// models, and dispatch classify and seq2seq.
// Every user mistake ends in one line on stderr and a non-zero exit, never a stack trace
// (RECURRENT_DEBUG=1 shows it).

import { readFileSync } from 'node:fs';
import { defaultCorpusName, readDefaultCorpus } from '../src/data/default-corpus.js';
import { readTextFile } from '../src/data/text-file.js';
import { generateText } from '../src/decode/generate.js';
import { Rng } from '../src/random/rng.js';
import { cellKinds, type CellKind } from '../src/nn/recurrent/index.js';
import { optimizerNames } from '../src/optim/optimizer.js';
import { heldOutLoss, languageModelTask, type LanguageModelTaskOptions } from '../src/tasks/language-model.js';
import { defaultTrainOptions, loadCheckpoint } from '../src/train/train-language-model.js';
import { UsageError, int, num, oneOf, parse, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { fixed, formatDuration } from './progress.js';
import { runTraining } from './training-run.js';
import { ENGINE_OPTIONS, lrScheduleHelp, parseEngineFlags } from './engine-flags.js';
import { CLASSIFY_HELP, classify } from './classify.js';
import { SEQ2SEQ_HELP, seq2seq } from './seq2seq.js';
import { CAPTION_HELP, caption } from './caption.js';
import { VQA_HELP, vqa } from './vqa.js';
import { EXPORT_HELP, exportCommand } from './export.js';
import { STUDIO_HELP, studio } from './studio.js';
import { CELLS_HELP, cells } from './cells.js';

const HELP = `recurrent — recurrent neural networks in TypeScript

Usage:
  recurrent train  [--data FILE] [--model lstm|gru|rnn|...|transformer] [--hidden N] [--layers N] [--heads N] [--context N]
                   [--seq-length T | --per-line] [--batch-size B] [--steps N | --time SECONDS] [--lr X]
                   [--optimizer adam|adamw|sgd|rmsprop|adagrad] [--clip X] [--dropout X] [--ema D]
                   [--eval-every N] [--seed S] [--out DIR] [--resume] [--backend NAME]
  recurrent sample --checkpoint DIR [--length N] [--temperature X] [--top-k K] [--top-p P]
                   [--argmax] [--prime TEXT] [--seed S] [--backend NAME]
  recurrent eval   --checkpoint DIR --data FILE [--backend NAME]
  recurrent classify train|eval|predict ...   sequence classification from "label<TAB>text" lines
  recurrent seq2seq train|eval|decode ...     encoder–decoders (attention, beam search, ensembles) on "source<TAB>target" lines
  recurrent caption data|train|eval|decode ... generated images with captions; captioners with attention over them
  recurrent vqa train|eval|answer ...         one-word answers to questions about generated scenes
  recurrent export --checkpoint DIR --format onnx --out FILE   a checkpoint's model as ONNX graphs
  recurrent cells  --checkpoint DIR --data FILE [--html FILE]   the cells that track quotes, brackets, line position, ...
  recurrent studio [--port N] [--checkpoint DIR ...]   a local page: train in the browser, see what the network learned

Run "recurrent help train" for every training option, "recurrent help classify", "recurrent help seq2seq", "recurrent help caption", "recurrent help vqa",
"recurrent help export", "recurrent help cells" and "recurrent help studio" for the others.`;

const TRAIN_HELP = `recurrent train: train a character-level language model (char-rnn)

  --data FILE          text to train on (default: Moby-Dick, shipped with the package)
  --model NAME         ${['lstm', 'gru', 'rnn', ...cellKinds.filter((k) => !['lstm', 'gru'].includes(k))].join(', ')} (default lstm; rnn = rnn_tanh),
                       or transformer: a GPT-style model (token and learned position embeddings, pre-norm blocks of
                       causal self-attention and a GELU feed-forward of 4×width, a final LayerNorm), trained on windows
                       of --context characters at random offsets, as nanoGPT (it carries no state between windows)
  --hidden N           hidden size, also the embedding size; a Transformer's width (default 128)
  --layers N           recurrent layers, or Transformer blocks (default 2; transformer 4)
  --heads N            transformer: attention heads, dividing --hidden (default 4)
  --context N          transformer: the characters of a window, its positions (default 64)
  --tie-embeddings     transformer: the output layer shares the token embedding's weights
  --seq-length T       characters per stream per step (default 50)
  --batch-size B       parallel streams, or lines with --per-line (default 50)
  --per-line           one sequence per line (as makemore models names): each line is read from a start to an
                       end token (both the newline) from a zero state; a step trains on B random lines; a seeded
                       min(1000, 10%) of the lines validates, and the loss is per token, end tokens included
  --steps N            training steps in all, counting those before --resume (default 2000)
  --time SECONDS       train for this long instead of a number of steps (with --lr-schedule cosine: the whole
                       run, through --resume, and the rate decays over it)
  --lr X               learning rate (default 2e-3)
  --optimizer NAME     ${optimizerNames.join(', ')} (default adam)
  --clip X             clip the global gradient norm to X, 0 = off (default 5)
  --clip-value X       clip each gradient element to [-X, X], 0 = off (default 0)
  --dropout X          dropout between recurrent layers and before the output layer; a Transformer's on the
                       embeddings, the attention weights and each block's residual branches (default 0)
  --ema D              keep a moving average of the weights, a <- d·a + (1 - d)·w after every step with
                       d = min(D, (1 + n)/(10 + n)) (e.g. 0.999; default 0: off). Evaluation scores and samples
                       it (and scores the raw weights beside it); the checkpoint's model is the average
${lrScheduleHelp(23)}
  --eval-every N       evaluate, sample and checkpoint every N steps (default 100)
  --sample-length N    characters sampled at each evaluation (default 200)
  --seed S             seed of the one random generator (default 1)
  --out DIR            checkpoint directory (default runs/char-rnn)
  --resume             continue the checkpoint in --out exactly where it stopped
${backendHelp(23)}`;

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, model: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' },
    'seq-length': { type: 'string' }, 'batch-size': { type: 'string' }, dropout: { type: 'string' }, 'sample-length': { type: 'string' },
    'per-line': { type: 'boolean' }, heads: { type: 'string' }, context: { type: 'string' }, 'tie-embeddings': { type: 'boolean' },
    out: { type: 'string' }, backend: { type: 'string' }, ...ENGINE_OPTIONS,
  });
  selectBackend(v);
  const d = defaultTrainOptions;
  const modelName = oneOf(v, 'model', 'lstm', ['rnn', ...cellKinds, 'transformer'] as const);
  const transformer = modelName === 'transformer';
  for (const flag of transformer ? ['seq-length'] : ['heads', 'context', 'tie-embeddings']) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} applies to ${transformer ? 'the recurrent models (a Transformer reads windows of --context characters)' : '--model transformer'}, not --model ${modelName}`);
  }
  const engine = parseEngineFlags(v, { steps: 2000, lr: d.lr, evalEvery: d.evalEvery });
  const task: LanguageModelTaskOptions = {
    arch: transformer ? 'transformer' : 'recurrent',
    cell: transformer ? d.cell : modelName === 'rnn' ? 'rnn_tanh' : (modelName as CellKind),
    hiddenSize: int(v, 'hidden', d.hiddenSize),
    numLayers: int(v, 'layers', transformer ? 4 : d.numLayers),
    numHeads: int(v, 'heads', d.numHeads),
    context: int(v, 'context', d.context),
    tieEmbeddings: v['tie-embeddings'] === true,
    seqLength: int(v, 'seq-length', d.seqLength),
    batchSize: int(v, 'batch-size', d.batchSize),
    dropout: num(v, 'dropout', d.dropout, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    sampleLength: int(v, 'sample-length', d.sampleLength, 0),
    perLine: v['per-line'] === true,
  };
  if (task.perLine && v['seq-length'] !== undefined) throw new UsageError('--seq-length applies to the streams, not --per-line (a batch is as long as its longest line)');
  const dataPath = str(v, 'data');
  const text = dataPath === undefined ? readDefaultCorpus() : readTextFile(dataPath);
  const dataName = dataPath ?? defaultCorpusName;
  return runTraining(languageModelTask(text, dataName, task), engine, str(v, 'out') ?? 'runs/char-rnn', (m, sample) => {
    const valLoss = m.valLoss as number;
    const raw = m.raw as { valLoss: number } | undefined;
    return `step ${m.step}: train loss ${fixed(m.trainLoss)}, val loss ${valLoss.toFixed(4)} (${(valLoss / Math.LN2).toFixed(3)} bits/char), ` +
      (raw === undefined ? '' : `(raw weights: val loss ${raw.valLoss.toFixed(4)}), `) +
      `${Math.round(m.tokensPerSec as number)} tokens/s, ${formatDuration(m.elapsedSec as number)}` +
      (sample !== null && sample.length > 0 ? `\n--- sample ---\n${sample}\n--------------` : '');
  });
}

function sample(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, length: { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
    'top-p': { type: 'string' }, argmax: { type: 'boolean' }, prime: { type: 'string' }, seed: { type: 'string' },
    backend: { type: 'string' },
  });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  if (dir === undefined) throw new UsageError('sample needs --checkpoint DIR');
  const length = int(v, 'length', 500, 0);
  const temperature = num(v, 'temperature', 1, (x) => x > 0, 'a positive number');
  const topK = v['top-k'] === undefined ? undefined : int(v, 'top-k', 0);
  const topP = v['top-p'] === undefined ? undefined : num(v, 'top-p', 1, (x) => x > 0 && x <= 1, 'in (0, 1]');
  const seed = int(v, 'seed', (Date.now() ^ process.pid) >>> 0, 0);
  const { model, vocab, config } = loadCheckpoint(dir);
  const prime = str(v, 'prime');
  if (prime !== undefined) vocab.encode(prime, 'the prime text'); // fail before any output
  const lines = config.train.perLine === true; // a model of one sequence per line samples lines, each from a fresh state
  const text = generateText(model, vocab, { length, temperature, topK, topP, argmax: v.argmax === true, prime, lines }, new Rng(seed));
  process.stdout.write(text + '\n');
  return 0;
}

function evaluate(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dir === undefined) throw new UsageError('eval needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('eval needs --data FILE');
  const { model, vocab, config, step } = loadCheckpoint(dir);
  const train = { ...config.train, perLine: config.train.perLine ?? false, seed: Number(config.train.seed ?? 1) };
  const { valLoss, tokens, lines } = heldOutLoss(model, vocab, readTextFile(dataPath), dataPath, train);
  const counted = lines === undefined ? { characters: tokens } : { tokens, lines };
  process.stdout.write(JSON.stringify({ step, valLoss, bitsPerChar: valLoss / Math.LN2, ...counted }) + '\n');
  return 0;
}

/** `recurrent help NAME`: each command's own help. */
const HELPS: Record<string, string> = {
  train: TRAIN_HELP, classify: CLASSIFY_HELP, seq2seq: SEQ2SEQ_HELP, caption: CAPTION_HELP, vqa: VQA_HELP, export: EXPORT_HELP, cells: CELLS_HELP, studio: STUDIO_HELP,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `recurrent train --help` (or -h anywhere after a command) is `recurrent help train`, as users type it.
  if (cmd !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write((Object.hasOwn(HELPS, cmd) ? HELPS[cmd] : HELP) + '\n');
    return 0;
  }
  switch (cmd) {
    case 'train':
      return train(rest);
    case 'sample':
      return sample(rest);
    case 'eval':
      return evaluate(rest);
    case 'classify':
      return classify(rest);
    case 'seq2seq':
      return seq2seq(rest);
    case 'caption':
      return caption(rest);
    case 'vqa':
      return vqa(rest);
    case 'export':
      return exportCommand(rest);
    case 'studio':
      return studio(rest);
    case 'cells':
      return cells(rest);
    case 'help':
    case '--help':
    case '-h':
      // An own property only: "help constructor" is no command.
      process.stdout.write((Object.hasOwn(HELPS, rest[0] ?? '') ? HELPS[rest[0]] : HELP) + '\n');
      return 0;
    case '--version':
      process.stdout.write(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version + '\n');
      return 0;
    case undefined:
      process.stdout.write(HELP + '\n');
      return 2;
    default:
      throw new UsageError(`unknown command "${cmd}" (commands: train, sample, eval, classify, seq2seq, caption, vqa, export, cells, studio, help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    // One line, whatever the error: a message that spans lines (a parser's excerpt of a file) is joined.
    process.stderr.write(`recurrent: ${err.message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
    if (process.env.RECURRENT_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
