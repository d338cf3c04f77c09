// `recurrent caption data|train|eval|decode`: the generated datasets for captioning and visual questions
// (src/data/scenes.ts, src/data/caption-dataset.ts), written as JSON lines and PNGs (deterministic: the same
// seed writes the same bytes); captioners trained on the scenes or the numbers through the engine
// (src/tasks/captioning.ts, training-run.ts), scored (scenes: on the seen and the held-out colour–shape pairs;
// numbers: by number of digits), and their attention drawn.

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { DATASET_KINDS, DEFAULT_TRAIN, HELD_OUT, SPLITS, datasetItem, pngToTensorData, splitSize, type DatasetKind } from '../src/data/caption-dataset.js';
import { dataFingerprint } from '../src/data/fingerprint.js';
import type { NumberImage, Scene } from '../src/data/scenes.js';
import { captionerAttentionKinds, type Captioner } from '../src/nn/captioner.js';
import { optimizerNames } from '../src/optim/optimizer.js';
import {
  CAPTIONER_FORMAT, CAPTION_KINDS, accuracyByDigits, attentionCorrectness, captionImages, captionScores, captionerFromConfig, captioningTask,
  cellTiles, checkImages, checkpointKind, defaultCaptioningTaskOptions, teacherForcedLoss,
  type CaptionImage, type CaptionKind, type CaptionSet, type CaptionerCheckpointConfig, type CaptionerModelOptions,
} from '../src/tasks/captioning.js';
import { loadCheckpointDirectory, readCommitted } from '../src/train/checkpoint-directory.js';
import { UsageError, beamFlags, int, intList, loadMembers, num, oneOf, parse, runSubcommand, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';
import { ENGINE_OPTIONS, lrScheduleHelp, parseEngineFlags } from './engine-flags.js';
import { fixed, formatDuration } from './progress.js';
import { parseSchedule } from './seq2seq.js';
import { runTraining } from './training-run.js';

export const CAPTION_HELP = `recurrent caption: image captioning on generated images

Usage:
  recurrent caption data   --out DIR [--seed S] [--kinds scenes,numbers,questions] [--train N]
  recurrent caption train  --data DIR [--kind scenes|numbers] [--attention soft|none] [--hidden N] [--embedding N]
                           [--attention-size N] [--encoder C1,C2,...] [--penalty X] [--teacher-forcing SCHEDULE] [--feedback sample|argmax]
                           [--batch-size B] [--eval-images N] [--max-length N] [--steps N | --time SECONDS] [--lr X]
                           [--lr-schedule NAME ...] [--optimizer NAME] [--clip X] [--clip-value X] [--ema D] [--eval-every N]
                           [--seed S] [--out DIR] [--resume] [--backend NAME]
  recurrent caption eval   --checkpoint DIR[,DIR...] --data DIR [--kind K] [--splits S,...] [--images N] [--beam K]
                           [--length-penalty A] [--max-length N] [--backend NAME]
  recurrent caption decode --checkpoint DIR[,DIR...] (--data DIR [--kind K] [--split S] [--images N] | --image FILE.png)
                           [--beam K] [--max-length N] --out DIR [--backend NAME]

  --out DIR     where to write (a new or empty directory): DIR/KIND/SPLIT.jsonl, one record per image, and
                the images as PNGs under DIR/KIND/images/SPLIT/
  --seed S      seed of every image, caption and question (default 1); the same seed writes the same bytes
  --kinds K,..  scenes (one to four shapes with captions, and a test-novel split of the colour–shape pairs
                ${HELD_OUT.map(([c, s]) => `${c} ${s}`).join(' and ')} that no other split holds), numbers (digits drawn
                with a bitmap font, captioned by their digits), questions (scenes with one-word-answer
                questions: colour, shape, count, relation) (default all three)
  --train N     training images per kind (default ${DEFAULT_TRAIN}); validation N/16 and test N/8

train, eval, decode (the scenes or the numbers of a \`caption data\` directory, DIR/KIND/SPLIT.jsonl and its PNGs):
  --data DIR             the directory \`caption data --out DIR\` wrote (train trains on KIND/train, validates on KIND/val)
  --kind K               scenes or numbers (train: default scenes; eval, decode: the checkpoint's kind, and no other,
                         since its vocabulary holds only that kind's words)
  --attention NAME       soft (Xu et al. 2015: an MLP attention over the CNN's grid, the gate β, the deep output) or
                         none (Show and Tell: the mean annotation sets the LSTM's initial state) (default soft)
  --hidden N             the LSTM's hidden size (default 128)
  --embedding N          the word embedding's width (default 64)
  --attention-size N     soft: the attention MLP's hidden width (default --hidden)
  --encoder C1,C2,...    the CNN: channels of each stage (a 3×3 conv, ReLU, 2×2 max pool); the last is the
                         annotation width, and a 64×64 image with three stages gives an 8×8 grid (default 16,32,64)
  --penalty X            λ of the doubly stochastic attention penalty λ Σ_i (1 − Σ_t α_ti)² of each caption, beside
                         its summed −log p (both divided by the words, so the train loss is per word) (default 0:
                         Xu et al.'s λ = 1 gave worse captions than no attention on the generated scenes; README)
  --teacher-forcing S    probability of feeding the gold previous word, per training step i (as seq2seq train):
                         P, linear:K,C,MIN, exponential:K or inverse-sigmoid:K (default 1: teacher forcing)
  --feedback NAME        the model's own word when not teacher forcing: sample or argmax (default sample)
  --batch-size B         images per step, one of each image's captions (default ${defaultCaptioningTaskOptions.batchSize})
  --eval-images N        validation images captioned greedily at each evaluation (default ${defaultCaptioningTaskOptions.evalImages})
  --max-length N         most words of a decoded caption, eos included (default ${defaultCaptioningTaskOptions.maxLength})
  --steps N              training steps in all, counting those before --resume (default 2000)
  --time SECONDS         train for this long instead (with --lr-schedule cosine the rate decays over it)
  --lr X                 learning rate (default 1e-3)
  --optimizer NAME       ${optimizerNames.join(', ')} (default adam)
  --clip X               clip the global gradient norm to X, 0 = off (default 5)
  --clip-value X         clip each gradient element to [-X, X], 0 = off (default 0)
  --ema D                keep a moving average of the weights (default 0: off); eval and decode use it
${lrScheduleHelp(25)}
  --eval-every N         validate, log to DIR/metrics.jsonl and checkpoint every N steps (default 200)
  --seed S               seed of the initialisation, the batches and scheduled sampling (default 1)
  --out DIR              train: checkpoint directory (default runs/caption); decode: where the pictures go
  --resume               continue the checkpoint in --out exactly where it stopped
  --checkpoint DIRS      a checkpoint, or several separated by commas: an ensemble (same vocabulary and images)
  --splits S,...         eval: the splits to score (default scenes test,test-novel: seen and held-out colour–shape
                         pairs; numbers test)
  --split S              decode: the split to caption (default scenes test-novel, numbers test)
  --images N             eval, decode: the first N images of each split (default: all; decode 8)
  --image FILE.png       decode: one image of the model's size instead
  --beam K               beam search of width K (default 1: greedy)
  --length-penalty A     beam search: rank by log p / length^A (default 1)
${backendHelp(25)}

eval prints one JSON line per split: BLEU-4 (corpus, closest reference length, no smoothing), CIDEr-D and exact
match of the decoded captions against every reference of each image, and attention correctness (Liu et al.
2017): for each decoded word of a phrase "SIZE COLOUR SHAPE" that names exactly one object of the scene, the
share of that word's attention inside the object's mask (each grid cell's α spread over the pixels its pools
reduce to it), averaged over those words, beside the same for uniform attention. On numbers the words scored
are the digits decoded in their place, against their digit's box, and eval adds sequence accuracy (the whole
digit string right) overall and by number of digits (accuracyByDigits, with imagesByDigits). decode writes,
per image, NNN.png (the image, then the attention of each word over it, eos last) and captions.tsv (file, caption).`;

function data(argv: string[]): number {
  const v = parse(argv, { out: { type: 'string' }, seed: { type: 'string' }, kinds: { type: 'string' }, train: { type: 'string' } });
  const out = str(v, 'out');
  if (out === undefined) throw new UsageError('caption data needs --out DIR');
  const seed = int(v, 'seed', 1, 0);
  const train = int(v, 'train', DEFAULT_TRAIN);
  const kinds = (str(v, 'kinds') ?? DATASET_KINDS.join(',')).split(',').map((k) => k.trim());
  for (const k of kinds) if (!DATASET_KINDS.includes(k as DatasetKind)) throw new UsageError(`unknown --kinds "${k}" (choose from: ${DATASET_KINDS.join(', ')})`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty; choose a new --out (a dataset is never written over another)`);
  const counts = (kind: DatasetKind): Record<string, number> => Object.fromEntries(SPLITS[kind].map((s) => [s, splitSize(s, train)]));
  const summary: Record<string, Record<string, number>> = {};
  for (const kind of kinds as DatasetKind[]) {
    summary[kind] = counts(kind);
    for (const [split, n] of Object.entries(summary[kind])) {
      mkdirSync(join(out, kind, 'images', split), { recursive: true });
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const { record, png } = datasetItem(kind, split, i, seed);
        writeFileSync(join(out, kind, record.image), png);
        lines.push(JSON.stringify(record));
      }
      writeFileSync(join(out, kind, `${split}.jsonl`), lines.join('\n') + '\n');
      process.stdout.write(`${kind}/${split}: ${n} images\n`);
    }
  }
  writeFileSync(join(out, 'dataset.json'), JSON.stringify({ generator: 'recurrent caption data', seed, heldOut: HELD_OUT, splits: summary }, null, 2) + '\n');
  return 0;
}

// ---- the scenes and numbers of a dataset directory ----

/** DIR/KIND/SPLIT.jsonl: each record with its PNG's pixels (3, H, W) as bytes, the images' size, and the text. */
export function readImageRecords<R extends { image: string }>(
  dir: string, kind: DatasetKind, split: string, check: (r: Partial<R>) => boolean, what: string,
): { records: Array<{ record: R; pixels: Uint8Array }>; width: number; height: number; path: string; text: string } {
  const path = join(dir, kind, `${split}.jsonl`);
  if (!existsSync(path)) throw new Error(`${path} does not exist (write the dataset with \`recurrent caption data --out ${dir}\`; splits: ${SPLITS[kind].join(', ')})`);
  const text = readFileSync(path, 'utf8');
  const records: Array<{ record: R; pixels: Uint8Array }> = [];
  let size: { width: number; height: number } | undefined;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: Partial<R>;
    try {
      r = JSON.parse(line) as Partial<R>;
    } catch (e) {
      throw new Error(`${path} line ${i + 1} is not JSON: ${(e as Error).message}`);
    }
    if (typeof r.image !== 'string' || !check(r)) throw new Error(`${path} line ${i + 1} is not a ${what} record`);
    const png = join(dir, kind, r.image);
    if (!existsSync(png)) throw new Error(`${png} (${path} line ${i + 1}) does not exist`);
    const img = pngToTensorData(readFileSync(png), png, size);
    size ??= { width: img.width, height: img.height };
    records.push({ record: r as R, pixels: Uint8Array.from(img.data, (x) => Math.round(x * 255)) });
  });
  if (size === undefined) throw new Error(`${path} holds no images`);
  return { records, ...size, path, text };
}

