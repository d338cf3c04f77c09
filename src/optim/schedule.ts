// Learning-rate schedules as plain data (a JSON-safe spec) and a pure function of (base lr, step), so a
// resumed run needs nothing but the spec, the base rate and OptimizerState.step; the one exception,
// 'cosine-time', decays over a time budget and also reads the seconds the run has taken. Not here:
// applying the rate (pass it to optimizerStep as its `lr`).
//
// `step` is always the number of optimizer steps already taken (0 for the first update); `lr` is the base
// rate (the optimizer's lr).

export type ScheduleSpec =
  /** lr at every step. */
  | { kind: 'constant' }
  /**
   * Karpathy's char-rnn decay: lr · decayRate^n, n = the number of positive multiples m of `every` with
   * decayAfter ≤ m ≤ step. char-rnn's `-learning_rate_decay 0.97 -learning_rate_decay_after 10` over
   * epochs of E batches is { decayRate: 0.97, every: E, decayAfter: 10·E }: it multiplies the rate by 0.97
   * after the last batch of epoch 10 and of every later epoch.
   */
  | { kind: 'step'; decayRate: number; every: number; decayAfter: number }
  /**
   * Linear warmup, then cosine decay to minLr: lr·(step + 1)/warmupSteps for step < warmupSteps (so the
   * first step does not have rate 0); minLr + ½(lr − minLr)(1 + cos(π·(step − warmupSteps)/(totalSteps −
   * warmupSteps))) up to totalSteps; minLr from then on.
   */
  | { kind: 'cosine'; warmupSteps: number; totalSteps: number; minLr: number }
  /**
   * The cosine decay over a time budget: the same curve with progress = elapsedSec / totalSeconds (the
   * wall-clock seconds the run has taken, clamped to [0, 1]) in place of the step's; the warm-up is still
   * lr·(step + 1)/warmupSteps for step < warmupSteps. It depends on the machine's speed, so a rerun does
   * not repeat it bit for bit.
   */
  | { kind: 'cosine-time'; warmupSteps: number; totalSeconds: number; minLr: number };

export type ScheduleKind = ScheduleSpec['kind'];

type Fields<K extends ScheduleKind> = Omit<Extract<ScheduleSpec, { kind: K }>, 'kind'>;

/** Each kind's fields with their defaults (undefined: required). */
const fields: { readonly [K in ScheduleKind]: { readonly [F in keyof Fields<K>]-?: number | undefined } } = {
  constant: {},
  step: { decayRate: undefined, every: undefined, decayAfter: 0 },
  cosine: { warmupSteps: 0, totalSteps: undefined, minLr: 0 },
  'cosine-time': { warmupSteps: 0, totalSeconds: undefined, minLr: 0 },
};

/** A spec as a user writes it: fields that have defaults may be left out. */
export type ScheduleInput =
  | { kind: 'constant' }
  | { kind: 'step'; decayRate: number; every: number; decayAfter?: number }
  | { kind: 'cosine'; warmupSteps?: number; totalSteps: number; minLr?: number }
  | { kind: 'cosine-time'; warmupSteps?: number; totalSeconds: number; minLr?: number };

/**
 * Checks a spec (from code or a config file) against the base rate `lr`, fills defaults, and throws naming
 * the first bad field.
 */
