// MultiheadAttention with PyTorch's options, defaults, semantics and state_dict names (in_proj_weight
// (3E, E), in_proj_bias, out_proj.weight, out_proj.bias), batch-first or time-major, key-padding and
// attention masks (bool or float, 2-D or 3-D), causal masking, the weights per head or averaged; and a
// key/value cache for incremental decoding. The attention itself is one fused op per call
// (autograd/transformer-ops.ts). Not here: the Transformer layers around it (encoder-layer.ts, ...).

import { linear, meanAxis, scaledDotProductAttention, sliceRows, type AttentionOperand } from '../../autograd/ops.js';
import { backend } from '../../backend/registry.js';
import type { Rng } from '../../random/rng.js';
import { Tensor, isGradEnabled, untracked } from '../../tensor/tensor.js';
import { uniformInit } from '../init.js';
import { Linear, positiveInt } from '../linear.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { additiveMask, maskShape, type AttentionMask } from './masks.js';

export interface MultiheadAttentionOptions {
  /** E: the width of queries, keys, values and the output. */
  embedDim: number;
  /** Heads; must divide embedDim (each head attends over E / numHeads features). */
  numHeads: number;
  /** Dropout on the attention weights, in training mode. Default 0. */
  dropout?: number;
  /** in_proj_bias and out_proj.bias. Default true. */
  bias?: boolean;
  /** Inputs and output (B, T, E) instead of (T, B, E). Default false. */
  batchFirst?: boolean;
  /** PyTorch's; only their defaults are supported (the constructor says so for any other value). */
  addBiasKv?: boolean;
  addZeroAttn?: boolean;
  kdim?: number | null;
  vdim?: number | null;
}

const OPTION_KEYS = ['embedDim', 'numHeads', 'dropout', 'bias', 'batchFirst', 'addBiasKv', 'addZeroAttn', 'kdim', 'vdim'] as const;

export interface MultiheadAttentionForwardOptions {
  /** (B, S): true / -∞ where a key is padding (PyTorch's key_padding_mask, bool or float). */
  keyPaddingMask?: AttentionMask | null;
  /** Return the attention weights. Default true (PyTorch's need_weights). */
  needWeights?: boolean;
  /** (L, S), or (B·numHeads, L, S) per batch entry and head: bool (true may not attend) or float (added). */
  attnMask?: AttentionMask | null;
  /** Weights averaged over the heads (B, L, S), else per head (B, numHeads, L, S). Default true. */
  averageAttnWeights?: boolean;
  /**
   * Masks every key after the query's position (PyTorch ≥ 2.0's is_causal, here applied rather than a
   * hint about attnMask; with a cache, query l of L new ones is at position S - L + l). Default false.
   */
  isCausal?: boolean;
  /** Self-attention over this cache's earlier steps and the new ones, which it appends (inference only). */
  cache?: KeyValueCache;
  /** key (= value) already projected by projectKeyValue(key): [k | v] (S, B, 2E) or batch-first (a decoder's memory, projected once). */
  keyValue?: Tensor;
}

export interface MultiheadAttentionOutput {
  /** (L, B, E), or (B, L, E) batch-first. */
  output: Tensor;
  /** (B, L, S) averaged, (B, numHeads, L, S) per head; null when needWeights is false. */
  weights: Tensor | null;
}

const FORWARD_KEYS = ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal', 'cache', 'keyValue'] as const;

/**
 * The keys and values of the steps seen so far, per batch entry, for a self-attention layer decoding one
 * step (or a few) at a time: one (B, capacity, 2E) tensor, [k | v] per step, the first `length` filled.
 * Outside any tidy scope; dispose() frees it.
 */
