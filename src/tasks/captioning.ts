// Image captioning for the training engine: a Captioner (soft attention, or Show and Tell) and its CNN
// trained end to end on images with several captions each (the scenes of data/caption-dataset.ts, read by
// the caller) or on the numbers (one caption each: their digits). Each step draws a batch of images in a
// seeded per-epoch order, one of each image's captions; evaluation is the teacher-forced loss on the
// validation images and BLEU-4, CIDEr-D and exact match of greedy captions of a subset of them. Also here,
// for eval and decode: a checkpoint's config into a model, captioning many images, attention correctness
// against the objects' (or the digits') masks, and the numbers' sequence accuracy by number of digits.

import { TokenVocabulary } from '../data/parallel-text.js';
import { checkSameData, dataFingerprint, type DataFingerprint } from '../data/fingerprint.js';
import { digitMask, objectMask, type NumberImage, type Scene } from '../data/scenes.js';
import { beamSearch } from '../decode/beam-search.js';
import { greedyDecode, type Hypothesis } from '../decode/greedy.js';
import { maskMass, namedObjects, type PixelTile } from '../metrics/attention-correctness.js';
import { ciderD, corpusBleu, exactMatch } from '../metrics/caption-metrics.js';
import { Captioner, type CaptionerAttention, type CaptionerBatch, type CaptionerConfig } from '../nn/captioner.js';
import { teacherForcingProbability, type SamplingSchedule } from '../nn/scheduled-sampling.js';
import { IGNORE_INDEX } from '../nn/sequence-batch.js';
import { Rng, shuffle } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { checkResumeOption, disposeOnThrow, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const CAPTIONER_FORMAT = 'recurrent-captioner/1';
export const BOS = '<s>';
export const EOS = '</s>';

/** The datasets a captioner trains on (DIR/KIND of `caption data`). */
export type CaptionKind = 'scenes' | 'numbers';
export const CAPTION_KINDS: readonly CaptionKind[] = ['scenes', 'numbers'];

/** One image: its pixels (3, H, W) as bytes, channel-major, its captions, and what is in it (a scene or a number). */
export interface CaptionImage {
  pixels: Uint8Array;
  captions: string[][];
  scene?: Scene;
  number?: NumberImage;
}

/** A split of images of one size. */
export interface CaptionSet {
  name: string;
  width: number;
  height: number;
  images: CaptionImage[];
}

/** The model a run asks for; each one left out takes the default (soft attention, hidden 128, embedding 64, CNN [16, 32, 64]). */
export interface CaptionerModelOptions {
  attention?: CaptionerAttention;
  hiddenSize?: number;
  embeddingSize?: number;
  attentionSize?: number;
  /** Channels of the CNN's stages (each a 3×3 conv, ReLU and a 2×2 pool); the last is D. */
  encoderChannels?: number[];
}

export interface CaptioningTaskOptions {
  teacherForcing: SamplingSchedule;
  feedback: 'sample' | 'argmax';
  /** Images per step (one caption each). */
  batchSize: number;
  /** λ of the doubly stochastic attention penalty (0 under Show and Tell). */
  penalty: number;
  /** Validation images captioned greedily at each evaluation (their BLEU-4, CIDEr-D, exact match). */
  evalImages: number;
  /** Most words of a caption decoded, eos included. */
  maxLength: number;
}

export const defaultCaptioningTaskOptions: CaptioningTaskOptions = {
  teacherForcing: { kind: 'constant', p: 1 }, feedback: 'sample', batchSize: 32, penalty: 0, evalImages: 200, maxLength: 25,
};

export interface CaptionerCheckpointConfig {
  format: typeof CAPTIONER_FORMAT;
  /** What it was trained on; absent from checkpoints written before the numbers, which were all of scenes. */
  kind?: CaptionKind;
  model: CaptionerConfig;
  vocab: string[];
  train: CaptioningTaskOptions & Record<string, unknown>;
  data: { name: string; chars: number; hash: string };
}

/** The kind of images a checkpoint was trained on. */
export function checkpointKind(config: CaptionerCheckpointConfig): CaptionKind {
  return config.kind ?? 'scenes';
}

/** A checkpoint's model and vocabulary from its config.json (weights not loaded). */
export function captionerFromConfig(config: CaptionerCheckpointConfig, configPath: string, rng: Rng = new Rng(0)): { model: Captioner; vocab: TokenVocabulary } {
  if (!Array.isArray(config.vocab) || config.model === null || typeof config.model !== 'object') throw new Error(`${configPath} is corrupt: it lacks the model or the vocabulary`);
  const vocab = new TokenVocabulary(config.vocab);
  if (config.model.vocabSize !== vocab.size) throw new Error(`${configPath} is inconsistent: the model's vocabulary size does not match its vocabulary`);
  return { model: new Captioner(config.model, rng), vocab };
}

/** The pixels of images `idx` as the captioner's sources: (3·H·W) floats in [0, 1] each. */
export function imageSources(images: readonly CaptionImage[]): Float32Array[] {
  return images.map((im) => Float32Array.from(im.pixels, (p) => p / 255));
}

/** Checks that a set's images have the model's size (and three channels). */
export function checkImages(model: Captioner, set: CaptionSet): void {
  const img = model.config.image!;
  if (set.width !== img.width || set.height !== img.height) throw new Error(`${set.name}: images are ${set.width}×${set.height}, the model reads ${img.width}×${img.height}`);
  set.images.forEach((im, i) => {
    if (im.pixels.length !== img.channels * img.height * img.width) throw new Error(`${set.name}: image ${i} has ${im.pixels.length} values, expected ${img.channels}×${img.height}×${img.width}`);
  });
}

export interface DecodeCaptionOptions {
  /** 1: greedy (in batches); more: beam search, one image at a time. */
  beam: number;
  maxLength: number;
  lengthPenalty?: number;
}

/** The best caption of every image (greedy in batches of 32, or beam search), with the α of each word. */
export function captionImages(models: Captioner[], images: readonly CaptionImage[], o: DecodeCaptionOptions): Hypothesis[] {
  const out: Hypothesis[] = [];
  for (let i = 0; i < images.length; i += 32) {
    const src = imageSources(images.slice(i, i + 32));
    if (o.beam === 1) out.push(...greedyDecode(models, src, { maxLength: o.maxLength }));
    else for (const s of src) out.push(beamSearch(models, s, { beamWidth: o.beam, maxLength: o.maxLength, lengthPenalty: o.lengthPenalty ?? 1 })[0]);
  }
  return out;
}

/** BLEU-4 (corpus), CIDEr-D and exact match of captions against each image's references. */
export function captionScores(hyps: readonly string[][], images: readonly CaptionImage[]): { bleu4: number; ciderD: number; exactMatch: number } {
  const refs = images.map((im) => im.captions);
  return { bleu4: corpusBleu(hyps, refs), ciderD: ciderD(hyps, refs).score, exactMatch: exactMatch(hyps, refs) };
}

/** Teacher-forced mean loss per caption word (eos included) over every caption of `images`. */
export function teacherForcedLoss(model: Captioner, images: readonly CaptionImage[], vocab: TokenVocabulary, what: string): number {
  let lossSum = 0;
  let words = 0;
  const pairs = images.flatMap((im, i) => im.captions.map((c, j) => ({ i, tgt: vocab.encode(c, `${what} image ${i} caption ${j}`) })));
  for (let k = 0; k < pairs.length; k += 64) {
    const chunk = pairs.slice(k, k + 64);
    noGrad(() => tidy(() => {
      const out = model.forward({ src: imageSources(chunk.map((p) => images[p.i])), tgt: chunk.map((p) => p.tgt) });
      const n = out.targets.reduce((a, t) => a + (t === IGNORE_INDEX ? 0 : 1), 0);
      lossSum += out.wordLoss.item() * n;
      words += n;
    }));
  }
  return lossSum / words;
}

/** The pixel tiles of the model's grid cells (see ImageEncoder.gridCell). */
export function cellTiles(model: Captioner): PixelTile[] {
  const { height: H, width: W } = model.config.image!;
  return Array.from({ length: model.config.gridCells }, (_, i) => model.encoder!.gridCell(i, H, W).tile);
}

/**
 * Per word of an image's decoded caption, the part of the image it names (an object of a scene, a digit of a
 * number: an index for `regionMask`), or -1. The t-th word of a number names its t-th digit when it is that
 * digit; after a dropped or an added digit the places no longer line up and the words name nothing, so only
 * the attention of words the model got right (in place) is scored, as the scenes' named objects are.
 */
export function namedRegions(words: readonly string[], im: CaptionImage): number[] {
  if (im.scene !== undefined) return namedObjects(words, im.scene);
  const digits = im.number?.digits ?? [];
  return words.map((w, t) => (t < digits.length && w === String(digits[t]) ? t : -1));
}

function regionMask(im: CaptionImage, k: number): Uint8Array {
  return im.scene !== undefined ? objectMask(im.scene, k) : digitMask(im.number!, k);
}

/**
 * Attention correctness of captions (words as decoded, `hyps[i].weights[t]` the α of word t): the mean over
 * every word that names an object (or a digit) of the mass inside its mask (the digit's box), and the same
 * for uniform attention (α = 1/L).
 */
export function attentionCorrectness(
  model: Captioner, hyps: readonly Hypothesis[], words: readonly string[][], images: readonly CaptionImage[],
): { correctness: number; uniform: number; words: number } {
  const tiles = cellTiles(model);
  const W = model.config.image!.width;
  const uniform = new Float32Array(tiles.length).fill(1 / tiles.length);
  let sum = 0;
  let sumUniform = 0;
  let n = 0;
  hyps.forEach((h, i) => {
    const im = images[i];
    if ((im.scene === undefined && im.number === undefined) || h.weights === null) return;
    const masks = new Map<number, Uint8Array>();
    namedRegions(words[i], im).forEach((k, t) => {
      if (k < 0) return;
      if (!masks.has(k)) masks.set(k, regionMask(im, k));
      sum += maskMass(h.weights![t], tiles, masks.get(k)!, W);
      sumUniform += maskMass(uniform, tiles, masks.get(k)!, W);
      n++;
    });
  });
  return { correctness: n === 0 ? NaN : sum / n, uniform: n === 0 ? NaN : sumUniform / n, words: n };
}

/**
 * Numbers: the share of images whose caption is exactly their digits (with one caption per image, the exact
 * match), overall and by number of digits, with the images of each number of digits.
 */
export function accuracyByDigits(hyps: readonly string[][], images: readonly CaptionImage[]): {
  sequenceAccuracy: number; accuracyByDigits: Record<string, number>; imagesByDigits: Record<string, number>;
} {
  const right: Record<string, number> = {};
  const count: Record<string, number> = {};
  images.forEach((im, i) => {
    if (im.number === undefined) throw new Error(`accuracyByDigits: image ${i} is not a number`);
    const n = String(im.number.digits.length);
    count[n] = (count[n] ?? 0) + 1;
    right[n] = (right[n] ?? 0) + (hyps[i].join(' ') === im.number.digits.join(' ') ? 1 : 0);
  });
  const lengths = Object.keys(count).sort((a, b) => Number(a) - Number(b));
  const total = lengths.reduce((a, n) => a + right[n], 0);
  return {
    sequenceAccuracy: images.length === 0 ? NaN : total / images.length,
    accuracyByDigits: Object.fromEntries(lengths.map((n) => [n, right[n] / count[n]])),
    imagesByDigits: Object.fromEntries(lengths.map((n) => [n, count[n]])),
  };
}

export interface CaptioningTask extends TrainingTask<CaptionerBatch> {
  readonly model: Captioner;
  readonly vocab: TokenVocabulary;
}

/**
 * The task of training a captioner on `train`, validated on `val` (images of the same size). `fingerprint`
 * identifies the training data, which a resume must read again (default: that of its captions; the command
 * line gives its JSON lines'); `kind` (default scenes) is recorded in the checkpoint, which eval and decode
 * read as that kind only and a resume must repeat; `optionName` names a model option in the message that
 * refuses a resume whose options disagree with the checkpoint's.
 */
export function captioningTask(
  train: CaptionSet, val: CaptionSet,
  opts: Partial<CaptioningTaskOptions> & {
    kind?: CaptionKind; model?: CaptionerModelOptions; fingerprint?: DataFingerprint; optionName?(key: keyof CaptionerModelOptions): string;
  } = {},
): TaskDefinition<CaptioningTask> {
  const { kind = 'scenes', model: asked = {}, optionName = (k) => k, fingerprint: givenFingerprint, ...given } = opts;
  const fingerprint = givenFingerprint ?? dataFingerprint(train.images.map((im) => im.captions.map((c) => c.join(' ')).join('\t')).join('\n'));
  const own: CaptioningTaskOptions = { ...defaultCaptioningTaskOptions, ...(asked.attention === 'none' ? { penalty: 0 } : {}), ...given };
  if (asked.attention === 'none' && own.penalty > 0) throw new Error("the attention penalty needs attention 'soft' (Show and Tell has no attention)");
  for (const set of [train, val]) {
    if (set.images.length === 0) throw new Error(`${set.name} has no images`);
    set.images.forEach((im, i) => {
      if (im.captions.length === 0 || im.captions.some((c) => c.length === 0)) throw new Error(`${set.name}: image ${i} has an empty caption or none`);
      for (const c of im.captions) for (const w of c) if (w === BOS || w === EOS) throw new Error(`${set.name}: image ${i}: the word ${w} is reserved (start and end of a caption)`);
    });
  }
  if (val.width !== train.width || val.height !== train.height) throw new Error(`${val.name}: images are ${val.width}×${val.height}, ${train.name}'s are ${train.width}×${train.height}`);
  const data = { name: train.name, ...fingerprint };

  const make = (model: Captioner, vocab: TokenVocabulary, seed: number, rng: Rng): CaptioningTask => {
    checkImages(model, train);
    checkImages(model, val);
    const trainCaptions = train.images.map((im, i) => im.captions.map((c, j) => vocab.encode(c, `${train.name} image ${i} caption ${j}`)));
    val.images.forEach((im, i) => im.captions.forEach((c, j) => vocab.encode(c, `${val.name} image ${i} caption ${j}`)));
    const evalSet = val.images.slice(0, own.evalImages);
    // An epoch is every image once, in an order and with a caption each drawn from (seed, epoch).
    let epoch = 0;
    let batchIndex = 0;
    const epochPlan = (e: number): { order: number[]; pick: number[] } => {
      const r = new Rng((seed ^ 0x6361) + 7919 * e);
      const order = shuffle(train.images.map((_, i) => i), r);
      return { order, pick: order.map((i) => r.int(trainCaptions[i].length)) };
    };
    let plan = epochPlan(epoch);
    const perEpoch = Math.ceil(train.images.length / own.batchSize);
    const c = model.config;
    return {
      format: CAPTIONER_FORMAT,
      config: { kind, model: model.config as CaptionerConfig, vocab: [...vocab.tokens], train: own, data },
      model, vocab,
      description: `captioner ${c.attention === 'soft' ? `soft attention over ${c.gridCells} cells${own.penalty > 0 ? `, penalty λ ${own.penalty}` : ''}` : 'without attention (Show and Tell)'}, ` +
        `LSTM ${c.hiddenSize}, CNN [${c.encoder!.channels.join(', ')}], on ${train.images.length} images of ${train.name} (${val.images.length} validate)`,
      batch: () => {
        if (batchIndex >= perEpoch) {
          epoch++;
          batchIndex = 0;
          plan = epochPlan(epoch);
        }
        const rows = plan.order.slice(batchIndex * own.batchSize, (batchIndex + 1) * own.batchSize).map((i, k) => ({ i, j: plan.pick[batchIndex * own.batchSize + k] }));
        batchIndex++;
        return { src: imageSources(rows.map((r) => train.images[r.i])), tgt: rows.map((r) => trainCaptions[r.i][r.j]) };
      },
      loss: (batch, step) => ({
        loss: model.forward(batch, { teacherForcing: teacherForcingProbability(own.teacherForcing, step), feedback: own.feedback, rng, penalty: own.penalty }).loss,
        tokens: batch.tgt.reduce((a, t) => a + t.length + 1, 0),
      }),
      evaluate: () => {
        const valLoss = teacherForcedLoss(model, val.images, vocab, val.name);
        const hyps = captionImages([model], evalSet, { beam: 1, maxLength: own.maxLength });
        const s = captionScores(hyps.map((h) => vocab.decode(h.tokens)), evalSet);
        return { valLoss, valBleu4: s.bleu4, valCiderD: s.ciderD, valExactMatch: s.exactMatch };
      },
      sample: () => {
        const [h] = captionImages([model], [val.images[0]], { beam: 1, maxLength: own.maxLength });
        return vocab.decode(h.tokens).join(' ');
      },
      progress: (step) => ({ epoch: epoch + batchIndex / perEpoch, teacherForcing: teacherForcingProbability(own.teacherForcing, step) }),
      saveState: () => ({ counters: { epoch, batchIndex }, tensors: new Map() }),
      restoreState: (counters) => {
        epoch = counters.epoch ?? 0;
        batchIndex = counters.batchIndex ?? 0;
        plan = epochPlan(epoch);
      },
    };
  };

  return {
    formats: [CAPTIONER_FORMAT],
    what: 'recurrent captioner',
    create: ({ rng, seed }) => {
      const vocab = TokenVocabulary.fromSequences(train.images.flatMap((im) => im.captions), [BOS, EOS]);
      const attention = asked.attention ?? 'soft';
      const hiddenSize = asked.hiddenSize ?? 128;
      const config: CaptionerConfig = {
        vocabSize: vocab.size, embeddingSize: asked.embeddingSize ?? 64, hiddenSize, attention,
        ...(asked.attentionSize === undefined ? {} : { attentionSize: asked.attentionSize }),
        image: { channels: 3, height: train.height, width: train.width }, encoder: { channels: asked.encoderChannels ?? [16, 32, 64] },
        bos: vocab.id(BOS)!, eos: vocab.id(EOS)!,
      };
      const model = new Captioner(config, rng);
      return disposeOnThrow(model, () => make(model, vocab, seed, rng));
    },
    resume: (raw, { rng, seed }, where) => {
      const config = raw as unknown as CaptionerCheckpointConfig;
      const s = (config.train ?? {}) as Partial<CaptioningTaskOptions>;
      checkResumeOption(where, 'kind', checkpointKind(config), kind);
      for (const k of ['batchSize', 'penalty', 'maxLength'] as const) checkResumeOption(where, k, s[k], own[k]);
      checkResumeOption(where, 'teacherForcing', JSON.stringify(s.teacherForcing), JSON.stringify(own.teacherForcing));
      checkSameData(where, config.data, fingerprint);
      const m = config.model ?? ({} as Partial<CaptionerConfig>);
      const had: Record<keyof CaptionerModelOptions, unknown> = {
        attention: m.attention, hiddenSize: m.hiddenSize, embeddingSize: m.embeddingSize, attentionSize: m.attentionSize ?? m.hiddenSize,
        encoderChannels: JSON.stringify(m.encoder?.channels),
      };
      for (const [k, want] of Object.entries(asked) as Array<[keyof CaptionerModelOptions, unknown]>) {
        const w = k === 'encoderChannels' ? JSON.stringify(want) : want;
        if (want !== undefined && had[k] !== w) throw new Error(`cannot resume ${where}: its model has ${k} ${String(had[k])}, this run asks for ${optionName(k)} ${String(w)}`);
      }
      const { model, vocab } = captionerFromConfig(config, `${where}/config.json`, rng);
      return disposeOnThrow(model, () => make(model, vocab, seed, rng));
    },
  };
}