export function resolveSchedule(input: ScheduleInput | Readonly<Record<string, unknown>>, lr: number): ScheduleSpec {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`schedule: the base lr must be a finite number >= 0, got ${lr}`);
  const kinds = Object.keys(fields);
  const kind = (input as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !kinds.includes(kind)) {
    throw new Error(`schedule: unknown kind ${JSON.stringify(kind)} (valid kinds: ${kinds.join(', ')})`);
  }
  const defs = fields[kind as ScheduleKind] as Record<string, number | undefined>;
  const out: Record<string, unknown> = { kind };
  for (const k of Object.keys(input)) {
    if (k !== 'kind' && !(k in defs)) throw new Error(`schedule "${kind}": unknown field "${k}" (valid fields: kind, ${Object.keys(defs).join(', ')})`);
  }
  for (const [k, d] of Object.entries(defs)) {
    const v = (input as Record<string, unknown>)[k] ?? d;
    if (v === undefined) throw new Error(`schedule "${kind}": field "${k}" is required`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`schedule "${kind}": field "${k}" must be a finite number, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  const spec = out as ScheduleSpec;
  const bad = (field: string, expected: string): never => {
    throw new Error(`schedule "${kind}": ${field} must be ${expected}, got ${(out as Record<string, unknown>)[field]}`);
  };
  switch (spec.kind) {
    case 'constant':
      break;
    case 'step':
      if (!(spec.decayRate > 0 && spec.decayRate <= 1)) bad('decayRate', 'in (0, 1]');
      if (!(Number.isSafeInteger(spec.every) && spec.every > 0)) bad('every', 'a positive integer');
      if (!(Number.isSafeInteger(spec.decayAfter) && spec.decayAfter >= 0)) bad('decayAfter', 'a non-negative integer');
      break;
    case 'cosine':
      if (!(Number.isSafeInteger(spec.warmupSteps) && spec.warmupSteps >= 0)) bad('warmupSteps', 'a non-negative integer');
      if (!(Number.isSafeInteger(spec.totalSteps) && spec.totalSteps > spec.warmupSteps)) bad('totalSteps', `an integer > warmupSteps (${spec.warmupSteps})`);
      if (!(spec.minLr >= 0 && spec.minLr <= lr)) bad('minLr', `in [0, lr] = [0, ${lr}]`);
      break;
    case 'cosine-time':
      if (!(Number.isSafeInteger(spec.warmupSteps) && spec.warmupSteps >= 0)) bad('warmupSteps', 'a non-negative integer');
      if (!(spec.totalSeconds > 0)) bad('totalSeconds', 'a positive number');
      if (!(spec.minLr >= 0 && spec.minLr <= lr)) bad('minLr', `in [0, lr] = [0, ${lr}]`);
      break;
    default:
      return spec satisfies never;
  }
  return spec;
}

/**
 * The learning rate of the update taken when `step` updates have already been taken (and, for
 * 'cosine-time' only, `elapsedSec` seconds have passed). `spec` must be resolved.
 */
export function scheduleLr(spec: ScheduleSpec, lr: number, step: number, elapsedSec?: number): number {
  if (!(Number.isSafeInteger(step) && step >= 0)) throw new Error(`schedule: step must be a non-negative integer, got ${step}`);
  switch (spec.kind) {
    case 'constant':
      return lr;
    case 'step': {
      const first = Math.max(1, Math.ceil(spec.decayAfter / spec.every)); // first multiple index k with k·every ≥ decayAfter
      const n = Math.max(0, Math.floor(step / spec.every) - first + 1);
      return lr * spec.decayRate ** n;
    }
    case 'cosine': {
      const { warmupSteps, totalSteps, minLr } = spec;
      if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
      if (step >= totalSteps) return minLr;
      const progress = (step - warmupSteps) / (totalSteps - warmupSteps); // [0, 1)
      return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
    case 'cosine-time': {
      if (elapsedSec === undefined || !(elapsedSec >= 0)) throw new Error(`schedule "cosine-time": needs the seconds elapsed, a number >= 0, got ${elapsedSec}`);
      const { warmupSteps, totalSeconds, minLr } = spec;
      if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
      const progress = Math.min(1, elapsedSec / totalSeconds);
      return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
    default:
      return spec satisfies never;
  }
}

/**
 * Seconds left of a training loop's time budget: with 'cosine-time', its totalSeconds less the seconds the
 * run has taken in all (`runSec`, through resumes); otherwise `timeSec` (this invocation's budget; null or
 * undefined: none, Infinity left) less this invocation's seconds (`invocationSec`).
 */
export function budgetSecondsLeft(spec: ScheduleSpec, timeSec: number | null | undefined, runSec: number, invocationSec: number): number {
  if (spec.kind === 'cosine-time') return spec.totalSeconds - runSec;
  return timeSec === null || timeSec === undefined ? Infinity : timeSec - invocationSec;
}

/** Validates `input` against the base rate once and returns (step, seconds elapsed) -> learning rate. */
export function createSchedule(input: ScheduleInput | Readonly<Record<string, unknown>>, lr: number): (step: number, elapsedSec?: number) => number {
  const spec = resolveSchedule(input, lr);
  return (step, elapsedSec) => scheduleLr(spec, lr, step, elapsedSec);
}