export class KeyValueCache {
  readonly batch: number;
  readonly capacity: number;
  readonly embedDim: number;
  /** (B, capacity, 2E) */
  readonly kv: Tensor;
  length = 0;
  /**
   * kv: an existing (batch, capacity, 2E) tensor whose first `length` steps are filled, to read and append to
   * (its owner frees it: a decoder state carried as plain tensors, as the searches carry theirs); by default
   * a new one outside any tidy scope.
   */
  constructor(opts: { batch: number; capacity: number; embedDim: number; kv?: Tensor; length?: number }) {
    positiveInt('KeyValueCache batch', opts.batch);
    positiveInt('KeyValueCache capacity', opts.capacity);
    positiveInt('KeyValueCache embedDim', opts.embedDim);
    this.batch = opts.batch;
    this.capacity = opts.capacity;
    this.embedDim = opts.embedDim;
    const shape = [opts.batch, opts.capacity, 2 * opts.embedDim];
    if (opts.kv !== undefined && !(opts.kv instanceof Tensor && opts.kv.shape.length === 3 && opts.kv.shape.every((d, i) => d === shape[i]))) {
      throw new Error(`KeyValueCache: kv must have shape [${shape.join(', ')}], got ${opts.kv instanceof Tensor ? `[${opts.kv.shape.join(', ')}]` : String(opts.kv)}`);
    }
    this.kv = opts.kv ?? untracked(() => new Tensor(shape));
    this.length = opts.length ?? 0;
    if (!(Number.isInteger(this.length) && this.length >= 0 && this.length <= opts.capacity)) throw new Error(`KeyValueCache: length ${this.length} is outside [0, ${opts.capacity}]`);
  }
  /** Forgets every step (a new sequence). */
  reset(): void {
    this.length = 0;
  }
  dispose(): void {
    this.kv.dispose();
  }
}

