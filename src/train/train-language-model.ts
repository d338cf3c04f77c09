// The char-rnn training loop, readable top to bottom: B contiguous streams, T characters per step,
// state carried (detached) across steps and reset when the streams wrap; cross-entropy, backward,
// clip, optimizer step; evaluation on the last 10% with a sample; checkpoints after each evaluation.
// Everything random comes from one seeded generator whose state is checkpointed, so a resumed run
// ends with the same weights and losses as an uninterrupted one.

import { crossEntropy } from '../autograd/ops.js';
import { backward } from '../autograd/tape.js';
import { StreamBatcher, splitTrainVal } from '../data/streams.js';
import { Vocabulary } from '../data/vocabulary.js';
import { generateText } from '../decode/generate.js';
import { LanguageModel, detachState, disposeState, type CarriedState } from '../nn/language-model.js';
import type { CellKind } from '../nn/recurrent/index.js';
import { clipGradNorm, clipGradValue, gradNorm } from '../optim/clip.js';
import { createOptimizer, optimizerStep, type OptimizerState } from '../optim/optimizer.js';
import {
  createWeightAverage, disposeWeightAverage, updateWeightAverage, withAveragedWeights, type WeightAverage,
} from '../optim/weight-average.js';
import { budgetSecondsLeft, createSchedule, type ScheduleSpec } from '../optim/schedule.js';
import { Rng } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import {
  checkpointExists, dataFingerprint, loadCheckpoint, saveCheckpoint, type CheckpointConfig,
} from './checkpoint.js';

export interface TrainOptions {
  cell: CellKind;
  hiddenSize: number;
  numLayers: number;
  seqLength: number;
  batchSize: number;
  /** Stop after this many steps (total, counting steps before a resume)... */
  steps?: number;
  /** ...or after this many seconds of this invocation. */
  timeSec?: number;
  lr: number;
  optimizer: string;
  /** Global-norm clip (0 = off). */
  clip: number;
  /** Clip each gradient element to [-v, v] (0 = off). */
  clipValue: number;
  dropout: number;
  /** Decay of a moving average of the weights (optim/weight-average.ts), 0 or absent = none: evaluation and the checkpoint's model use it. */
  ema?: number;
  schedule: ScheduleSpec;
  evalEvery: number;
  seed: number;
  out: string;
  resume: boolean;
  /** Characters sampled at each evaluation (0 = none). */
  sampleLength: number;
}

export interface Metrics {
  step: number;
  tokens: number;
  trainLoss: number;
  valLoss: number;
  /** With a moving average of the weights: the raw weights' validation loss (valLoss is the average's). */
  raw?: { valLoss: number };
  tokensPerSec: number;
  elapsedSec: number;
}

export interface TrainHooks {
  onStep?(p: { step: number; totalSteps: number | null; loss: number; tokensPerSec: number; etaSec: number | null }): void;
  onEval?(m: Metrics, sample: string): void;
  onCheckpoint?(dir: string, step: number): void;
  /** Polled between steps: return true to stop (the run saves a checkpoint and returns). */
  shouldStop?(): boolean;
}

/** Thrown when the loss or the gradient norm stops being finite; the last good checkpoint is kept. */
export class DivergedError extends Error {}

export const defaultTrainOptions: Omit<TrainOptions, 'out'> = {
  cell: 'lstm',
  hiddenSize: 128,
  numLayers: 2,
  seqLength: 50,
  batchSize: 50,
  lr: 2e-3,
  optimizer: 'adam',
  clip: 5,
  clipValue: 0,
  dropout: 0,
  ema: 0,
  schedule: { kind: 'constant' },
  evalEvery: 100,
  seed: 1,
  resume: false,
  sampleLength: 200,
};

