// The character language-model task for the training engine: the vocabulary is the sorted unique characters;
// the first 90% of the text trains and the last 10% validates; cross-entropy of the next character; a sample
// at each evaluation. How batches are drawn depends on the model:
// - a recurrent model reads char-rnn's streams: the text cut into B contiguous streams read T characters a
//   step (data/streams.ts), the state carried (detached) from step to step and reset when the streams wrap;
// - a Transformer (nn/transformer-language-model.ts) reads B windows of `context` characters at random
//   offsets each step, as nanoGPT does: it carries nothing from one window to the next, so the streams' one
//   advantage is gone, and random offsets put every character at every position of the window and make the
//   batches independent draws (a fixed cut would always show a character at the same position);
// - with one sequence per line (data/line-sequences.ts), either reads B random lines a step.
// Validation reads the last 10% as B streams of consecutive windows of T characters (state carried by a
// recurrent model; each window on its own for a Transformer). Checkpoints are the
// 'recurrent-language-model/1' format, whose training file also keeps a recurrent model's carried state.

import { crossEntropy } from '../autograd/ops.js';
import { checkSameData, countCodePoints, dataFingerprint, type DataFingerprint } from '../data/fingerprint.js';
import { BOUNDARY, PAD_TARGET, lineBatch, splitLineSequences, type LineBatch } from '../data/line-sequences.js';
import { StreamBatcher, splitTrainVal, type Batch } from '../data/streams.js';
import { Vocabulary } from '../data/vocabulary.js';
import { generateText } from '../decode/generate.js';
import type { NamedArray } from '../io/safetensors.js';
import { LanguageModel, detachState, disposeState, type CarriedState, type LanguageModelConfig } from '../nn/language-model.js';
import { TransformerLanguageModel, type TransformerLanguageModelConfig } from '../nn/transformer-language-model.js';
import type { CellKind } from '../nn/recurrent/index.js';
import type { Rng } from '../random/rng.js';
import { Tensor, noGrad, tidy, untracked } from '../tensor/tensor.js';
import { checkResumeOption, type TaskContext, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const LANGUAGE_MODEL_FORMAT = 'recurrent-language-model/1';

export interface LanguageModelTaskOptions {
  /** A recurrent model (cell) or a GPT-style Transformer. */
  arch: 'recurrent' | 'transformer';
  cell: CellKind;
  /** H of a recurrent model; E, the width, of a Transformer. */
  hiddenSize: number;
  numLayers: number;
  /** Transformer: attention heads (they divide hiddenSize). */
  numHeads: number;
  /** Transformer: the window it reads, in characters (its positions). */
  context: number;
  /** Transformer: the output layer's weight is the token embedding's. */
  tieEmbeddings: boolean;
  /** Characters per stream per step (T) of a recurrent model; a Transformer's windows are `context` long. */
  seqLength: number;
  /** Parallel streams (B). */
  batchSize: number;
  dropout: number;
  /** Characters sampled at each evaluation (0 = none). */
  sampleLength: number;
  /**
   * One sequence per line (data/line-sequences.ts) instead of the streams: B random lines a step (seqLength
   * does not apply), a seeded min(1000, 10%) of the lines held out.
   */
  perLine: boolean;
}

export const defaultLanguageModelTaskOptions: LanguageModelTaskOptions = {
  arch: 'recurrent', cell: 'lstm', hiddenSize: 128, numLayers: 2, numHeads: 4, context: 64, tieEmbeddings: false,
  seqLength: 50, batchSize: 50, dropout: 0, sampleLength: 200, perLine: false,
};

/** Either kind of character model: both read (T, B) ids and give (T·B, V) logits (a Transformer's state is null). */
export type CharModel = LanguageModel | TransformerLanguageModel;

/** The options a checkpoint's `train` must agree with on resume, per architecture (absent from older checkpoints: recurrent). */
const RESUME_KEYS = {
  recurrent: ['arch', 'cell', 'hiddenSize', 'numLayers', 'seqLength', 'batchSize'],
  transformer: ['arch', 'hiddenSize', 'numLayers', 'numHeads', 'context', 'tieEmbeddings', 'batchSize'],
} as const;

export interface LanguageModelCheckpointConfig {
  format: typeof LANGUAGE_MODEL_FORMAT;
  model: LanguageModelConfig | TransformerLanguageModelConfig;
  vocab: string[];
  /** The task's options and the engine's (lr, optimizer, seed, ...). */
  train: LanguageModelTaskOptions & Record<string, unknown>;
  data: { name: string } & DataFingerprint;
}

export interface LanguageModelTask extends TrainingTask<Batch | LineBatch> {
  readonly model: CharModel;
  readonly vocab: Vocabulary;
}

/** A checkpoint's model and vocabulary from its config.json (weights not loaded); errors name `configPath`. */
export function languageModelFromConfig(config: LanguageModelCheckpointConfig, configPath: string, rng: Rng): { model: CharModel; vocab: Vocabulary } {
  if (!Array.isArray(config.vocab) || typeof config.model !== 'object' || config.model === null) {
    throw new Error(`${configPath} is not a recurrent language-model checkpoint (format ${JSON.stringify(config.format)})`);
  }
  const vocab = new Vocabulary(config.vocab);
  if (config.model.vocabSize !== vocab.size) throw new Error(`${configPath} is inconsistent: vocabSize ${config.model.vocabSize} but ${vocab.size} characters`);
  const m = config.model;
  return { model: 'arch' in m && m.arch === 'transformer' ? new TransformerLanguageModel(m, rng) : new LanguageModel(m as LanguageModelConfig, rng), vocab };
}

/** The task of training a character language model on `text` (named `dataName` in messages and the checkpoint). */
export function languageModelTask(text: string, dataName: string, options: Partial<LanguageModelTaskOptions> = {}): TaskDefinition<LanguageModelTask> {
  const given = { ...defaultLanguageModelTaskOptions, ...options };
  // A Transformer's windows are its context: that is the T its batches and its validation read.
  const opts = given.arch === 'transformer' ? { ...given, seqLength: given.context } : given;
  const fingerprint = dataFingerprint(text);
  const data = { name: dataName, ...fingerprint };
  const make = (model: CharModel, vocab: Vocabulary, ctx: TaskContext): LanguageModelTask => {
    // Each recipe's loss only ever gets the batches its own batch() made (the engine hands them straight back).
    const recipe = (opts.perLine
      ? lineRecipe(model, vocab, text, dataName, opts, ctx)
      : model instanceof TransformerLanguageModel ? windowRecipe(model, vocab, text, dataName, opts, ctx) : streamRecipe(model, vocab, text, dataName, opts)) as Recipe<Batch | LineBatch>;
    return {
      format: LANGUAGE_MODEL_FORMAT,
      config: { model: model.config, vocab: [...vocab.chars], train: opts, data },
      model,
      vocab,
      description: `${describeModel(model)} on ${dataName} (${recipe.what})`,
      ...recipe,
      ...(opts.sampleLength > 0 ? {
        sample: (step: number) => generateText(model, vocab, { length: opts.sampleLength, prime: vocab.has(BOUNDARY) ? BOUNDARY : undefined, lines: opts.perLine }, ctx.rng.fork(step)),
      } : {}),
    };
  };
  return {
    formats: [LANGUAGE_MODEL_FORMAT],
    what: 'recurrent language-model',
    create: (ctx) => {
      const { rng } = ctx;
      // With one sequence per line the newline, which starts and ends each one, is in the vocabulary even if the file lacks a final one.
      const vocab = Vocabulary.fromText(opts.perLine ? `${text}${BOUNDARY}` : text);
      const model = opts.arch === 'transformer'
        ? new TransformerLanguageModel({
          arch: 'transformer', vocabSize: vocab.size, dModel: opts.hiddenSize, numLayers: opts.numLayers, numHeads: opts.numHeads,
          context: opts.context, dropout: opts.dropout, tieEmbeddings: opts.tieEmbeddings,
        }, rng)
        : new LanguageModel({ cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, dropout: opts.dropout }, rng);
      return make(model, vocab, ctx);
    },
    resume: (raw, ctx, where) => {
      const config = raw as unknown as LanguageModelCheckpointConfig;
      const s = (config.train ?? {}) as Partial<LanguageModelTaskOptions>;
      checkResumeOption(where, 'arch', s.arch ?? 'recurrent', opts.arch); // absent from checkpoints before Transformers: recurrent
      for (const k of RESUME_KEYS[opts.arch]) checkResumeOption(where, k, k === 'arch' ? s.arch ?? 'recurrent' : s[k], opts[k]);
      checkResumeOption(where, 'perLine', s.perLine ?? false, opts.perLine); // absent from checkpoints before the option: streams
      checkSameData(where, config.data, fingerprint);
      const { model, vocab } = languageModelFromConfig(config, `${where}/config.json`, ctx.rng);
      // The model is the checkpoint's (its dropout included); this run's sample length applies.
      return make(model, vocab, ctx);
    },
  };
}

/** How batches are made and scored: the streams or the lines. */
interface Recipe<B> extends Pick<TrainingTask<B>, 'batch' | 'loss' | 'evaluate' | 'saveState' | 'restoreState' | 'dispose'> {
  /** The data, for the task's description. */
  what: string;
}

/** char-rnn's: B contiguous streams read T characters a step, the state carried from step to step (truncated BPTT). */
function streamRecipe(model: LanguageModel, vocab: Vocabulary, text: string, dataName: string, opts: LanguageModelTaskOptions): Recipe<Batch> {
  const ids = vocab.encode(text, dataName);
  const { train, val } = splitTrainVal(ids);
  const T = opts.seqLength;
  const B = opts.batchSize;
  const trainBatches = new StreamBatcher(train, B, T, `${dataName} (training split, first 90%)`);
  const valBatches = new StreamBatcher(val, B, T, `${dataName} (validation split, last 10%)`);
  const { numLayers: L, hiddenSize: H } = model.config;
  let carried: CarriedState | null = null;
  return {
    what: `${countCodePoints(text)} characters`,
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
}

/** nanoGPT's: B windows of `context` characters at random offsets of the training split (and their next characters). */
function windowRecipe(model: TransformerLanguageModel, vocab: Vocabulary, text: string, dataName: string, opts: LanguageModelTaskOptions, ctx: TaskContext): Recipe<Batch> {
  const ids = vocab.encode(text, dataName);
  const { train, val } = splitTrainVal(ids);
  const T = model.config.context;
  const B = opts.batchSize;
  if (train.length < T + 1) throw new Error(`${dataName} is too short: its training split (first 90%) has ${train.length} characters, fewer than one window of ${T + 1}`);
  const valBatches = new StreamBatcher(val, B, T, `${dataName} (validation split, last 10%)`);
  return {
    what: `${countCodePoints(text)} characters`,
    batch: () => {
      const inputs = new Int32Array(T * B); // (T, B)
      const targets = new Int32Array(T * B); // (T, B)
      for (let b = 0; b < B; b++) {
        const start = ctx.rng.int(train.length - T);
        for (let t = 0; t < T; t++) {
          inputs[t * B + b] = train[start + t];
          targets[t * B + b] = train[start + t + 1];
        }
      }
      return { inputs, targets, resetState: false };
    },
    loss: (b) => ({ loss: crossEntropy(model.forward(b.inputs, T, B, null).logits, b.targets), tokens: T * B }),
    evaluate: () => ({ valLoss: validationLoss(model, valBatches) }),
  };
}

/** One sequence per line (data/line-sequences.ts): B random lines a step, each from a zero state. */
function lineRecipe(model: CharModel, vocab: Vocabulary, text: string, dataName: string, opts: LanguageModelTaskOptions, ctx: TaskContext): Recipe<LineBatch> {
  const { train, val } = splitLineSequences(text, vocab, dataName, ctx.seed);
  const boundary = vocab.encode(BOUNDARY)[0];
  if (model instanceof TransformerLanguageModel) {
    const C = model.config.context;
    for (const [set, what] of [[train, 'training'], [val, 'held-out']] as const) {
      const long = set.findIndex((l) => l.length + 1 > C);
      if (long >= 0) throw new Error(`${dataName}: a ${what} line of ${set[long].length} characters needs a context of ${set[long].length + 1} (with its start token), more than the model's ${C}`);
    }
  }
  return {
    what: `${train.length} training and ${val.length} held-out lines`,
    batch: () => lineBatch(train, Array.from({ length: opts.batchSize }, () => ctx.rng.int(train.length)), boundary),
    loss: (b) => ({ loss: crossEntropy(model.forward(b.inputs, b.T, b.B, null).logits, b.targets, PAD_TARGET), tokens: b.tokens }),
    evaluate: () => ({ valLoss: lineLoss(model, val, boundary, opts.batchSize) }),
  };
}

/** Mean negative log-likelihood per token (end tokens included) of `lines`, in batches of `batchSize` lines. */
export function lineLoss(model: CharModel, lines: readonly Int32Array[], boundary: number, batchSize: number): number {
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  let tokens = 0;
  try {
    // In order of length, so a batch pads little (a line's loss does not depend on its batch mates).
    const order = lines.map((_, i) => i).sort((a, b) => lines[a].length - lines[b].length);
    for (let s = 0; s < order.length; s += batchSize) {
      const b = lineBatch(lines, order.slice(s, s + batchSize), boundary);
      sum += b.tokens * noGrad(() => tidy(() => crossEntropy(model.forward(b.inputs, b.T, b.B, null).logits, b.targets, PAD_TARGET).item()));
      tokens += b.tokens;
    }
  } finally {
    model.train(wasTraining);
  }
  return sum / tokens;
}

/**
 * The held-out loss of `text` as a run with options `opts` validates: the last 10% as streams, or the held-out
 * lines; `tokens` scored (end tokens included) and, for lines, how many.
 */
export function heldOutLoss(
  model: CharModel, vocab: Vocabulary, text: string, dataName: string, opts: LanguageModelTaskOptions & { seed: number },
): { valLoss: number; tokens: number; lines?: number } {
  if (opts.perLine) {
    const { val } = splitLineSequences(text, vocab, dataName, opts.seed);
    return { valLoss: lineLoss(model, val, vocab.encode(BOUNDARY)[0], opts.batchSize), tokens: val.reduce((a, l) => a + l.length + 1, 0), lines: val.length };
  }
  const { val } = splitTrainVal(vocab.encode(text, dataName));
  const batches = new StreamBatcher(val, opts.batchSize, opts.seqLength, `${dataName} (validation split, last 10%)`);
  return { valLoss: validationLoss(model, batches), tokens: batches.chunksPerEpoch * batches.seqLength * batches.batchSize };
}

/** e.g. "lstm 2×128", "transformer 4×128 (4 heads, context 64, tied)". */
export function describeModel(model: CharModel): string {
  if (model instanceof LanguageModel) return `${model.config.cell} ${model.config.numLayers}×${model.config.hiddenSize}`;
  const c = model.config;
  return `transformer ${c.numLayers}×${c.dModel} (${c.numHeads} heads, context ${c.context}${c.tieEmbeddings ? ', tied embeddings' : ''})`;
}

/** Mean cross-entropy (nats per character) over the validation streams, a recurrent model's state carried from zero. */
export function validationLoss(model: CharModel, batches: StreamBatcher): number {
  const wasTraining = model.training;
  model.eval();
  let carried: CarriedState | null = null;
  let sum = 0;
  try {
    for (let k = 0; k < batches.chunksPerEpoch; k++) {
      const b = batches.batch(k);
      const r = noGrad(() => tidy(() => {
        if (model instanceof TransformerLanguageModel) return { loss: crossEntropy(model.forward(b.inputs, batches.seqLength, batches.batchSize).logits, b.targets).item(), next: null };
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
