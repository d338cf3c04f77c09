// The training engine: one loop for every task. A task (src/tasks/) says how to make its model, its batches
// and the loss of a batch, how to evaluate and sample, and what to write in config.json; the engine owns the
// rest, readable top to bottom in trainTask: steps or a time budget, the learning-rate schedule, the
// optimizer, clipping, the moving average of the weights, the NaN/Inf guards, periodic evaluation,
// checkpoints with exact resume, interruption, and the metrics log. Progress leaves as events, never as
// printing: the command line draws its progress bar from them, a page its plots. No file I/O here (a
// CheckpointStore does it), so the same loop runs in a Web Worker.
//
// Everything random comes from one seeded generator handed to the task, whose state is checkpointed, so a
// resumed run ends with the same weights and losses as an uninterrupted one.

import { backward } from '../autograd/tape.js';
import type { NamedArray } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { clipGradNorm, clipGradValue, gradNorm } from '../optim/clip.js';
import {
  createOptimizer, disposeOptimizer, optimizerStep, resolveOptimizerOptions, checkOptimizerName, type OptimizerState,
} from '../optim/optimizer.js';
import { budgetSecondsLeft, resolveSchedule, scheduleLr, type ScheduleInput } from '../optim/schedule.js';
import { createWeightAverage, disposeWeightAverage, updateWeightAverage, withAveragedWeights, type WeightAverage } from '../optim/weight-average.js';
import { Rng } from '../random/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import {
  checkpointPath, decodeTrainingState, encodeCheckpoint, loadCheckpointWeights, parseCheckpointConfig,
} from './checkpoint-files.js';
import type { CheckpointStore } from './checkpoint-store.js';

/** One training step's forward pass, as a task computes it (inside the engine's tidy scope, on the tape). */
export interface TaskLoss {
  /** The scalar loss to minimise. */
  loss: Tensor;
  /** Tokens the step trained on (throughput, and the run's token count). */
  tokens: number;
  /** Called after backward when the loss is finite (the language model keeps its carried state here). */
  commit?(): void;
}

/** What a kind of model brings to the engine. */
export interface TrainingTask<Batch = unknown> {
  /** config.json's format tag, e.g. 'recurrent-language-model/1'. */
  readonly format: string;
  /**
   * config.json without the format: the model config, its tables, a data fingerprint, and `train`, the task's
   * own options (the engine adds its options to `train`).
   */
  readonly config: { train: object } & Record<string, unknown>;
  readonly model: Module;
  /** What is trained, for the first line a command prints ("lstm 2×128 on input.txt (1,115,394 characters)"). */
  readonly description: string;
  /** The batch of the step about to be taken (`step` steps are done); may draw from the run's generator. */
  batch(step: number): Batch;
  /** The loss of a batch. */
  loss(batch: Batch, step: number): TaskLoss;
  /** Validation scores of the model's current weights (`valLoss` first by convention); all must be finite. */
  evaluate(step: number): Record<string, number>;
  /** A sample of what the model makes, shown with an evaluation (on the weights the checkpoint ships). */
  sample?(step: number): string;
  /** Numbers logged with each evaluation that are not scores: the epoch, the teacher-forcing probability. */
  progress?(step: number): Record<string, number>;
  /** The task's own state for the training file: counters and tensors (restored by restoreState). */
  saveState?(): { counters: Record<string, number>; tensors: Map<string, NamedArray> };
  restoreState?(counters: Readonly<Record<string, number>>, tensors: ReadonlyMap<string, NamedArray>, path: string): void;
  /** Frees what the task holds besides the model (carried state). */
  dispose?(): void;
}

/** How the engine hands a task its generator: a fresh run's model is initialised from it. */
export interface TaskContext {
  rng: Rng;
  /** The run's seed (for the task's own seeded splits and orders). */
  seed: number;
}

/** A task before it has a model: it makes a fresh one, or the one a checkpoint's config.json describes. */
export interface TaskDefinition<T extends TrainingTask> {
  /** The config.json formats this task reads (what it writes is its task's `format`). */
  readonly formats: readonly string[];
  /** A name for errors, e.g. 'recurrent language-model'. */
  readonly what: string;
  create(ctx: TaskContext): T;
  /**
   * The model of a checkpoint (its weights are loaded after), checking that this run's options agree with
   * the checkpoint's (a mismatch throws "cannot resume WHERE: ..."). `where` names the store.
   */
  resume(config: Record<string, unknown>, ctx: TaskContext, where: string): T;
}

