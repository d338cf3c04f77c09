// The options every training command shares, because the engine (src/train/engine.ts) takes them all:
// the budget, the rate and its schedule (--lr-schedule and its constants), the optimizer, clipping, the
// weight average, evaluation, the seed and --resume. Each command's help words them for its task.

import { optimizerNames } from '../src/optim/optimizer.js';
import type { ScheduleSpec } from '../src/optim/schedule.js';
import { defaultEngineOptions, type EngineOptions } from '../src/train/engine.js';
import { UsageError, int, num, oneOf } from './args.js';

export const LR_SCHEDULE_OPTIONS = {
  'lr-schedule': { type: 'string' }, 'decay-rate': { type: 'string' }, 'decay-every': { type: 'string' },
  'decay-after': { type: 'string' }, warmup: { type: 'string' }, 'min-lr': { type: 'string' },
} as const;

const HELP_ROWS: Array<[string, string]> = [
  ['--lr-schedule NAME', 'constant, step or cosine (default constant)'],
  ['--decay-rate X', 'step schedule: multiply the rate by X ... (default 0.97)'],
  ['--decay-every N', '... every N steps ... (default 1000)'],
  ['--decay-after N', '... starting after N steps (default 0)'],
  ['--warmup N', 'cosine schedule: linear warm-up steps (default 0)'],
  ['--min-lr X', 'cosine schedule: final learning rate (default 0)'],
  ['', 'with --time, cosine decays over those seconds of the run (counted from its start, through --resume)'],
  ['', 'and the run ends when they are up'],
  ['--clock wall|cpu', "what --time counts: wall-clock (default) or this process's CPU time (a budget a busy machine cannot eat)"],
];

/** The help lines of the schedule options, indented by 2, descriptions starting at column `column`. */
export function lrScheduleHelp(column: number): string {
  return HELP_ROWS.map(([flag, text]) => `  ${flag.padEnd(column - 2)}${text}`).join('\n');
}

/**
 * The schedule the flags ask for. `steps` is the run's total (cosine decays over it); when training by
 * time it is null and `timeSec` the budget, over which cosine then decays ('cosine-time').
 */
export function parseLrSchedule(v: Record<string, unknown>, steps: number | null, timeSec: number | null = null): ScheduleSpec {
  const kind = oneOf(v, 'lr-schedule', 'constant', ['constant', 'step', 'cosine'] as const);
  for (const [flag, k] of [['decay-rate', 'step'], ['decay-every', 'step'], ['decay-after', 'step'], ['warmup', 'cosine'], ['min-lr', 'cosine']] as const) {
    if (v[flag] !== undefined && kind !== k) throw new UsageError(`--${flag} applies to --lr-schedule ${k}, not ${kind}`);
  }
  switch (kind) {
    case 'constant':
      return { kind };
    case 'step':
      return {
        kind,
        decayRate: num(v, 'decay-rate', 0.97, (x) => x > 0 && x <= 1, 'in (0, 1]'),
        every: int(v, 'decay-every', 1000),
        decayAfter: int(v, 'decay-after', 0, 0),
      };
    case 'cosine': {
      const warmupSteps = int(v, 'warmup', 0, 0);
      const minLr = num(v, 'min-lr', 0, (x) => x >= 0, 'a non-negative number');
      if (steps !== null) return { kind, warmupSteps, totalSteps: steps, minLr };
      if (timeSec === null) throw new UsageError('--lr-schedule cosine needs --steps or --time (it decays over them)');
      return { kind: 'cosine-time', warmupSteps, totalSeconds: timeSec, minLr };
    }
    default:
      return kind satisfies never;
  }
}

export const ENGINE_OPTIONS = {
  steps: { type: 'string' }, time: { type: 'string' }, clock: { type: 'string' }, lr: { type: 'string' }, optimizer: { type: 'string' }, clip: { type: 'string' },
  'clip-value': { type: 'string' }, ema: { type: 'string' }, 'eval-every': { type: 'string' }, seed: { type: 'string' }, resume: { type: 'boolean' },
  ...LR_SCHEDULE_OPTIONS,
} as const;

/** --clock wall|cpu: what --time counts; cpu (the process's CPU time) keeps other jobs from eating a budget. */
function clockFlag(v: Record<string, unknown>): 'wall' | 'cpu' {
  const clock = oneOf(v, 'clock', 'wall', ['wall', 'cpu'] as const);
  if (v.clock !== undefined && v.time === undefined) throw new UsageError('--clock applies to --time (it says what the seconds count)');
  return clock;
}

/** The engine's options from the flags of ENGINE_OPTIONS; `defaults` are the command's own. */
export function parseEngineFlags(v: Record<string, unknown>, defaults: { steps: number; lr: number; evalEvery: number }): EngineOptions {
  if (v.steps !== undefined && v.time !== undefined) throw new UsageError('give --steps or --time, not both');
  const d = defaultEngineOptions;
  const steps = v.time === undefined ? int(v, 'steps', defaults.steps) : null;
  const timeSec = v.time === undefined ? null : num(v, 'time', 0, (x) => x > 0, 'a positive number of seconds');
  return {
    steps,
    timeSec,
    clock: clockFlag(v),
    lr: num(v, 'lr', defaults.lr, (x) => x > 0, 'a positive number'),
    schedule: parseLrSchedule(v, steps, timeSec),
    optimizer: oneOf(v, 'optimizer', d.optimizer, optimizerNames),
    clip: num(v, 'clip', d.clip, (x) => x >= 0, 'a non-negative number'),
    clipValue: num(v, 'clip-value', d.clipValue, (x) => x >= 0, 'a non-negative number'),
    ema: num(v, 'ema', d.ema, (x) => x >= 0 && x < 1, 'a number in [0, 1) (0: off)'),
    evalEvery: int(v, 'eval-every', defaults.evalEvery),
    seed: int(v, 'seed', d.seed, 0),
    resume: v.resume === true,
  };
}
