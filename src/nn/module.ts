// Module: what layers share — named parameters (PyTorch's state_dict names), children, train/eval mode.
// Parameters live outside any tidy scope: a module owns them until dispose().

import { Tensor, untracked } from '../tensor/tensor.js';

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter under a PyTorch state_dict name. */
  protected param(name: string, shape: number[], init: (data: Float32Array) => void): Tensor {
    const t = untracked(() => new Tensor(shape, true));
    init(t.data);
    this.ownParams.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Parameters with their full dotted names, in registration order (e.g. `rnn.weight_ih_l0`). */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [k, t] of this.ownParams) out.push([prefix + k, t]);
    for (const [k, m] of this.children) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Switches dropout on (train) or off (eval), for this module and its children. */
  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** The parameters as name -> values (a copy). */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of this.namedParameters()) out.set(k, { shape: [...t.shape], data: t.data.slice() });
    return out;
  }

  /**
   * Copies values in by name; every parameter must be present with its exact shape, and nothing else.
   * Takes decodeSafetensors(bytes).tensors as it is (a PyTorch state_dict saved with safetensors).
   */
  loadStateDict(state: Map<string, { shape: readonly number[]; data: ArrayLike<number> | BigInt64Array }>): void {
    const mine = new Map(this.namedParameters());
    for (const k of state.keys()) if (!mine.has(k)) throw new Error(`state dict has an unexpected tensor "${k}"`);
    for (const [k, t] of mine) {
      const s = state.get(k);
      if (s === undefined) throw new Error(`state dict is missing "${k}"`);
      if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(`state dict "${k}" has shape [${s.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`);
      }
      if (s.data instanceof BigInt64Array) throw new Error(`state dict "${k}" holds 64-bit integers, the model's parameter is float`);
      t.data.set(s.data);
    }
  }

  dispose(): void {
    for (const t of this.ownParams.values()) t.dispose();
    for (const m of this.children.values()) m.dispose();
  }
}