export interface EngineOptions {
  /** Stop after this many steps in all, counting those before a resume... */
  steps?: number | null;
  /** ...or after this many seconds of this invocation (with a 'cosine-time' schedule: of the whole run). */
  timeSec?: number | null;
  /**
   * The clock timeSec, the time schedule and the logged seconds read: 'wall' (default) or 'cpu', the
   * process's CPU time (Node only), so a time budget buys the same work on a machine shared with others.
   */
  clock?: 'wall' | 'cpu';
  /** Base learning rate (default 2e-3). */
  lr?: number;
  /** adam (default), adamw, sgd, rmsprop, adagrad. */
  optimizer?: string;
  /** The optimizer's other options (weightDecay, momentum, ...), PyTorch's defaults otherwise. */
  optimizerOptions?: Record<string, unknown>;
  /** Learning-rate schedule (default constant). */
  schedule?: ScheduleInput;
  /** Clip the global gradient norm to this (default 5; 0 = off). */
  clip?: number;
  /** Clip each gradient element to [-v, v] (default 0 = off). */
  clipValue?: number;
  /** Decay of a moving average of the weights (0 = none, the default): evaluation and the shipped model use it. */
  ema?: number;
  /** Evaluate, log and checkpoint every this many steps (default 100), and at the end. */
  evalEvery?: number;
  /** Seed of the one generator (default 1). */
  seed?: number;
  /** Continue the store's checkpoint; without, a store that holds one is an error (it would be overwritten). */
  resume?: boolean;
}

/** One line of the metrics log. */
export interface EvalRecord {
  step: number;
  tokens: number;
  /** Mean training loss since the last multiple of evalEvery (null: no step since). */
  trainLoss: number | null;
  /** The task's scores (of the average, with one), its progress numbers, and: */
  [score: string]: number | null | Record<string, number>;
}

export type TrainEvent =
  | { kind: 'start'; step: number; resumed: boolean; description: string }
  | { kind: 'notice'; message: string }
  | { kind: 'step'; step: number; totalSteps: number | null; loss: number; lr: number; tokensPerSec: number; etaSec: number | null }
  | { kind: 'eval'; record: EvalRecord; sample: string | null }
  | { kind: 'checkpoint'; step: number; where: string };

export interface TrainIO {
  /** Where checkpoints and the metrics log go (none: the run keeps nothing). */
  store?: CheckpointStore | null;
  onEvent?(e: TrainEvent): void;
  /** Polled between steps: true stops the run, which saves a checkpoint and returns. */
  shouldStop?(): boolean;
}

export interface TrainResult<T> {
  /** The task, its model holding the weights the checkpoint ships (the average, with one). */
  task: T;
  step: number;
  evaluations: EvalRecord[];
  /** True when shouldStop ended the run. */
  stopped: boolean;
}

/** Thrown when the loss, the gradient norm or a validation score stops being finite; the last good checkpoint is kept. */
export class DivergedError extends Error {}

/** The engine's counters in the training file; tokens and trainSec are absent from classify checkpoints before the engine. */
const NEEDED_COUNTERS = ['lossSum', 'lossCount', 'elapsedSec'] as const;
const ENGINE_COUNTERS = new Set(['tokens', 'lossSum', 'lossCount', 'trainSec', 'elapsedSec']);

export const defaultEngineOptions = {
  lr: 2e-3, optimizer: 'adam', clip: 5, clipValue: 0, ema: 0, evalEvery: 100, seed: 1,
} as const;