/**
 * Multi-head attention (Vaswani et al. 2017), PyTorch's nn.MultiheadAttention:
 *   [q | k | v] = [query W_q + b_q | key W_k + b_k | value W_v + b_v],   W_q, W_k, W_v the row blocks of in_proj_weight
 *   head_h = softmax(q_h k_hᵀ / √D + attnMask + keyPaddingMask) v_h,      D = E / numHeads
 *   output = [head_1 | ... | head_H] W_oᵀ + b_o                            out_proj
 * Init as PyTorch: in_proj_weight Xavier-uniform, out_proj.weight U(-1/√E, 1/√E), biases 0. A query row
 * whose keys are all masked gets zero weights (PyTorch: NaN). Masks never receive gradients.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  private readonly rng: Rng;

  constructor(opts: MultiheadAttentionOptions, rng: Rng) {
    super();
    if (opts === null || typeof opts !== 'object') throw new Error(`MultiheadAttention: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys('MultiheadAttention options', opts, OPTION_KEYS);
    const { embedDim: E, numHeads, dropout = 0, bias = true, batchFirst = false, addBiasKv = false, addZeroAttn = false, kdim = null, vdim = null } = opts;
    positiveInt('MultiheadAttention embedDim', E);
    positiveInt('MultiheadAttention numHeads', numHeads);
    if (E % numHeads !== 0) throw new Error(`MultiheadAttention: numHeads ${numHeads} does not divide embedDim ${E}`);
    if (!(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) throw new Error(`MultiheadAttention dropout must be in [0, 1), got ${dropout}`);
    for (const [name, v] of [['bias', bias], ['batchFirst', batchFirst], ['addBiasKv', addBiasKv], ['addZeroAttn', addZeroAttn]] as const) {
      if (typeof v !== 'boolean') throw new Error(`MultiheadAttention ${name} must be a boolean, got ${JSON.stringify(v)}`);
    }
    if (addBiasKv) throw new Error('MultiheadAttention: addBiasKv (PyTorch\'s add_bias_kv, bias_k/bias_v) is not supported');
    if (addZeroAttn) throw new Error('MultiheadAttention: addZeroAttn (PyTorch\'s add_zero_attn) is not supported');
    for (const [name, d] of [['kdim', kdim], ['vdim', vdim]] as const) {
      if (d !== null && d !== E) throw new Error(`MultiheadAttention: ${name} ${d} ≠ embedDim ${E} (separate q/k/v projection weights) is not supported`);
    }
    this.embedDim = E;
    this.numHeads = numHeads;
    this.headDim = E / numHeads;
    this.dropout = dropout;
    this.batchFirst = batchFirst;
    this.rng = rng;
    this.inProjWeight = this.param('in_proj_weight', [3 * E, E], uniformInit(rng, Math.sqrt(6 / (E + 3 * E)))); // (3E, E) Xavier
    this.inProjBias = bias ? this.param('in_proj_bias', [3 * E], (d) => d.fill(0)) : null; // (3E)
    this.outProj = this.child('out_proj', new Linear({ inFeatures: E, outFeatures: E, bias }, rng)); // W_o (E, E)
    this.outProj.bias?.data.fill(0);
  }

  /** (L, B, E) or (B, L, E) queries against S keys and values; see MultiheadAttentionForwardOptions. */
  forward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions = {}): MultiheadAttentionOutput {
    rejectUnknownKeys('MultiheadAttention.forward options', opts, FORWARD_KEYS);
    const { needWeights = true, averageAttnWeights = true, isCausal = false, cache } = opts;
    const E = this.embedDim;
    const [L, B] = this.sizes('query', query);
    const self = query === key && key === value;
    if (cache !== undefined) return this.forwardCached(query, key, value, opts);
    if (opts.keyValue !== undefined && (self || key !== value)) throw new Error('MultiheadAttention: keyValue is for attention over a memory (key and value the same tensor, not the query)');
    const [S, Bk] = this.sizes('key', key);
    const [Sv, Bv] = this.sizes('value', value);
    if (Bk !== B || Bv !== B || Sv !== S) {
      throw new Error(`MultiheadAttention: key [${key.shape.join(', ')}] and value [${value.shape.join(', ')}] must have query's batch ${B} and one length`);
    }
    const bf = this.batchFirst;
    let ops: [AttentionOperand, AttentionOperand, AttentionOperand];
    if (self) {
      const qkv = linear(query, this.inProjWeight, this.inProjBias); // (L, B, 3E)
      ops = [{ tensor: qkv, batchFirst: bf }, { tensor: qkv, batchFirst: bf, column: E }, { tensor: qkv, batchFirst: bf, column: 2 * E }];
    } else if (key === value) {
      const q = this.project(query, 0, 1); // (L, B, E)
      const kv = opts.keyValue ?? this.project(key, 1, 2); // (S, B, 2E)
      if (!(kv instanceof Tensor) || kv.shape.length !== 3 || kv.shape[0] !== key.shape[0] || kv.shape[1] !== key.shape[1] || kv.shape[2] !== 2 * E) {
        throw new Error(`MultiheadAttention: keyValue must be projectKeyValue(key), shape [${key.shape[0]}, ${key.shape[1]}, ${2 * E}], got ${kv instanceof Tensor ? `[${kv.shape.join(', ')}]` : String(kv)}`);
      }
      ops = [{ tensor: q, batchFirst: bf }, { tensor: kv, batchFirst: bf }, { tensor: kv, batchFirst: bf, column: E }];
    } else {
      ops = [0, 1, 2].map((i) => ({ tensor: this.project([query, key, value][i], i, 1), batchFirst: bf })) as typeof ops; // each (·, B, E)
    }
    return this.attend(ops, L, S, B, { ...opts, needWeights, averageAttnWeights, isCausal });
  }

  /** Heads, masks, out_proj: the attention of projected operands. */
  private attend(ops: [AttentionOperand, AttentionOperand, AttentionOperand], L: number, S: number, B: number,
    opts: MultiheadAttentionForwardOptions & { needWeights: boolean; averageAttnWeights: boolean; isCausal: boolean }): MultiheadAttentionOutput {
    const H = this.numHeads;
    const attnMask = opts.attnMask == null ? null : this.checkedMask('attnMask', opts.attnMask, L, S, B);
    const keyPaddingMask = opts.keyPaddingMask == null ? null : this.checkedMask('keyPaddingMask', opts.keyPaddingMask, L, S, B);
    const dropout = this.training && this.dropout > 0 ? { p: this.dropout, rng: this.rng } : null;
    const { output, weights } = scaledDotProductAttention(...ops, { heads: H, embedDim: this.embedDim, attnMask, keyPaddingMask, causal: opts.isCausal, dropout }); // (L, B, E), (B, H, L, S)
    const out = this.outProj.forward(output); // (L, B, E)
    if (!opts.needWeights) return { output: out, weights: null };
    return { output: out, weights: opts.averageAttnWeights ? meanAxis(weights, 1) : weights }; // (B, L, S) or (B, H, L, S)
  }

  /** [k | v] = [memory W_k + b_k | memory W_v + b_v]: (S, B, 2E) or batch-first, for keyValue (projected once, read by every step). */
  projectKeyValue(memory: Tensor): Tensor {
    this.sizes('memory', memory);
    return this.project(memory, 1, 2); // (S, B, 2E)
  }

  /** x W_blockᵀ + b_block over row blocks [first, first + count) of in_proj (each E rows): (T, B, count·E). */
  private project(x: Tensor, first: number, count: number): Tensor {
    const E = this.embedDim;
    const w = sliceRows(this.inProjWeight, first * E, count * E); // (count·E, E)
    const b = this.inProjBias === null ? null : sliceRows(this.inProjBias, first * E, count * E); // (count·E)
    return linear(x, w, b); // (T, B, count·E)
  }

  /** [T, B] of a (T, B, E) or batch-first (B, T, E) input, checked. */
  private sizes(name: string, x: Tensor): [number, number] {
    const layout = this.batchFirst ? '(B, T, embedDim)' : '(T, B, embedDim)';
    if (!(x instanceof Tensor) || x.shape.length !== 3 || x.shape[2] !== this.embedDim) {
      const got = x instanceof Tensor ? `[${x.shape.join(', ')}]` : String(x);
      throw new Error(`MultiheadAttention: ${name} must have shape ${layout} with embedDim ${this.embedDim}, got ${got} (unbatched 2-D input is not supported)`);
    }
    return this.batchFirst ? [x.shape[1], x.shape[0]] : [x.shape[0], x.shape[1]];
  }

  /** The additive form of a mask whose shape is checked against (L, S) / (B·heads, L, S) or (B, S). */
  private checkedMask(name: 'attnMask' | 'keyPaddingMask', m: AttentionMask, L: number, S: number, B: number): Tensor {
    const shape = maskShape(m, name, 'MultiheadAttention');
    const eq = (want: number[]): boolean => shape.length === want.length && shape.every((d, i) => d === want[i]);
    const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;
    if (name === 'keyPaddingMask' && !eq([B, S])) throw new Error(`MultiheadAttention: keyPaddingMask has shape ${fmt(shape)}, but should be [${B}, ${S}] (B, S)`);
    if (name === 'attnMask' && !eq([L, S]) && !eq([B * this.numHeads, L, S])) {
      throw new Error(`MultiheadAttention: attnMask has shape ${fmt(shape)}, but should be [${L}, ${S}] (L, S) or [${B * this.numHeads}, ${L}, ${S}] (B·numHeads, L, S)`);
    }
    if (m instanceof Tensor && m.requiresGrad) throw new Error(`MultiheadAttention: ${name} is a constant; a float mask that requires grad is not supported`);
    return additiveMask(m);
  }

  /** Self-attention of L new steps over a cache's steps and themselves; the cache gains the new keys and values. */
  private forwardCached(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions): MultiheadAttentionOutput {
    const cache = opts.cache!;
    const E = this.embedDim;
    if (!(query === key && key === value)) throw new Error('MultiheadAttention: a cache is for self-attention (query, key and value the same tensor)');
    if (isGradEnabled() && [query, ...this.parameters()].some((t) => t.requiresGrad)) {
      throw new Error('MultiheadAttention: a key/value cache is for inference; run it under noGrad()');
    }
    const [L, B] = this.sizes('query', query);
    if (cache.batch !== B || cache.embedDim !== E) throw new Error(`MultiheadAttention: the cache holds batch ${cache.batch} × embedDim ${cache.embedDim}, the query batch ${B} × ${E}`);
    if (cache.length + L > cache.capacity) throw new Error(`MultiheadAttention: ${cache.length} cached steps + ${L} new ones exceed the cache's capacity ${cache.capacity}`);
    const qkv = linear(query, this.inProjWeight, this.inProjBias); // (L, B, 3E) or (B, L, 3E)
    const be = backend();
    const src = qkv.data;
    const dst = cache.kv.data;
    for (let b = 0; b < B; b++) {
      // rows (b, t) of qkv, columns [E, 3E), into rows (b, length + t) of the cache
      const from = this.batchFirst ? src.subarray(b * L * 3 * E + E) : src.subarray(b * 3 * E + E);
      be.copyRows(L, 2 * E, from, this.batchFirst ? 3 * E : B * 3 * E, dst.subarray((b * cache.capacity + cache.length) * 2 * E), 2 * E, false);
    }
    cache.length += L;
    const S = cache.length;
    const kv = { tensor: cache.kv, batchFirst: true, length: S };
    return this.attend([{ tensor: qkv, batchFirst: this.batchFirst }, kv, { ...kv, column: E }], L, S, B, {
      ...opts, needWeights: opts.needWeights ?? true, averageAttnWeights: opts.averageAttnWeights ?? true, isCausal: opts.isCausal ?? false,
    });
  }
}