export async function trainLanguageModel(
  text: string, dataName: string, opts: TrainOptions, hooks: TrainHooks = {},
): Promise<{ metrics: Metrics[]; stoppedEarly: boolean; model: LanguageModel; vocab: Vocabulary }> {
  if (opts.steps === undefined && opts.timeSec === undefined) throw new Error('give --steps or --time');
  const ema = opts.ema ?? 0;
  if (!(ema >= 0 && ema < 1)) throw new Error(`ema must be a number in [0, 1) (0: off), got ${String(opts.ema)}`);
  const fingerprint = dataFingerprint(text);

  // --- model, optimizer, generator: fresh, or exactly as the checkpoint left them ---
  let vocab: Vocabulary;
  let model: LanguageModel;
  let optim: OptimizerState;
  let rng: Rng;
  let step = 0;
  let tokens = 0;
  let trainSecBefore = 0;
  let elapsedBefore = 0;
  let carried: CarriedState | null = null;
  let average: WeightAverage | null = null;
  // trainLoss is the mean over the steps since the last multiple of evalEvery (carried over a resume).
  let lossSum = 0;
  let lossCount = 0;
  if (!opts.resume && checkpointExists(opts.out)) {
    throw new Error(`${opts.out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);
  }
  if (opts.resume && checkpointExists(opts.out)) {
    const ck = loadCheckpoint(opts.out, { withTraining: true });
    checkResumeMatches(ck.config, opts, fingerprint, opts.out);
    ({ vocab, model } = ck);
    const t = ck.training!;
    rng = t.rng;
    optim = t.optimizer;
    step = t.step;
    tokens = t.tokens;
    trainSecBefore = t.trainSec;
    elapsedBefore = t.elapsedSec;
    carried = t.carried;
    lossSum = t.lossSum;
    lossCount = t.lossCount;
    average = t.average ?? null;
    if (average === null && ema > 0) throw new Error(`${opts.out} is corrupt: it was trained with ema ${ema}, but training.safetensors holds no weight average`);
  } else {
    vocab = Vocabulary.fromText(text);
    rng = new Rng(opts.seed);
    model = new LanguageModel(
      { cell: opts.cell, vocabSize: vocab.size, hiddenSize: opts.hiddenSize, numLayers: opts.numLayers, dropout: opts.dropout },
      rng,
    );
    optim = createOptimizer(opts.optimizer, model.namedParameters(), { lr: opts.lr });
    if (ema > 0) average = createWeightAverage(model.namedParameters(), ema);
  }
  const config: CheckpointConfig = {
    model: model.config,
    vocab: [...vocab.chars],
    train: { ...opts, ema, resume: false },
    data: { name: dataName, ...fingerprint },
  };

  // --- data: first 90% trains, last 10% validates ---
  const ids = vocab.encode(text, dataName);
  const { train, val } = splitTrainVal(ids);
  const trainBatches = new StreamBatcher(train, opts.batchSize, opts.seqLength, `${dataName} (training split, first 90%)`);
  const valBatches = new StreamBatcher(val, opts.batchSize, opts.seqLength, `${dataName} (validation split, last 10%)`);
  const lrAt = createSchedule(opts.schedule, opts.lr);
  const params = model.namedParameters();
  const T = opts.seqLength;
  const B = opts.batchSize;

  const metrics: Metrics[] = [];
  const start = performance.now();
  let trainSec = 0;
  let lastEvalStep = -1;
  let stoppedEarly = false;

  const elapsed = (): number => elapsedBefore + (performance.now() - start) / 1000;
  const save = (): void => {
    saveCheckpoint(opts.out, {
      config, model, training: {
        step, tokens, rng, optimizer: optim, carried, lossSum, lossCount, trainSec: trainSecBefore + trainSec, elapsedSec: elapsed(), average,
      },
    });
    hooks.onCheckpoint?.(opts.out, step);
  };
  const evaluate = (): void => {
    // With a weight average, the average is scored and sampled (it is what the checkpoint ships), and the raw weights scored beside it.
    const prime = vocab.has('\n') ? '\n' : undefined;
    const scoreAndSample = (): { valLoss: number; sample: string } => {
      const valLoss = validationLoss(model, valBatches);
      if (!Number.isFinite(valLoss)) throw new DivergedError(`validation loss became ${valLoss} at step ${step}; stopped, the last good checkpoint in ${opts.out} is kept`);
      // The sample draws from a fork of the generator, so evaluating never changes the training stream.
      return { valLoss, sample: opts.sampleLength > 0 ? generateText(model, vocab, { length: opts.sampleLength, prime }, rng.fork(step)) : '' };
    };
    const { valLoss, sample } = average === null ? scoreAndSample() : withAveragedWeights(average, params, scoreAndSample);
    const raw = average === null ? null : validationLoss(model, valBatches);
    if (raw !== null && !Number.isFinite(raw)) throw new DivergedError(`validation loss of the raw weights became ${raw} at step ${step}; stopped, the last good checkpoint in ${opts.out} is kept`);
    const m: Metrics = {
      step,
      tokens,
      trainLoss: lossCount > 0 ? lossSum / lossCount : NaN,
      valLoss,
      ...(raw === null ? {} : { raw: { valLoss: raw } }),
      tokensPerSec: tokens / Math.max(1e-9, trainSecBefore + trainSec),
      elapsedSec: elapsed(),
    };
    metrics.push(m);
    hooks.onEval?.(m, sample);
    if (step % opts.evalEvery === 0) {
      lossSum = 0;
      lossCount = 0;
    }
    lastEvalStep = step;
    save();
  };

  const runStart = performance.now();
  const firstStep = step;
  const secondsLeft = (): number => budgetSecondsLeft(opts.schedule, opts.timeSec, elapsed(), (performance.now() - runStart) / 1000);
  const done = (): boolean => (opts.steps !== undefined && step >= opts.steps) || secondsLeft() <= 0;

  try {
    while (!done()) {
      if (hooks.shouldStop?.()) {
        stoppedEarly = true;
        break;
      }
      const t0 = performance.now();
      const batch = trainBatches.batch(step);
      if (batch.resetState) {
        disposeState(carried);
        carried = null;
      }
      model.train();
      const loss = tidy(() => {
        const { logits, state } = model.forward(batch.inputs, T, B, carried); // (T*B, V)
        const l = crossEntropy(logits, batch.targets);
        const value = l.item();
        if (!Number.isFinite(value)) return { value, next: null };
        backward(l);
        return { value, next: detachState(state) };
      });
      if (!Number.isFinite(loss.value)) throw new DivergedError(`loss became ${loss.value} at step ${step + 1}; stopped, the last good checkpoint in ${opts.out} is kept`);
      // The norm is computed even without clipping: a non-finite gradient must never reach the weights.
      const norm = opts.clip > 0 ? clipGradNorm(model.parameters(), opts.clip) : gradNorm(model.parameters());
      if (!Number.isFinite(norm)) throw new DivergedError(`gradient norm became ${norm} at step ${step + 1}; stopped, the last good checkpoint in ${opts.out} is kept`);
      if (opts.clipValue > 0) clipGradValue(model.parameters(), opts.clipValue);
      noGrad(() => optimizerStep(optim, params, lrAt(step, elapsed())));
      if (average !== null) updateWeightAverage(average, params);
      model.zeroGrad();
      disposeState(carried);
      carried = loss.next;
      step++;
      tokens += T * B;
      lossSum += loss.value;
      lossCount++;
      trainSec += (performance.now() - t0) / 1000;

      const tps = tokens / Math.max(1e-9, trainSecBefore + trainSec);
      const secPerStep = (performance.now() - runStart) / 1000 / (step - firstStep);
      hooks.onStep?.({
        step, totalSteps: opts.steps ?? null, loss: loss.value, tokensPerSec: tps,
        etaSec: opts.steps !== undefined ? (opts.steps - step) * secPerStep : secondsLeft(),
      });
      if (step % opts.evalEvery === 0) evaluate();
      await new Promise<void>((r) => setImmediate(r)); // let signals (Ctrl-C) be delivered
    }
    if (stoppedEarly) save();
    else if (lastEvalStep !== step) evaluate();
  } finally {
    disposeState(carried);
    // The model returned is what the checkpoint ships: the average, when there is one.
    if (average !== null) {
      for (const [name, p] of params) p.data.set(average.weights.get(name)!.data);
      disposeWeightAverage(average);
    }
  }
  return { metrics, stoppedEarly, model, vocab };
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

/** Copies the state out of the step's scope, cut from the tape (truncated BPTT). */
function checkResumeMatches(saved: CheckpointConfig, opts: TrainOptions, fp: { chars: number; hash: string }, dir: string): void {
  const s = saved.train;
  const keys = ['cell', 'hiddenSize', 'numLayers', 'seqLength', 'batchSize', 'optimizer', 'seed', 'ema'] as const;
  for (const k of keys) {
    const had = k === 'ema' ? (s.ema ?? 0) : s[k]; // ema: absent from checkpoints before the option
    const want = k === 'ema' ? (opts.ema ?? 0) : opts[k];
    if (had !== want) throw new Error(`cannot resume ${dir}: it was trained with ${k} ${String(had)}, this run asks for ${String(want)}`);
  }
  if (saved.data.hash !== fp.hash || saved.data.chars !== fp.chars) {
    throw new Error(`cannot resume ${dir}: it was trained on different data (${saved.data.name}, ${saved.data.chars} characters)`);
  }
}