function resolveEngineOptions(o: EngineOptions) {
  const steps = o.steps ?? null;
  const timeSec = o.timeSec ?? null;
  if (steps === null && timeSec === null) throw new Error('training needs steps or timeSec (--steps or --time)');
  if (steps !== null && !(Number.isSafeInteger(steps) && steps >= 0)) throw new Error(`steps must be a non-negative integer, got ${steps}`);
  if (timeSec !== null && !(timeSec > 0)) throw new Error(`timeSec must be a positive number, got ${timeSec}`);
  const d = defaultEngineOptions;
  const lr = o.lr ?? d.lr;
  const optimizer = checkOptimizerName(o.optimizer ?? d.optimizer);
  const optimizerOptions = o.optimizerOptions ?? {};
  const hyper = resolveOptimizerOptions(optimizer, { ...optimizerOptions, lr }) as unknown as Record<string, unknown>;
  const schedule = resolveSchedule(o.schedule ?? { kind: 'constant' }, lr);
  const clip = o.clip ?? d.clip;
  const clipValue = o.clipValue ?? d.clipValue;
  const ema = o.ema ?? d.ema;
  const evalEvery = o.evalEvery ?? d.evalEvery;
  const seed = o.seed ?? d.seed;
  const clock = o.clock ?? 'wall';
  if (!(clip >= 0 && Number.isFinite(clip))) throw new Error(`clip must be a finite number >= 0 (0: off), got ${clip}`);
  if (!(clipValue >= 0 && Number.isFinite(clipValue))) throw new Error(`clipValue must be a finite number >= 0 (0: off), got ${clipValue}`);
  if (!(ema >= 0 && ema < 1)) throw new Error(`ema must be a number in [0, 1) (0: off), got ${String(ema)}`);
  if (!(Number.isSafeInteger(evalEvery) && evalEvery > 0)) throw new Error(`evalEvery must be a positive integer, got ${evalEvery}`);
  if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  // What config.json's `train` records of the engine (beside the task's options).
  const record = { steps, timeSec, ...(clock === 'wall' ? {} : { clock }), lr, optimizer, ...optimizerOptions, schedule, clip, clipValue, ema, evalEvery, seed };
  return { steps, timeSec, now: clockSeconds(clock), lr, optimizer, optimizerOptions, hyper, schedule, clip, clipValue, ema, evalEvery, seed, resume: o.resume === true, record };
}

/** A clock in seconds: wall-clock, or the process's CPU time (user + system, every thread). */
function clockSeconds(clock: 'wall' | 'cpu'): () => number {
  if (clock === 'wall') return () => performance.now() / 1000;
  if (clock !== 'cpu') throw new Error(`clock must be 'wall' or 'cpu', got ${JSON.stringify(clock)}`);
  const usage = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process?.cpuUsage;
  if (usage === undefined) throw new Error("clock 'cpu' needs Node's process.cpuUsage, which this runtime lacks");
  return () => {
    const u = usage();
    return (u.user + u.system) / 1e6;
  };
}

