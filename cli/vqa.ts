// `recurrent vqa train|eval|answer`: one-word answers to questions about the generated question scenes (a
// `caption data` directory's questions/), with attention over the CNN's grid or the question-only baseline;
// trained by the engine (src/tasks/vqa.ts, training-run.ts), scored per question type.

import { existsSync, readFileSync } from 'node:fs';
import { pngToTensorData } from '../src/data/caption-dataset.js';
import { dataFingerprint } from '../src/data/fingerprint.js';
import type { Question } from '../src/data/scenes.js';
import { optimizerNames } from '../src/optim/optimizer.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { VQA_FORMAT, vqaFromConfig, vqaScores, vqaTask, type VqaCheckpointConfig, type VqaModelOptions, type VqaSet } from '../src/tasks/vqa.js';
import { loadCheckpointDirectory } from '../src/train/checkpoint-directory.js';
import { UsageError, int, intList, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { readImageRecords } from './caption.js';
import { ENGINE_OPTIONS, lrScheduleHelp, parseEngineFlags } from './engine-flags.js';
import { fixed, formatDuration } from './progress.js';
import { runTraining } from './training-run.js';

export const VQA_HELP = `recurrent vqa: one-word answers to questions about generated scenes

Usage:
  recurrent vqa train  --data DIR [--no-image] [--hidden N] [--embedding N] [--encoder C1,C2,...] [--batch-size B]
                       [--steps N | --time SECONDS] [--lr X] [--lr-schedule NAME ...] [--optimizer NAME] [--clip X]
                       [--clip-value X] [--ema D] [--eval-every N] [--seed S] [--out DIR] [--resume] [--backend NAME]
  recurrent vqa eval   --checkpoint DIR --data DIR [--split S] [--backend NAME]
  recurrent vqa answer --checkpoint DIR --question "what colour is the circle ?" [--image FILE.png] [--backend NAME]

  --data DIR             a \`caption data\` directory with questions/ (train trains on questions/train, val validates)
  --no-image             the question-only baseline: the model never sees the image
  --hidden N             the question LSTM's hidden size, and the classifier's hidden layer (default 128)
  --embedding N          the word embedding's width (default 64)
  --encoder C1,C2,...    the CNN's channels per stage (default 8,16,32: a 64×64 image gives an 8×8 grid)
  --batch-size B         questions per step (default 32)
  --steps N              training steps in all, counting those before --resume (default 2000)
  --time SECONDS         train for this long instead
  --lr X                 learning rate (default 1e-3)
  --optimizer NAME       ${optimizerNames.join(', ')} (default adam)
  --clip X, --clip-value X, --ema D   as the other training commands
${lrScheduleHelp(25)}
  --eval-every N         validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 250)
  --seed S               seed of the initialisation and the batches (default 1)
  --out DIR              checkpoint directory (default runs/vqa)
  --resume               continue the checkpoint in --out exactly where it stopped
  --split S              eval: val or test (default test)
  --question TEXT        answer: the question, words separated by spaces
  --image FILE.png       answer: the image (not for the baseline)
${backendHelp(25)}

eval prints one JSON line: the loss, the accuracy, and the accuracy per question type (colour, shape, count,
relation).`;

type QuestionRecord = { image: string; questions: Question[] };

function readQuestions(dir: string, split: string): { set: VqaSet; text: string } {
  const r = readImageRecords<QuestionRecord>(dir, 'questions', split, (x) => Array.isArray(x.questions), 'question (image, scene, questions)');
  return { set: { name: r.path, width: r.width, height: r.height, images: r.records.map(({ record, pixels }) => ({ pixels, questions: record.questions })) }, text: r.text };
}

const MODEL_FLAGS: Record<keyof VqaModelOptions, string> = { useImage: 'no-image', hiddenSize: 'hidden', embeddingSize: 'embedding', encoderChannels: 'encoder' };

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, 'no-image': { type: 'boolean' }, hidden: { type: 'string' }, embedding: { type: 'string' }, encoder: { type: 'string' },
    'batch-size': { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, ...ENGINE_OPTIONS,
  });
  selectBackend(v);
  const dir = str(v, 'data');
  if (dir === undefined) throw new UsageError('vqa train needs --data DIR (a `caption data` directory)');
  if (v['no-image'] === true && v.encoder !== undefined) throw new UsageError('--encoder applies to a model that sees the image, not --no-image');
  const channels = intList(v, 'encoder', [8, 16, 32], 'positive channel counts');
  const asked: VqaModelOptions = { useImage: v['no-image'] !== true, hiddenSize: int(v, 'hidden', 128), embeddingSize: int(v, 'embedding', 64), encoderChannels: channels };
  // --no-image is a flag: a resume without it asks for nothing about the image.
  const model = Object.fromEntries(Object.entries(asked).filter(([k]) => v[MODEL_FLAGS[k as keyof VqaModelOptions]] !== undefined)) as VqaModelOptions;
  const engine = parseEngineFlags(v, { steps: 2000, lr: 1e-3, evalEvery: 250 });
  const { set: trainSet, text } = readQuestions(dir, 'train');
  const { set: valSet } = readQuestions(dir, 'val');
  const task = vqaTask(trainSet, valSet, {
    fingerprint: dataFingerprint(text), batchSize: int(v, 'batch-size', 32), model, optionName: (k) => `--${MODEL_FLAGS[k]}`,
  });
  return runTraining(task, engine, str(v, 'out') ?? 'runs/vqa', (m) => {
    const n = (k: string): string => (typeof m[k] === 'number' ? `${(100 * (m[k] as number)).toFixed(1)}%` : '—');
    return `step ${m.step} (epoch ${(m.epoch as number).toFixed(2)}): train loss ${fixed(m.trainLoss)}, val loss ${(m.valLoss as number).toFixed(4)}, ` +
      `val accuracy ${n('valAccuracy')} (colour ${n('valAccuracy_colour')}, shape ${n('valAccuracy_shape')}, count ${n('valAccuracy_count')}, relation ${n('valAccuracy_relation')}), ` +
      `${formatDuration(m.elapsedSec as number)}`;
  });
}

