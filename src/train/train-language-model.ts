// Training a character language model into a checkpoint directory, from code (Node): the language-model
// task (tasks/language-model.ts) run by the engine (engine.ts) on a directory store, with the options of
// `recurrent train` as one object. And loading such a checkpoint for sampling and evaluation.

import type { Vocabulary } from '../data/vocabulary.js';
import type { ScheduleSpec } from '../optim/schedule.js';
import { Rng } from '../random/rng.js';
import {
  LANGUAGE_MODEL_FORMAT, defaultLanguageModelTaskOptions, languageModelFromConfig, languageModelTask,
  type CharModel, type LanguageModelCheckpointConfig, type LanguageModelTaskOptions,
} from '../tasks/language-model.js';
import { checkpointDirectory, loadCheckpointDirectory } from './checkpoint-directory.js';
import { defaultEngineOptions, trainTask, type EvalRecord } from './engine.js';

export interface TrainOptions extends Partial<LanguageModelTaskOptions> {
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
  /** Decay of a moving average of the weights (optim/weight-average.ts), 0 or absent = none: evaluation and the checkpoint's model use it. */
  ema?: number;
  schedule: ScheduleSpec;
  evalEvery: number;
  seed: number;
  /** The checkpoint directory. */
  out: string;
  resume: boolean;
}

export interface TrainHooks {
  onStep?(p: { step: number; totalSteps: number | null; loss: number; tokensPerSec: number; etaSec: number | null }): void;
  onEval?(m: EvalRecord, sample: string): void;
  onCheckpoint?(dir: string, step: number): void;
  /** Polled between steps: return true to stop (the run saves a checkpoint and returns). */
  shouldStop?(): boolean;
}

export const defaultTrainOptions = {
  ...defaultLanguageModelTaskOptions,
  ...defaultEngineOptions,
  schedule: { kind: 'constant' } as ScheduleSpec,
  resume: false,
} satisfies Omit<TrainOptions, 'out'>;

export async function trainLanguageModel(
  text: string, dataName: string, opts: TrainOptions, hooks: TrainHooks = {},
): Promise<{ metrics: EvalRecord[]; stoppedEarly: boolean; model: CharModel; vocab: Vocabulary }> {
  if (opts.steps === undefined && opts.timeSec === undefined) throw new Error('give --steps or --time');
  const r = await trainTask(languageModelTask(text, dataName, opts), opts, {
    store: checkpointDirectory(opts.out),
    shouldStop: hooks.shouldStop,
    onEvent: (e) => {
      if (e.kind === 'step') hooks.onStep?.(e);
      else if (e.kind === 'eval') hooks.onEval?.(e.record, e.sample ?? '');
      else if (e.kind === 'checkpoint') hooks.onCheckpoint?.(e.where, e.step);
    },
  });
  return { metrics: r.evaluations, stoppedEarly: r.stopped, model: r.task.model, vocab: r.task.vocab };
}

/** A language-model checkpoint directory's model (model.safetensors: the average, if the run kept one), vocabulary and config. */
export function loadCheckpoint(dir: string): { config: LanguageModelCheckpointConfig; vocab: Vocabulary; model: CharModel; step: number } {
  return loadCheckpointDirectory(dir, [LANGUAGE_MODEL_FORMAT], 'recurrent language-model',
    (config: LanguageModelCheckpointConfig, configPath) => languageModelFromConfig(config, configPath, new Rng(0)));
}