/** DIR/KIND/SPLIT.jsonl with its PNGs, and the text of the JSON lines (its fingerprint identifies the data). */
function readCaptions(dir: string, kind: CaptionKind, split: string): { set: CaptionSet; text: string } {
  type CaptionRecord = { image: string; scene?: Scene; number?: NumberImage; captions: Array<{ words: string[] }> };
  const what = kind === 'scenes' ? 'scene (image, scene, captions)' : 'number (image, number, captions)';
  const holds = (x: Partial<CaptionRecord>): boolean => Array.isArray(x.captions) && (kind === 'scenes' ? x.scene : x.number) !== undefined;
  const r = readImageRecords<CaptionRecord>(dir, kind, split, holds, what);
  const images = r.records.map(({ record, pixels }): CaptionImage => ({
    pixels, captions: record.captions.map((c) => c.words), scene: record.scene, number: record.number,
  }));
  return { set: { name: r.path, width: r.width, height: r.height, images }, text: r.text };
}

/** What eval scores and decode draws when no split is given: for scenes, the held-out pairs beside the seen ones. */
const DEFAULT_SPLITS: { readonly [K in CaptionKind]: { eval: readonly string[]; decode: string } } = {
  scenes: { eval: ['test', 'test-novel'], decode: 'test-novel' },
  numbers: { eval: ['test'], decode: 'test' },
};