/** Lets the event loop run (signals, a worker's messages) between steps. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(null);
  });
}

export async function trainTask<T extends TrainingTask>(definition: TaskDefinition<T>, options: EngineOptions, io: TrainIO = {}): Promise<TrainResult<T>> {
  const o = resolveEngineOptions(options);
  const store = io.store ?? null;
  const where = store?.name ?? 'memory';
  const emit = (e: TrainEvent): void => io.onEvent?.(e);
  const kept = store === null ? '' : `, the last good checkpoint in ${store.name} is kept`;
  const diverged = (what: string): DivergedError => new DivergedError(`${what}; stopped${kept}`);

  const lockNote = store?.lock?.() ?? null;
  let task: T | null = null;
  let optim: OptimizerState | null = null;
  let average: WeightAverage | null = null;
  let finished = false;
  try {
    if (lockNote !== null) emit({ kind: 'notice', message: lockNote });

    // --- the task, its model, optimizer and generator: fresh, or exactly as the checkpoint left them ---
    const rng = new Rng(o.seed);
    const ctx: TaskContext = { rng, seed: o.seed };
    const configBytes = store?.read('config.json') ?? null;
    if (configBytes !== null && !o.resume) throw new Error(`${where} already holds a checkpoint; pass --resume to continue it, or choose another --out`);
    let step = 0;
    let counters: Record<string, number> = {};
    if (configBytes !== null) {
      const configPath = checkpointPath(where, 'config.json');
      const config = parseCheckpointConfig<Record<string, unknown>>(configBytes, configPath, definition.formats, definition.what);
      task = definition.resume(config, ctx, where);
      checkResumeMatches(config, o, where);
      const params = task.model.namedParameters();
      const weights = store!.read('model.safetensors');
      if (weights === null) throw new Error(`${where} has no model.safetensors: it cannot be resumed`);
      step = loadCheckpointWeights(task.model, weights, checkpointPath(where, 'model.safetensors'), configPath);
      const trainingBytes = store!.read('training.safetensors');
      if (trainingBytes === null) throw new Error(`${where} has no training.safetensors: it cannot be resumed`);
      const trainingPath = checkpointPath(where, 'training.safetensors');
      const saved = decodeTrainingState(trainingBytes, trainingPath, where, params, rng, step, NEEDED_COUNTERS);
      optim = saved.optimizer;
      average = saved.average;
      counters = saved.counters;
      checkOptimizerMatches(optim, o.optimizer, o.hyper, where);
      if (average === null && o.ema > 0) throw new Error(`${where} is corrupt: it was trained with ema ${o.ema}, but training.safetensors holds no weight average`);
      if (average !== null) checkResumeOption(where, 'ema', average.decay, o.ema);
      const own = Object.fromEntries(Object.entries(counters).filter(([k]) => !ENGINE_COUNTERS.has(k)));
      task.restoreState?.(own, saved.tensors, trainingPath);
    } else {
      task = definition.create(ctx);
      const params = task.model.namedParameters();
      optim = createOptimizer(o.optimizer, params, o.hyper);
      if (o.ema > 0) average = createWeightAverage(params, o.ema);
    }
    const dropped = store?.truncateMetrics(step) ?? 0;
    if (dropped > 0) emit({ kind: 'notice', message: `${where}: dropped ${dropped} metrics record${dropped > 1 ? 's' : ''} written after the checkpoint of step ${step}` });
    const config = { ...task.config, train: { ...task.config.train, ...o.record } };
    const params = task.model.namedParameters();
    const lrAt = (s: number, sec: number): number => scheduleLr(o.schedule, o.lr, s, sec);

    // --- the run's counters (carried over a resume) ---
    // trainLoss is the mean over the steps since the last multiple of evalEvery, so a resumed run logs what an uninterrupted one does.
    let tokens = counters.tokens ?? 0;
    let lossSum = counters.lossSum ?? 0;
    let lossCount = counters.lossCount ?? 0;
    const trainSecBefore = counters.trainSec ?? 0;
    const elapsedBefore = counters.elapsedSec ?? 0;
    let trainSec = 0;
    const now = o.now;
    const start = now();
    const elapsed = (): number => elapsedBefore + (now() - start);
    const tokensPerSec = (): number => tokens / Math.max(1e-9, trainSecBefore + trainSec);
    let lr = lrAt(step, elapsedBefore); // the rate of the last update
    const evaluations: EvalRecord[] = [];
    let lastEval = -1;
    let stopped = false;

    const save = (): void => {
      if (store === null) return;
      const own = task!.saveState?.() ?? { counters: {}, tensors: new Map() };
      for (const k of Object.keys(own.counters)) if (ENGINE_COUNTERS.has(k)) throw new Error(`the task's counter "${k}" has the name of one of the engine's`);
      const all = { ...own.counters, tokens, lossSum, lossCount, trainSec: trainSecBefore + trainSec, elapsedSec: elapsed() };
      store.write(encodeCheckpoint(task!.format, config, params, { step, rng, optimizer: optim!, counters: all, average, tensors: own.tensors }));
      emit({ kind: 'checkpoint', step, where: store.name });
    };
    const scores = (of: string): Record<string, number> => {
      const s = task!.evaluate(step);
      for (const [k, v] of Object.entries(s)) {
        if (!Number.isFinite(v)) throw diverged(`${k === 'valLoss' ? 'validation loss' : k}${of} became ${v} at step ${step}`);
      }
      return s;
    };
    const evaluate = (): void => {
      // With a weight average, the average is scored and sampled (it is what the checkpoint ships), and the
      // raw weights scored beside it. The sample draws from a fork of the generator: evaluating never
      // changes the training stream.
      const shipped = (): { s: Record<string, number>; sample: string | null } => ({ s: scores(''), sample: task!.sample?.(step) ?? null });
      const { s, sample } = average === null ? shipped() : withAveragedWeights(average, params, shipped);
      const raw = average === null ? null : scores(' of the raw weights');
      const record: EvalRecord = {
        step, tokens, trainLoss: lossCount > 0 ? lossSum / lossCount : null, ...s, ...(raw === null ? {} : { raw }),
        ...task!.progress?.(step), lr, tokensPerSec: tokensPerSec(), elapsedSec: elapsed(),
      };
      evaluations.push(record);
      store?.appendMetrics(JSON.stringify(record)); // before the checkpoint: a crash between them is mended on resume
      emit({ kind: 'eval', record, sample });
      if (step % o.evalEvery === 0) {
        lossSum = 0;
        lossCount = 0;
      }
      lastEval = step;
      save();
    };

    emit({ kind: 'start', step, resumed: configBytes !== null, description: task.description });
    const runStart = now();
    const firstStep = step;
    const secondsLeft = (): number => budgetSecondsLeft(o.schedule, o.timeSec, elapsed(), now() - runStart);
    const done = (): boolean => (o.steps !== null && step >= o.steps) || secondsLeft() <= 0;
    if (configBytes !== null && done()) {
      // Nothing to train: the checkpoint is as far as this run asks for. It is left as it is (no evaluation
      // logged again, no checkpoint rewritten), so the log still reads as one run.
      emit({ kind: 'notice', message: `${where} is at step ${step}${o.steps !== null ? `, this run asks for ${o.steps} in all` : ', and its time budget is spent'}: nothing to train` });
      finished = true;
      return { task, step, evaluations, stopped: false };
    }
    while (!done()) {
      if (io.shouldStop?.()) {
        stopped = true;
        break;
      }
      const t0 = now();
      const batch = task.batch(step);
      task.model.train();
      const { value, n } = tidy(() => {
        const out = task!.loss(batch, step);
        const v = out.loss.item();
        if (Number.isFinite(v)) {
          backward(out.loss);
          out.commit?.();
        }
        return { value: v, n: out.tokens };
      });
      if (!Number.isFinite(value)) throw diverged(`loss became ${value} at step ${step + 1}`);
      // The norm is computed even without clipping: a non-finite gradient must never reach the weights.
      const norm = o.clip > 0 ? clipGradNorm(params, o.clip) : gradNorm(params);
      if (!Number.isFinite(norm)) throw diverged(`gradient norm became ${norm} at step ${step + 1}`);
      if (o.clipValue > 0) clipGradValue(params, o.clipValue);
      lr = lrAt(step, elapsed());
      noGrad(() => optimizerStep(optim!, params, lr));
      if (average !== null) updateWeightAverage(average, params);
      task.model.zeroGrad();
      step++;
      tokens += n;
      lossSum += value;
      lossCount++;
      trainSec += now() - t0;

      const secPerStep = (now() - runStart) / (step - firstStep);
      emit({
        kind: 'step', step, totalSteps: o.steps, loss: value, lr, tokensPerSec: tokensPerSec(),
        etaSec: o.steps !== null ? (o.steps - step) * secPerStep : secondsLeft(),
      });
      if (step % o.evalEvery === 0) evaluate();
      await yieldToEventLoop();
    }
    if (stopped) save();
    else if (lastEval !== step) evaluate();
    finished = true;
    return { task, step, evaluations, stopped };
  } finally {
    if (finished && average !== null) {
      // The model left in the task is what the checkpoint ships: the average.
      for (const [name, p] of task!.model.namedParameters()) p.data.set(average.weights.get(name)!.data);
    }
    if (average !== null) disposeWeightAverage(average);
    if (optim !== null) disposeOptimizer(optim);
    // A run that failed (a checkpoint that does not match, a diverged loss) returns no model: free the task's.
    if (!finished && task !== null) {
      task.dispose?.();
      task.model.dispose();
    } else task?.dispose?.();
    store?.unlock?.();
  }
}

/** f(), the task a definition makes around `model`; if making it fails (its data, say), the model is freed. */
export function disposeOnThrow<T>(model: Module, f: () => T): T {
  try {
    return f();
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** A resumed run's option that must be what the checkpoint was trained with (tasks check theirs with it too). */
export function checkResumeOption(where: string, key: string, had: unknown, want: unknown): void {
  if (had !== want) throw new Error(`cannot resume ${where}: it was trained with ${key} ${String(had)}, this run asks for ${String(want)}`);
}

/** The options that must stay what the checkpoint was trained with (the rate, schedule, clipping and budget may change). */
function checkResumeMatches(config: Record<string, unknown>, o: ReturnType<typeof resolveEngineOptions>, where: string): void {
  const train = (config.train ?? {}) as Record<string, unknown>;
  for (const [k, want] of [['optimizer', o.optimizer], ['seed', o.seed], ['ema', o.ema]] as const) {
    const had = train[k] ?? (k === 'ema' ? 0 : undefined); // ema: absent from checkpoints before the option
    if (had !== undefined) checkResumeOption(where, k, had, want);
  }
  // The seconds the checkpoint has counted are of its clock: a budget or a time schedule must go on in them.
  const clock = o.record.clock ?? 'wall';
  if ((o.timeSec !== null || o.schedule.kind === 'cosine-time') && (train.clock ?? 'wall') !== clock) checkResumeOption(where, 'clock', train.clock ?? 'wall', clock);
}

/** The saved optimizer's name and options (all but the rate) against this run's. */
function checkOptimizerMatches(saved: OptimizerState, name: string, hyper: Record<string, unknown>, where: string): void {
  checkResumeOption(where, 'optimizer', saved.name, name);
  const had = saved.hyper as unknown as Record<string, unknown>;
  for (const [k, want] of Object.entries(hyper)) if (k !== 'lr') checkResumeOption(where, k, JSON.stringify(had[k]), JSON.stringify(want));
}
