// The char-rnn task for the training engine: the vocabulary is the sorted unique characters; the first 90%
// of the text trains and the last 10% validates; the text is cut into B contiguous streams read T characters
// a step (data/streams.ts), the recurrent state carried (detached) from step to step and reset when the
// streams wrap; cross-entropy of the next character; a sample at each evaluation. Its checkpoints are the
// 'recurrent-language-model/1' format, whose training file also keeps the carried state.

import { crossEntropy } from '../autograd/ops.js';
import { checkSameData, countCodePoints, dataFingerprint, type DataFingerprint } from '../data/fingerprint.js';
import { StreamBatcher, splitTrainVal, type Batch } from '../data/streams.js';
import { Vocabulary } from '../data/vocabulary.js';
import { generateText } from '../decode/generate.js';
import type { NamedArray } from '../io/safetensors.js';
import { LanguageModel, detachState, disposeState, type CarriedState, type LanguageModelConfig } from '../nn/language-model.js';
import type { CellKind } from '../nn/recurrent/index.js';
import type { Rng } from '../random/rng.js';
import { Tensor, noGrad, tidy, untracked } from '../tensor/tensor.js';
import { checkResumeOption, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const LANGUAGE_MODEL_FORMAT = 'recurrent-language-model/1';

export interface LanguageModelTaskOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
  /** Characters per stream per step (T). */
  seqLength: number;
  /** Parallel streams (B). */
  batchSize: number;
  dropout: number;
  /** Characters sampled at each evaluation (0 = none). */
  sampleLength: number;
}

export const defaultLanguageModelTaskOptions: LanguageModelTaskOptions = {
  cell: 'lstm', hiddenSize: 128, numLayers: 2, seqLength: 50, batchSize: 50, dropout: 0, sampleLength: 200,
};

export interface LanguageModelCheckpointConfig {
  format: typeof LANGUAGE_MODEL_FORMAT;
  model: LanguageModelConfig;
  vocab: string[];
  /** The task's options and the engine's (lr, optimizer, seed, ...). */
  train: LanguageModelTaskOptions & Record<string, unknown>;
  data: { name: string } & DataFingerprint;
}

export interface LanguageModelTask extends TrainingTask<Batch> {
  readonly model: LanguageModel;
  readonly vocab: Vocabulary;
}

/** A checkpoint's model and vocabulary from its config.json (weights not loaded); errors name `configPath`. */
export function languageModelFromConfig(config: LanguageModelCheckpointConfig, configPath: string, rng: Rng): { model: LanguageModel; vocab: Vocabulary } {
  if (!Array.isArray(config.vocab) || typeof config.model !== 'object' || config.model === null) {
    throw new Error(`${configPath} is not a recurrent language-model checkpoint (format ${JSON.stringify(config.format)})`);
  }
  const vocab = new Vocabulary(config.vocab);
  if (config.model.vocabSize !== vocab.size) throw new Error(`${configPath} is inconsistent: vocabSize ${config.model.vocabSize} but ${vocab.size} characters`);
  return { model: new LanguageModel(config.model, rng), vocab };
}