/**
 * The kind eval and decode read: the checkpoint's. --kind may name it, but not the other kind: the model's
 * vocabulary holds only its own kind's words, so the other's captions could not even be scored.
 */
function readKind(v: Record<string, unknown>, members: ReturnType<typeof loadEnsemble>): CaptionKind {
  const had = checkpointKind(members[0].config);
  const asked = oneOf(v, 'kind', had, CAPTION_KINDS);
  if (asked !== had) throw new Error(`${members[0].dir} was trained on ${had}, not --kind ${asked} (leave --kind out to read ${had})`);
  return had;
}

/** A split name of `kind` (--split or one of --splits). */
function checkSplit(kind: CaptionKind, split: string, flag: string): void {
  if (!SPLITS[kind].includes(split)) throw new UsageError(`unknown split "${split}" in ${flag} (${kind}: ${SPLITS[kind].join(', ')})`);
}

/** Several checkpoints (comma-separated) as an ensemble: the same vocabulary. */
function loadEnsemble(dirs: string) {
  return loadMembers(dirs, (dir) => loadCheckpointDirectory(dir, [CAPTIONER_FORMAT], 'recurrent captioner', (c: CaptionerCheckpointConfig, path) => captionerFromConfig(c, path)), (m, m0) => {
    if (checkpointKind(m.config) !== checkpointKind(m0.config)) throw new Error(`ensemble: ${m.dir} was trained on ${checkpointKind(m.config)}, ${m0.dir} on ${checkpointKind(m0.config)}`);
    if (m.config.vocab.join('\n') !== m0.config.vocab.join('\n')) throw new Error(`ensemble: ${m.dir} has a different vocabulary from ${m0.dir}`);
  });
}

