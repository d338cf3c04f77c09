// What each optimizer (sgd.ts, adagrad.ts, rmsprop.ts, adam.ts) provides to optimizer.ts: its options
// with PyTorch's defaults, PyTorch's range checks, the state keys it keeps per parameter, and its
// update of one parameter (a backend kernel call). Not here: the state object and the step loop.

/** How an option is typed; checked before the optimizer's own range checks. */
export type OptionKind = 'number' | 'boolean' | 'pair';

export interface OptionSpec<V> {
  readonly kind: OptionKind;
  /** PyTorch's default; absent when PyTorch has none (SGD's lr), which makes the option required. */
  readonly default?: V;
}

export interface OptimizerRule<H> {
  /** Every option the optimizer accepts (camelCase of PyTorch's keyword), in documentation order. */
  readonly options: { readonly [K in keyof H]-?: OptionSpec<H[K]> };
  /** Throws on values PyTorch rejects (negative lr, betas outside [0, 1), ...), naming the option. */
  check(h: H): void;
  /** The PyTorch state keys kept per parameter under this configuration, e.g. ['exp_avg', 'exp_avg_sq']. */
  slotKeys(h: H): readonly string[];
  /** The value a fresh slot is filled with (0 except Adagrad's `sum`). */
  slotInit(key: string, h: H): number;
  /**
   * One parameter's update. `slots` holds the arrays of `slotKeys(h)`; `paramStep` is PyTorch's per-parameter
   * state['step'] after incrementing (1 on the parameter's first update); `lr` is the step's learning rate.
   */
  update(param: Float32Array, grad: Float32Array, slots: ReadonlyMap<string, Float32Array>, paramStep: number, h: H, lr: number): void;
}

/**
 * Fills `given` over the rule's defaults, rejecting unknown keys, missing required ones and values of the
 * wrong type, then runs the rule's range checks. `where` prefixes every message (e.g. 'adam').
 */
export function resolveOptions<H>(where: string, rule: OptimizerRule<H>, given: Readonly<Record<string, unknown>>): H {
  const specs = rule.options as Record<string, OptionSpec<unknown>>;
  const valid = Object.keys(specs);
  for (const k of Object.keys(given)) {
    if (!(k in specs)) throw new Error(`${where}: unknown option "${k}" (valid options: ${valid.join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(specs)) {
    const v = given[k] === undefined ? spec.default : given[k];
    if (v === undefined) throw new Error(`${where}: option "${k}" is required (PyTorch has no default for it)`);
    out[k] = checkKind(where, k, spec.kind, v);
  }
  const h = out as H;
  rule.check(h);
  return h;
}

function checkKind(where: string, key: string, kind: OptionKind, v: unknown): unknown {
  const show = JSON.stringify(v) ?? String(v);
  switch (kind) {
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: option "${key}" must be a finite number, got ${show}`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw new Error(`${where}: option "${key}" must be true or false, got ${show}`);
      return v;
    case 'pair':
      if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new Error(`${where}: option "${key}" must be a pair of finite numbers, got ${show}`);
      }
      return [v[0], v[1]];
    default:
      return kind satisfies never;
  }
}

/** Throws `${where}: invalid ${key} ${value} (expected ${expected})` unless `ok`. */
export function checkRange(ok: boolean, where: string, key: string, value: unknown, expected: string): void {
  if (!ok) throw new Error(`${where}: invalid ${key} ${JSON.stringify(value)} (expected ${expected})`);
}