/** The task of training a character language model on `text` (named `dataName` in messages and the checkpoint). */
export function languageModelTask(text: string, dataName: string, options: Partial<LanguageModelTaskOptions> = {}): TaskDefinition<LanguageModelTask> {
  const opts = { ...defaultLanguageModelTaskOptions, ...options };
  const fingerprint = dataFingerprint(text);
  const data = { name: dataName, ...fingerprint };
  const make = (model: LanguageModel, vocab: Vocabulary, rng: Rng): LanguageModelTask => {
    const ids = vocab.encode(text, dataName);
    const { train, val } = splitTrainVal(ids);
    const T = opts.seqLength;
    const B = opts.batchSize;
    const trainBatches = new StreamBatcher(train, B, T, `${dataName} (training split, first 90%)`);
    const valBatches = new StreamBatcher(val, B, T, `${dataName} (validation split, last 10%)`);
    const { cell, numLayers: L, hiddenSize: H } = model.config;
    let carried: CarriedState | null = null;
    const prime = vocab.has('\n') ? '\n' : undefined;
    return {
      format: LANGUAGE_MODEL_FORMAT,
      config: { model: model.config, vocab: [...vocab.chars], train: opts, data },
      model,
      vocab,
      description: `${cell} ${L}×${H} on ${dataName} (${countCodePoints(text)} characters)`,
      batch: (step) => {
        const b = trainBatches.batch(step);
        if (b.resetState) {
          disposeState(carried);
          carried = null;
        }
        return b;
      },
      loss: (b) => {
        const { logits, state } = model.forward(b.inputs, T, B, carried); // (T*B, V)
        return {
          loss: crossEntropy(logits, b.targets),
          tokens: T * B,
          commit: () => {
            // The state moves to the next step cut from the tape (truncated BPTT).
            const next = detachState(state);
            disposeState(carried);
            carried = next;
          },
        };
      },
      evaluate: () => ({ valLoss: validationLoss(model, valBatches) }),
      ...(opts.sampleLength > 0 ? { sample: (step: number) => generateText(model, vocab, { length: opts.sampleLength, prime }, rng.fork(step)) } : {}),
      saveState: () => {
        const tensors = new Map<string, NamedArray>();
        if (carried !== null) {
          tensors.set('carried.h', { dtype: 'F32', shape: [...carried.h.shape], data: carried.h.data.slice() });
          if (carried.c !== null) tensors.set('carried.c', { dtype: 'F32', shape: [...carried.c.shape], data: carried.c.data.slice() });
        }
        return { counters: {}, tensors };
      },
      restoreState: (_counters, tensors, path) => {
        const h = tensors.get('carried.h');
        const c = tensors.get('carried.c');
        if (h === undefined) return;
        const want = [L, B, H];
        for (const [name, t] of [['carried.h', h], ['carried.c', c]] as const) {
          if (t !== undefined && t.shape.join() !== want.join()) throw new Error(`${path}: ${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
        }
        disposeState(carried);
        carried = untracked(() => ({
          h: Tensor.from(h.data as Float32Array, h.shape),
          c: c === undefined ? null : Tensor.from(c.data as Float32Array, c.shape),
        }));
      },
      dispose: () => {
        disposeState(carried);
        carried = null;
      },
    };
  };
  return {
    formats: [LANGUAGE_MODEL_FORMAT],
    what: 'recurrent language-model',
    create: ({ rng }) => {
      const vocab = Vocabulary.fromText(text);
      const model = new LanguageModel(
        { cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, dropout: opts.dropout }, rng,
      );
      return make(model, vocab, rng);
    },
    resume: (raw, { rng }, where) => {
      const config = raw as unknown as LanguageModelCheckpointConfig;
      const s = (config.train ?? {}) as Partial<LanguageModelTaskOptions>;
      for (const k of ['cell', 'hiddenSize', 'numLayers', 'seqLength', 'batchSize'] as const) checkResumeOption(where, k, s[k], opts[k]);
      checkSameData(where, config.data, fingerprint);
      const { model, vocab } = languageModelFromConfig(config, `${where}/config.json`, rng);
      // The model is the checkpoint's (its dropout included); this run's sample length applies.
      return make(model, vocab, rng);
    },
  };
}

/** Mean cross-entropy (nats per character) over the validation streams, state carried from zero. */
export function validationLoss(model: LanguageModel, batches: StreamBatcher): number {
  const wasTraining = model.training;
  model.eval();
  let carried: CarriedState | null = null;
  let sum = 0;
  try {
    for (let k = 0; k < batches.chunksPerEpoch; k++) {
      const b = batches.batch(k);
      const r = noGrad(() => tidy(() => {
        const { logits, state } = model.forward(b.inputs, batches.seqLength, batches.batchSize, carried);
        return { loss: crossEntropy(logits, b.targets).item(), next: detachState(state) };
      }));
      disposeState(carried);
      carried = r.next;
      sum += r.loss;
    }
  } finally {
    disposeState(carried);
    model.train(wasTraining);
  }
  return sum / batches.chunksPerEpoch;
}
