// The lectures' example as a task for the training engine: a character model trained on one short
// sequence ("hello": vocabulary e, h, l, o), reading s[0..T-1] from a zero state at every step and
// predicting s[1..T]. Its checkpoints are language-model checkpoints ('recurrent-language-model/1',
// streams of T characters, batch 1), so `recurrent sample` reads them. Nothing is held out: the
// evaluation scores the training sequence itself.

import { crossEntropy } from '../autograd/ops.js';
import { checkSameData, dataFingerprint } from '../data/fingerprint.js';
import { Vocabulary } from '../data/vocabulary.js';
import { generateText } from '../decode/generate.js';
import { LanguageModel } from '../nn/language-model.js';
import type { CellKind } from '../nn/recurrent/index.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { recurrentModel } from '../analysis/cell-activations.js';
import { checkResumeOption, type TaskContext, type TaskDefinition } from '../train/engine.js';
import {
  LANGUAGE_MODEL_FORMAT, defaultLanguageModelTaskOptions, languageModelFromConfig, type LanguageModelCheckpointConfig, type LanguageModelTask, type LanguageModelTaskOptions,
} from './language-model.js';

export interface OneSequenceTaskOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
}

export const defaultOneSequenceTaskOptions: OneSequenceTaskOptions = { cell: 'rnn_tanh', hiddenSize: 3, numLayers: 1 };

export function oneSequenceTask(sequence: string, options: Partial<OneSequenceTaskOptions> = {}): TaskDefinition<LanguageModelTask> {
  const opts = { ...defaultOneSequenceTaskOptions, ...options };
  const chars = Array.from(sequence);
  const T = chars.length - 1;
  if (T < 1) throw new Error(`the sequence must have at least two characters, got ${JSON.stringify(sequence)}`);
  const fingerprint = dataFingerprint(sequence);
  const data = { name: JSON.stringify(sequence), ...fingerprint };
  // What config.json records: a language model read as streams of T characters, one at a time.
  const train: LanguageModelTaskOptions = { ...defaultLanguageModelTaskOptions, ...opts, seqLength: T, batchSize: 1, dropout: 0, sampleLength: T, perLine: false };
  const make = (model: LanguageModel, vocab: Vocabulary, ctx: TaskContext): LanguageModelTask => {
    const ids = vocab.encode(sequence, 'the sequence');
    const inputs = ids.slice(0, T); // (T, 1)
    const targets = ids.slice(1); // (T)
    const batch = { inputs, targets, resetState: true }; // every step reads the sequence from a zero state
    const loss = () => crossEntropy(model.forward(inputs, T, 1, null).logits, targets); // the mean over the T steps
    return {
      format: LANGUAGE_MODEL_FORMAT,
      config: { model: model.config, vocab: [...vocab.chars], train, data },
      model,
      vocab,
      description: `${opts.cell} ${opts.numLayers}×${opts.hiddenSize} on ${data.name}`,
      batch: () => batch,
      loss: () => ({ loss: loss(), tokens: T }),
      evaluate: () => ({ valLoss: noGrad(() => tidy(() => loss().item())) }),
      sample: (step) => generateText(model, vocab, { length: T, prime: chars[0] }, ctx.rng.fork(step)),
    };
  };
  return {
    formats: [LANGUAGE_MODEL_FORMAT],
    what: 'recurrent language-model',
    create: (ctx) => {
      const vocab = Vocabulary.fromText(sequence);
      const model = new LanguageModel({ cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, dropout: 0 }, ctx.rng);
      return make(model, vocab, ctx);
    },
    resume: (raw, ctx, where) => {
      const config = raw as unknown as LanguageModelCheckpointConfig;
      const s = (config.train ?? {}) as Partial<LanguageModelTaskOptions>;
      for (const k of ['cell', 'hiddenSize', 'numLayers', 'seqLength', 'batchSize'] as const) checkResumeOption(where, k, s[k], train[k]);
      checkSameData(where, config.data, fingerprint);
      const { model, vocab } = languageModelFromConfig(config, `${where}/config.json`, ctx.rng);
      return make(recurrentModel(model, where), vocab, ctx);
    },
  };
}
