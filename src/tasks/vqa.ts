// Visual questions for the training engine: a VqaModel (attention over the CNN's grid, or the question-only
// baseline) trained on (image, question, answer) triples, each image with several questions (the question
// scenes of data/caption-dataset.ts, read by the caller). Batches of triples in a seeded per-epoch order;
// evaluation is the loss and the accuracy on the validation triples, overall and per question type.

import { TokenVocabulary } from '../data/parallel-text.js';
import { checkSameData, dataFingerprint, type DataFingerprint } from '../data/fingerprint.js';
import { QUESTION_TYPES, type Question, type QuestionType } from '../data/scenes.js';
import { VqaModel, type VqaBatch, type VqaModelConfig } from '../nn/vqa-model.js';
import { Rng, shuffle } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { checkResumeOption, disposeOnThrow, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const VQA_FORMAT = 'recurrent-vqa/1';

/** One image: its pixels (3, H, W) as bytes, channel-major, and its questions. */
export interface VqaImage {
  pixels: Uint8Array;
  questions: Question[];
}

export interface VqaSet {
  name: string;
  width: number;
  height: number;
  images: VqaImage[];
}

/** Each left out takes the default (image attention, hidden 128, embedding 64, CNN [8, 16, 32]). */
export interface VqaModelOptions {
  /** false: the question-only baseline. */
  useImage?: boolean;
  hiddenSize?: number;
  embeddingSize?: number;
  encoderChannels?: number[];
}

export interface VqaTaskOptions {
  /** Questions per step. */
  batchSize: number;
}

export const defaultVqaTaskOptions: VqaTaskOptions = { batchSize: 32 };

export interface VqaCheckpointConfig {
  format: typeof VQA_FORMAT;
  model: VqaModelConfig;
  vocab: string[];
  answers: string[];
  train: VqaTaskOptions & Record<string, unknown>;
  data: { name: string; chars: number; hash: string };
}

export function vqaFromConfig(config: VqaCheckpointConfig, configPath: string, rng: Rng = new Rng(0)): { model: VqaModel; vocab: TokenVocabulary; answers: TokenVocabulary } {
  if (!Array.isArray(config.vocab) || !Array.isArray(config.answers) || config.model === null || typeof config.model !== 'object') {
    throw new Error(`${configPath} is corrupt: it lacks the model, the vocabulary or the answers`);
  }
  const vocab = new TokenVocabulary(config.vocab);
  const answers = new TokenVocabulary(config.answers);
  if (config.model.vocabSize !== vocab.size || config.model.numAnswers !== answers.size) throw new Error(`${configPath} is inconsistent: the model's sizes do not match its vocabularies`);
  return { model: new VqaModel(config.model, rng), vocab, answers };
}

interface Triple { image: number; question: Int32Array; answer: number; type: QuestionType }

function triples(set: VqaSet, vocab: TokenVocabulary, answers: TokenVocabulary): Triple[] {
  return set.images.flatMap((im, i) => im.questions.map((q, j) => {
    const a = answers.id(q.answer);
    if (a === undefined) throw new Error(`${set.name}: image ${i} question ${j}: the answer "${q.answer}" is not one the model knows`);
    return { image: i, question: vocab.encode(q.words, `${set.name} image ${i} question ${j}`), answer: a, type: q.type };
  }));
}

function batchOf(model: VqaModel, set: VqaSet, ts: readonly Triple[]): VqaBatch {
  return {
    ...(model.encoder === null ? {} : { images: ts.map((t) => Float32Array.from(set.images[t.image].pixels, (p) => p / 255)) }),
    questions: ts.map((t) => t.question),
    answers: Int32Array.from(ts, (t) => t.answer),
  };
}

/** Loss and accuracy over every question of `set`, overall and per question type (NaN for a type it lacks). */
export function vqaScores(model: VqaModel, set: VqaSet, vocab: TokenVocabulary, answers: TokenVocabulary): Record<string, number> {
  const ts = triples(set, vocab, answers);
  let lossSum = 0;
  const right = new Map<QuestionType, number>();
  const count = new Map<QuestionType, number>();
  const A = model.config.numAnswers;
  for (let k = 0; k < ts.length; k += 64) {
    const chunk = ts.slice(k, k + 64);
    noGrad(() => tidy(() => {
      const out = model.forward(batchOf(model, set, chunk));
      lossSum += out.loss!.item() * chunk.length;
      const l = out.logits.data; // (B, A)
      chunk.forEach((t, b) => {
        let best = 0;
        for (let j = 1; j < A; j++) if (l[b * A + j] > l[b * A + best]) best = j;
        count.set(t.type, (count.get(t.type) ?? 0) + 1);
        right.set(t.type, (right.get(t.type) ?? 0) + (best === t.answer ? 1 : 0));
      });
    }));
  }
  const all = [...right.values()].reduce((a, b) => a + b, 0);
  const out: Record<string, number> = { loss: lossSum / ts.length, accuracy: all / ts.length };
  for (const type of QUESTION_TYPES) out[`accuracy_${type}`] = (right.get(type) ?? NaN) / (count.get(type) ?? NaN);
  return out;
}

export interface VqaTask extends TrainingTask<VqaBatch> {
  readonly model: VqaModel;
  readonly vocab: TokenVocabulary;
  readonly answers: TokenVocabulary;
}

/** The task of training a VqaModel on `train`, validated on `val`; `fingerprint` as captioningTask's. */
export function vqaTask(
  train: VqaSet, val: VqaSet,
  opts: Partial<VqaTaskOptions> & { model?: VqaModelOptions; fingerprint?: DataFingerprint; optionName?(key: keyof VqaModelOptions): string } = {},
): TaskDefinition<VqaTask> {
  const { model: asked = {}, optionName = (k) => k, fingerprint: givenFingerprint, ...given } = opts;
  const own: VqaTaskOptions = { ...defaultVqaTaskOptions, ...given };
  for (const set of [train, val]) {
    if (set.images.length === 0) throw new Error(`${set.name} has no images`);
    set.images.forEach((im, i) => im.questions.forEach((q, j) => {
      if (q.words.length === 0) throw new Error(`${set.name}: image ${i} question ${j} is empty`);
    }));
  }
  if (val.width !== train.width || val.height !== train.height) throw new Error(`${val.name}: images are ${val.width}×${val.height}, ${train.name}'s are ${train.width}×${train.height}`);
  const fingerprint = givenFingerprint ?? dataFingerprint(train.images.map((im) => im.questions.map((q) => `${q.words.join(' ')} ${q.answer}`).join('\t')).join('\n'));
  const data = { name: train.name, ...fingerprint };

  const make = (model: VqaModel, vocab: TokenVocabulary, answers: TokenVocabulary, seed: number): VqaTask => {
    const img = model.config.image;
    if (img !== undefined && (img.width !== train.width || img.height !== train.height)) throw new Error(`${train.name}: images are ${train.width}×${train.height}, the model reads ${img.width}×${img.height}`);
    const trainSet = triples(train, vocab, answers);
    triples(val, vocab, answers);
    let epoch = 0;
    let batchIndex = 0;
    const order = (e: number): number[] => shuffle(trainSet.map((_, i) => i), new Rng((seed ^ 0x7661) + 7919 * e));
    let plan = order(epoch);
    const perEpoch = Math.ceil(trainSet.length / own.batchSize);
    const c = model.config;
    return {
      format: VQA_FORMAT,
      config: { model: model.config as VqaModelConfig, vocab: [...vocab.tokens], answers: [...answers.tokens], train: own, data },
      model, vocab, answers,
      description: `vqa ${model.encoder === null ? 'question-only baseline (no image)' : `attention over the CNN [${c.encoder!.channels.join(', ')}]'s grid`}, LSTM ${c.hiddenSize}, ` +
        `on ${trainSet.length} questions about ${train.images.length} images of ${train.name} (${val.images.length} images validate)`,
      batch: () => {
        if (batchIndex >= perEpoch) {
          epoch++;
          batchIndex = 0;
          plan = order(epoch);
        }
        const idx = plan.slice(batchIndex * own.batchSize, (batchIndex + 1) * own.batchSize);
        batchIndex++;
        return batchOf(model, train, idx.map((i) => trainSet[i]));
      },
      loss: (batch) => ({ loss: model.forward(batch).loss!, tokens: batch.questions.length }),
      evaluate: () => {
        const s = vqaScores(model, val, vocab, answers);
        return Object.fromEntries(Object.entries(s).map(([k, v]) => [`val${k[0].toUpperCase()}${k.slice(1)}`, v]).filter(([, v]) => Number.isFinite(v)));
      },
      progress: () => ({ epoch: epoch + batchIndex / perEpoch }),
      saveState: () => ({ counters: { epoch, batchIndex }, tensors: new Map() }),
      restoreState: (counters) => {
        epoch = counters.epoch ?? 0;
        batchIndex = counters.batchIndex ?? 0;
        plan = order(epoch);
      },
    };
  };

  return {
    formats: [VQA_FORMAT],
    what: 'recurrent vqa',
    create: ({ rng, seed }) => {
      const vocab = TokenVocabulary.fromSequences(train.images.flatMap((im) => im.questions.map((q) => q.words)));
      const answers = TokenVocabulary.fromSequences(train.images.flatMap((im) => im.questions.map((q) => [q.answer])));
      const config: VqaModelConfig = {
        vocabSize: vocab.size, numAnswers: answers.size, embeddingSize: asked.embeddingSize ?? 64, hiddenSize: asked.hiddenSize ?? 128,
        ...(asked.useImage === false ? {} : { image: { channels: 3, height: train.height, width: train.width }, encoder: { channels: asked.encoderChannels ?? [8, 16, 32] } }),
      };
      const model = new VqaModel(config, rng);
      return disposeOnThrow(model, () => make(model, vocab, answers, seed));
    },
    resume: (raw, { rng, seed }, where) => {
      const config = raw as unknown as VqaCheckpointConfig;
      checkResumeOption(where, 'batchSize', (config.train ?? {}).batchSize, own.batchSize);
      checkSameData(where, config.data, fingerprint);
      const m = config.model ?? ({} as Partial<VqaModelConfig>);
      const had: Record<keyof VqaModelOptions, unknown> = {
        useImage: m.image !== undefined, hiddenSize: m.hiddenSize, embeddingSize: m.embeddingSize, encoderChannels: JSON.stringify(m.encoder?.channels),
      };
      for (const [k, want] of Object.entries(asked) as Array<[keyof VqaModelOptions, unknown]>) {
        const w = k === 'encoderChannels' ? JSON.stringify(want) : want;
        if (want !== undefined && had[k] !== w) throw new Error(`cannot resume ${where}: its model has ${k} ${String(had[k])}, this run asks for ${optionName(k)} ${String(w)}`);
      }
      const { model, vocab, answers } = vqaFromConfig(config, `${where}/config.json`, rng);
      return disposeOnThrow(model, () => make(model, vocab, answers, seed));
    },
  };
}
