// The learning-rate schedule options shared by the training commands (--lr-schedule and its constants).

import type { ScheduleSpec } from '../src/optim/schedule.js';
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