// ---- the subcommands ----

const MODEL_FLAGS: Record<keyof CaptionerModelOptions, string> = {
  attention: 'attention', hiddenSize: 'hidden', embeddingSize: 'embedding', attentionSize: 'attention-size', encoderChannels: 'encoder',
};

async function train(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' }, kind: { type: 'string' }, attention: { type: 'string' }, hidden: { type: 'string' }, embedding: { type: 'string' },
    'attention-size': { type: 'string' }, encoder: { type: 'string' }, penalty: { type: 'string' }, 'teacher-forcing': { type: 'string' }, feedback: { type: 'string' },
    'batch-size': { type: 'string' }, 'eval-images': { type: 'string' }, 'max-length': { type: 'string' }, out: { type: 'string' },
    backend: { type: 'string' }, ...ENGINE_OPTIONS,
  });
  selectBackend(v);
  const dir = str(v, 'data');
  if (dir === undefined) throw new UsageError('caption train needs --data DIR (a `caption data` directory)');
  const out = str(v, 'out') ?? 'runs/caption';
  const kind = oneOf(v, 'kind', v.resume === true ? resumedKind(out) : 'scenes', CAPTION_KINDS);
  const attention = oneOf(v, 'attention', 'soft', captionerAttentionKinds);
  if (attention === 'none') for (const f of ['penalty', 'attention-size']) if (v[f] !== undefined) throw new UsageError(`--${f} applies to --attention soft, not none`);
  const channels = intList(v, 'encoder', [16, 32, 64], 'positive channel counts');
  const hidden = int(v, 'hidden', 128);
  const asked: CaptionerModelOptions = {
    attention, hiddenSize: hidden, embeddingSize: int(v, 'embedding', 64), attentionSize: int(v, 'attention-size', hidden), encoderChannels: channels,
  };
  const model = Object.fromEntries(Object.entries(asked).filter(([k]) => v[MODEL_FLAGS[k as keyof CaptionerModelOptions]] !== undefined)) as CaptionerModelOptions;
  const engine = parseEngineFlags(v, { steps: 2000, lr: 1e-3, evalEvery: 200 });
  const { set: trainSet, text } = readCaptions(dir, kind, 'train');
  const { set: valSet } = readCaptions(dir, kind, 'val');
  const task = captioningTask(trainSet, valSet, {
    kind,
    fingerprint: dataFingerprint(text),
    teacherForcing: parseSchedule(str(v, 'teacher-forcing')),
    feedback: oneOf(v, 'feedback', 'sample', ['sample', 'argmax'] as const),
    batchSize: int(v, 'batch-size', defaultCaptioningTaskOptions.batchSize),
    penalty: num(v, 'penalty', attention === 'none' ? 0 : defaultCaptioningTaskOptions.penalty, (x) => x >= 0, 'a non-negative number'),
    evalImages: int(v, 'eval-images', defaultCaptioningTaskOptions.evalImages),
    maxLength: int(v, 'max-length', defaultCaptioningTaskOptions.maxLength),
    model,
    optionName: (k) => `--${MODEL_FLAGS[k]}`,
  });
  return runTraining(task, engine, out, (m, sample) => {
    const n = (k: string): number => m[k] as number;
    return `step ${m.step} (epoch ${n('epoch').toFixed(2)}): train loss ${fixed(m.trainLoss)}, val loss ${n('valLoss').toFixed(4)}, ` +
      `val greedy: BLEU-4 ${n('valBleu4').toFixed(3)}, CIDEr-D ${n('valCiderD').toFixed(3)}, exact ${(100 * n('valExactMatch')).toFixed(1)}%, ` +
      `${Math.round(n('tokensPerSec'))} words/s, ${formatDuration(n('elapsedSec'))}${sample === null ? '' : `\n  "${sample}"`}`;
  });
}

