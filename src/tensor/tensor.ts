// Tensor: a shape and a block of float32 storage in the shared heap, plus what autograd needs (grad,
// parents, a backward closure). Not here: the ops (autograd/ops.ts) and the kernels (backend/).
//
// Lifetime rule (the one thing to remember):
//   - a tensor made inside `tidy(fn)` is freed when `fn` returns, unless it is what `fn` returns or it
//     was passed to `keep()`; tidy scopes nest, and a kept or returned tensor moves to the outer scope;
//   - a tensor made outside any scope (parameters, optimizer state, carried RNN state) lives until
//     `dispose()`;
//   - a tensor's `grad` belongs to it and is freed with it.
// A training step runs inside one tidy, so every activation, cache and temporary of the step is freed
// at its end and memory stays flat from step to step.

import { heap } from './heap.js';

export type Shape = readonly number[];

type BackwardFn = () => void;

const scopes: Set<Tensor>[] = [];
let gradEnabled = true;

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  /** Byte offset of the storage in `heap.memory`. */
  readonly offset: number;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** Set by ops when any input requires grad: adds this tensor's grad into its parents' grads. */
  backwardFn: BackwardFn | null = null;
  parents: readonly Tensor[] = [];
  private view: Float32Array | null = null;
  private disposed = false;

  /** A tensor of zeros (`zero` false: see Tensor.empty). */
  constructor(shape: Shape, requiresGrad = false, zero = true) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor shape must be non-negative integers, got [${shape.join(', ')}]`);
    }
    this.shape = [...shape];
    this.size = shape.reduce((a, b) => a * b, 1);
    this.offset = heap.alloc(this.size, zero);
    this.requiresGrad = requiresGrad;
    if (scopes.length > 0) scopes[scopes.length - 1].add(this);
  }

  /**
   * A tensor whose storage is not zeroed: it may hold a freed tensor's values. Only for buffers that a
   * kernel overwrites entirely before anything reads them (it saves the fill of large activations).
   */
  static empty(shape: Shape): Tensor {
    return new Tensor(shape, false, false);
  }

  /** A Float32Array over this tensor's storage (valid until the heap grows: take it once per kernel call). */
  get data(): Float32Array {
    if (this.disposed) throw new Error('tensor used after dispose()');
    if (this.view === null || this.view.buffer !== heap.memory.buffer) {
      this.view = new Float32Array(heap.memory.buffer, this.offset, this.size);
    }
    return this.view;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The gradient, created (zero, with this tensor's lifetime) on first use. */
  ensureGrad(): Tensor {
    if (this.grad === null) this.grad = untracked(() => new Tensor(this.shape));
    return this.grad;
  }

  zeroGrad(): void {
    if (this.grad !== null) this.grad.zero();
  }

  /** Sets every element to 0, in place (faster than data.fill(0) on a shared heap: heap.zeroBlock). */
  zero(): void {
    if (this.disposed) throw new Error('tensor used after dispose()');
    heap.zeroBlock(this.offset, this.size);
  }

  dispose(): void {
    if (this.disposed) return;
    this.grad?.dispose();
    this.grad = null;
    this.backwardFn = null;
    this.parents = [];
    heap.release(this.offset, this.size);
    this.disposed = true;
    this.view = null;
    for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].delete(this)) break;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a tensor of one element, got shape [${this.shape.join(', ')}]`);
    return this.data[0];
  }

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(shape, requiresGrad);
  }

  static full(shape: Shape, value: number): Tensor {
    const t = new Tensor(shape);
    t.data.fill(value);
    return t;
  }

  static from(values: ArrayLike<number>, shape: Shape = [values.length], requiresGrad = false): Tensor {
    const t = new Tensor(shape, requiresGrad);
    if (values.length !== t.size) {
      throw new Error(`Tensor.from: ${values.length} values do not fill shape [${shape.join(', ')}] (${t.size})`);
    }
    t.data.set(values);
    return t;
  }
}

/** Runs `fn` in a scope: tensors it makes are freed when it returns, except the returned ones and kept ones. */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  for (const k of kept) if (scope.has(k)) survivors.add(k);
  for (const t of scope) {
    if (survivors.has(t)) {
      kept.delete(t);
      if (scopes.length > 0) scopes[scopes.length - 1].add(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

const kept = new Set<Tensor>();

/** Marks a tensor made inside a tidy to survive it (it moves to the enclosing scope, if any). */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  return t;
}

/** Makes tensors that belong to no scope (the caller disposes them). */
export function untracked<R>(fn: () => R): R {
  const saved = scopes.splice(0, scopes.length);
  try {
    return fn();
  } finally {
    scopes.push(...saved);
  }
}

/** Runs `fn` without recording the tape (evaluation, sampling, optimizer updates). */
export function noGrad<R>(fn: () => R): R {
  const saved = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = saved;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into);
  }
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(name: string, t: Tensor, expected: Shape): void {
  if (!shapeEquals(t.shape, expected)) {
    throw new Error(`${name}: expected shape [${expected.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}