function load(dir: string) {
  return loadCheckpointDirectory(dir, [VQA_FORMAT], 'recurrent vqa', (c: VqaCheckpointConfig, path) => vqaFromConfig(c, path));
}

function evaluate(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const ckpt = str(v, 'checkpoint');
  const dir = str(v, 'data');
  if (ckpt === undefined) throw new UsageError('vqa eval needs --checkpoint DIR');
  if (dir === undefined) throw new UsageError('vqa eval needs --data DIR');
  const split = str(v, 'split') ?? 'test';
  if (split !== 'val' && split !== 'test') throw new UsageError(`unknown --split "${split}" (choose from: val, test)`);
  const { model, vocab, answers, step } = load(ckpt);
  const { set } = readQuestions(dir, split);
  const img = model.config.image;
  if (img !== undefined && (img.width !== set.width || img.height !== set.height)) throw new Error(`${set.name}: images are ${set.width}×${set.height}, the model reads ${img.width}×${img.height}`);
  const s = vqaScores(model, set, vocab, answers);
  process.stdout.write(JSON.stringify({ split, step, image: img !== undefined, questions: set.images.reduce((a, im) => a + im.questions.length, 0), ...s }) + '\n');
  model.dispose();
  return 0;
}

function answer(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, question: { type: 'string' }, image: { type: 'string' }, backend: { type: 'string' } });
  selectBackend(v);
  const ckpt = str(v, 'checkpoint');
  const question = str(v, 'question');
  if (ckpt === undefined) throw new UsageError('vqa answer needs --checkpoint DIR');
  if (question === undefined || question.trim() === '') throw new UsageError('vqa answer needs --question TEXT (a non-empty question)');
  const { model, vocab, answers } = load(ckpt);
  const img = model.config.image;
  const file = str(v, 'image');
  if (img !== undefined && file === undefined) throw new UsageError('vqa answer needs --image FILE.png (this model looks at the image)');
  if (img === undefined && file !== undefined) throw new UsageError('--image: this model is the question-only baseline, it never sees an image');
  const words = question.trim().split(/\s+/);
  const ids = vocab.encode(words, '--question');
  let pixels: Float32Array | undefined;
  if (file !== undefined) {
    if (!existsSync(file)) throw new Error(`${file} does not exist`);
    pixels = pngToTensorData(readFileSync(file), file, { width: img!.width, height: img!.height }).data;
  }
  const out = noGrad(() => tidy(() => Array.from(model.forward({ questions: [ids], ...(pixels === undefined ? {} : { images: [pixels] }) }).logits.data)));
  const best = out.indexOf(Math.max(...out));
  process.stdout.write(`${answers.tokens[best]}\n`);
  model.dispose();
  return 0;
}

export function vqa(argv: string[]): Promise<number> {
  return runSubcommand('vqa', VQA_HELP, { train, eval: evaluate, answer }, argv);
}