/** The kind a checkpoint to resume was trained on, so --resume needs no --kind (scenes when it cannot be read: the engine then says why). */
function resumedKind(dir: string): CaptionKind {
  try {
    const bytes = readCommitted(dir, 'config.json');
    return bytes === null ? 'scenes' : checkpointKind(JSON.parse(bytes.toString('utf8')));
  } catch {
    return 'scenes';
  }
}

function decodeFlags(v: Record<string, unknown>, config: CaptionerCheckpointConfig) {
  return {
    ...beamFlags(v),
    maxLength: int(v, 'max-length', config.train.maxLength ?? defaultCaptioningTaskOptions.maxLength),
  };
}

function evaluate(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, data: { type: 'string' }, kind: { type: 'string' }, splits: { type: 'string' }, images: { type: 'string' }, beam: { type: 'string' },
    'length-penalty': { type: 'string' }, 'max-length': { type: 'string' }, backend: { type: 'string' },
  });
  selectBackend(v);
  const dirs = str(v, 'checkpoint');
  const dir = str(v, 'data');
  if (dirs === undefined) throw new UsageError('caption eval needs --checkpoint DIR');
  if (dir === undefined) throw new UsageError('caption eval needs --data DIR (a `caption data` directory)');
  const members = loadEnsemble(dirs);
  const models = members.map((m) => m.model);
  const { vocab, config } = members[0];
  const kind = readKind(v, members);
  const splits = str(v, 'splits')?.split(',').map((s) => s.trim()) ?? DEFAULT_SPLITS[kind].eval;
  for (const s of splits) checkSplit(kind, s, '--splits');
  const o = decodeFlags(v, config);
  for (const split of splits) {
    const { set } = readCaptions(dir, kind, split);
    if (v.images !== undefined) set.images = set.images.slice(0, int(v, 'images', 1));
    for (const m of models) checkImages(m, set);
    const start = performance.now();
    const hyps = captionImages(models, set.images, o);
    const words = hyps.map((h) => vocab.decode(h.tokens));
    const scores = captionScores(words, set.images);
    // Attention correctness reads the hypotheses' α: the mean over the members that attend (ensemble.ts).
    const attending = models.find((m) => m.config.attention === 'soft');
    const att = attending === undefined ? null : attentionCorrectness(attending, hyps, words, set.images);
    process.stdout.write(JSON.stringify({
      split, step: members.length === 1 ? members[0].step : members.map((m) => m.step), models: members.length, beam: o.beam, images: set.images.length,
      loss: members.reduce((a, m) => a + teacherForcedLoss(m.model, set.images, vocab, set.name), 0) / members.length,
      ...scores,
      ...(kind === 'numbers' ? accuracyByDigits(words, set.images) : {}),
      attentionCorrectness: att?.correctness ?? null, uniformAttention: att?.uniform ?? null, attendedWords: att?.words ?? 0,
      decodeSec: (performance.now() - start) / 1000,
    }) + '\n');
  }
  for (const m of models) m.dispose();
  return 0;
}

/** The image, then one panel per word: the image dimmed outside the word's attention (each cell's α over its tile). */
function attentionPicture(model: Captioner, pixels: Uint8Array, weights: readonly Float32Array[], zoom: number): Uint8Array {
  const { height: H, width: W } = model.config.image!;
  const tiles = cellTiles(model);
  const panels = 1 + weights.length;
  const gap = 2 * zoom;
  const outW = panels * W * zoom + (panels - 1) * gap;
  const outH = H * zoom;
  const out = new Uint8Array(outH * outW * 3).fill(255);
  for (let p = 0; p < panels; p++) {
    const level = new Float32Array(H * W).fill(1); // (H, W) brightness of each pixel
    if (p > 0) {
      const a = weights[p - 1];
      const density = tiles.map((t, i) => a[i] / Math.max(1, (t.y1 - t.y0) * (t.x1 - t.x0))); // attention per pixel
      const top = Math.max(...density, 1e-12);
      level.fill(0.15);
      tiles.forEach((t, i) => {
        for (let y = t.y0; y < t.y1; y++) for (let x = t.x0; x < t.x1; x++) level[y * W + x] = 0.15 + 0.85 * (density[i] / top);
      });
    }
    const x0 = p * (W * zoom + gap);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < W * zoom; x++) {
        const sy = Math.floor(y / zoom);
        const sx = Math.floor(x / zoom);
        for (let c = 0; c < 3; c++) out[(y * outW + x0 + x) * 3 + c] = Math.round(pixels[c * H * W + sy * W + sx] * level[sy * W + sx]);
      }
    }
  }
  return encode({ width: outW, height: outH, data: out, channels: 3, depth: 8 });
}

function decode(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, data: { type: 'string' }, kind: { type: 'string' }, split: { type: 'string' }, images: { type: 'string' }, image: { type: 'string' },
    beam: { type: 'string' }, 'length-penalty': { type: 'string' }, 'max-length': { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
  });
  selectBackend(v);
  const dirs = str(v, 'checkpoint');
  const out = str(v, 'out');
  if (dirs === undefined) throw new UsageError('caption decode needs --checkpoint DIR');
  if (out === undefined) throw new UsageError('caption decode needs --out DIR (where the pictures go)');
  const dir = str(v, 'data');
  const file = str(v, 'image');
  if ((dir === undefined) === (file === undefined)) throw new UsageError('caption decode needs --data DIR or --image FILE.png (one of them)');
  if (file !== undefined) for (const f of ['split', 'images']) if (v[f] !== undefined) throw new UsageError(`--${f} applies to --data, not --image`);
  const members = loadEnsemble(dirs);
  const models = members.map((m) => m.model);
  const { vocab, config } = members[0];
  const kind = readKind(v, members);
  const img = config.model.image!;
  let images: CaptionImage[];
  if (file !== undefined) {
    if (!existsSync(file)) throw new Error(`${file} does not exist`);
    const t = pngToTensorData(readFileSync(file), file, { width: img.width, height: img.height });
    images = [{ pixels: Uint8Array.from(t.data, (x) => Math.round(x * 255)), captions: [] }];
  } else {
    const split = str(v, 'split') ?? DEFAULT_SPLITS[kind].decode;
    checkSplit(kind, split, '--split');
    const { set } = readCaptions(dir!, kind, split);
    for (const m of models) checkImages(m, set);
    images = set.images.slice(0, int(v, 'images', 8));
  }
  const hyps = captionImages(models, images, decodeFlags(v, config));
  mkdirSync(out, { recursive: true });
  const lines: string[] = [];
  hyps.forEach((h, i) => {
    const name = `${String(i).padStart(3, '0')}.png`;
    const caption = vocab.decode(h.tokens).join(' ');
    if (h.weights !== null) writeFileSync(join(out, name), attentionPicture(models[0], images[i].pixels, h.weights, 2));
    lines.push(`${h.weights === null ? '-' : name}\t${caption}`);
    process.stdout.write(`${h.weights === null ? '' : `${join(out, name)}: `}${caption}\n`);
  });
  writeFileSync(join(out, 'captions.tsv'), lines.join('\n') + '\n');
  for (const m of models) m.dispose();
  return 0;
}

export function caption(argv: string[]): Promise<number> {
  return runSubcommand('caption', CAPTION_HELP, { data, train, eval: evaluate, decode }, argv);
}
