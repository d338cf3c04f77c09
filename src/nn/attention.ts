// Attention over encoder states: additive (Bahdanau et al. 2015) and multiplicative (Luong et al. 2015,
// 'dot' and 'general') scores, a masked softmax over the source positions, and the weighted context.
// Built from tape primitives (bmm, maskedSoftmax, indexSelect, linear, tanh). Not here: how a decoder
// uses the context (seq2seq.ts).

import { add, bmm, indexSelect, linear, maskedSoftmax, reshape, tanh } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { uniformInit } from './init.js';
import { positiveInt } from './linear.js';
import { Module } from './module.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';

export const attentionKinds = ['bahdanau', 'luong-dot', 'luong-general'] as const;
export type AttentionKind = (typeof attentionKinds)[number];

export interface AttentionOptions {
  kind: AttentionKind;
  /** Q: features of the query (the decoder state). */
  querySize: number;
  /** E: features of each encoder state (dirs·H of the encoder). 'luong-dot' needs E = Q. */
  keySize: number;
  /** A: width of the additive score's hidden layer ('bahdanau' only; default querySize). */
  attentionSize?: number;
}

const OPTION_KEYS = ['kind', 'querySize', 'keySize', 'attentionSize'] as const;

/** The encoder side of attention, computed once per source batch and reused at every decoder step. */
export interface AttentionMemory {
  /** (B, S, E) encoder states: the values, and the keys of 'luong-dot'. */
  keys: Tensor;
  /** (B, S, A) W_k k for 'bahdanau', (B, S, Q) W_a k for 'luong-general'; null for 'luong-dot'. */
  projected: Tensor | null;
  /** B·S entries, 1 where s < lengths[b] (a real source position), 0 on padding. */
  mask: Float32Array;
  B: number;
  S: number;
}

export interface AttentionOutput {
  /** (B, E) Σ_s α_s k_s; (B, Tq, E) for Tq queries per row. */
  context: Tensor;
  /** (B, S) α: a distribution over each row's source positions, exactly 0 on padding; (B, Tq, S) for Tq queries per row. */
  weights: Tensor;
}

/**
 * Scores between a query q (B, Q) and encoder states k_s (B, S, E), normalised over the unmasked s:
 *
 *   bahdanau       score_s = vᵀ tanh(W_q q + W_k k_s)     W_q (A, Q), W_k (A, E), v (1, A), no biases
 *   luong-dot      score_s = qᵀ k_s                         (E = Q)
 *   luong-general  score_s = qᵀ W_a k_s                     W_a (Q, E)
 *   α = softmax(score) over s < length (α_s = 0 beyond it),   context = Σ_s α_s k_s
 *
 * Parameters (PyTorch Linear layouts, init U(-1/√in, 1/√in)): `query.weight` (A, Q), `key.weight` (A, E),
 * `v.weight` (1, A) for bahdanau; `weight` (Q, E) for luong-general; none for luong-dot.
 */
export class Attention extends Module {
  readonly kind: AttentionKind;
  readonly querySize: number;
  readonly keySize: number;
  readonly attentionSize: number;
  private readonly wq: Tensor | null = null;
  private readonly wk: Tensor | null = null;
  private readonly v: Tensor | null = null;
  private readonly wa: Tensor | null = null;

  constructor(opts: AttentionOptions, rng: Rng) {
    super();
    if (opts === null || typeof opts !== 'object') throw new Error(`Attention: options must be an object, got ${String(opts)}`);
    rejectUnknownKeys('Attention options', opts, OPTION_KEYS);
    const { kind, querySize: Q, keySize: E, attentionSize } = opts;
    if (!(attentionKinds as readonly string[]).includes(kind)) {
      throw new Error(`Attention kind must be one of ${attentionKinds.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    positiveInt('Attention querySize', Q);
    positiveInt('Attention keySize', E);
    if (attentionSize !== undefined && kind !== 'bahdanau') {
      throw new Error(`Attention attentionSize applies to 'bahdanau' only, not '${kind}'`);
    }
    const A = attentionSize ?? Q;
    positiveInt('Attention attentionSize', A);
    if (kind === 'luong-dot' && E !== Q) {
      throw new Error(`Attention 'luong-dot' needs keySize = querySize (qᵀk), got keySize ${E} and querySize ${Q}; use 'luong-general'`);
    }
    this.kind = kind;
    this.querySize = Q;
    this.keySize = E;
    this.attentionSize = A;
    if (kind === 'bahdanau') {
      this.wq = this.param('query.weight', [A, Q], uniformInit(rng, 1 / Math.sqrt(Q))); // (A, Q)
      this.wk = this.param('key.weight', [A, E], uniformInit(rng, 1 / Math.sqrt(E))); // (A, E)
      this.v = this.param('v.weight', [1, A], uniformInit(rng, 1 / Math.sqrt(A))); // (1, A)
    } else if (kind === 'luong-general') {
      this.wa = this.param('weight', [Q, E], uniformInit(rng, 1 / Math.sqrt(E))); // (Q, E)
    }
  }

  /** Precomputes what does not depend on the query; `lengths` (B values in [1, S]) default to S. */
  prepare(keys: Tensor, lengths?: ArrayLike<number>): AttentionMemory {
    if (!(keys instanceof Tensor) || keys.shape.length !== 3 || keys.shape[2] !== this.keySize) {
      const got = keys instanceof Tensor ? `[${keys.shape.join(', ')}]` : String(keys);
      throw new Error(`Attention.prepare: keys must have shape (B, S, keySize = ${this.keySize}), got ${got}`);
    }
    const [B, S] = keys.shape;
    const mask = lengthMask(lengths, B, S, 'Attention.prepare');
    let projected: Tensor | null = null;
    if (this.kind === 'bahdanau') projected = linear(keys, this.wk!, null); // (B, S, A)
    else if (this.kind === 'luong-general') projected = linear(keys, this.wa!, null); // (B, S, Q)
    return { keys, projected, mask, B, S };
  }

  /**
   * One query per row against the memory: query (B, Q) gives context (B, E) and weights (B, S). Luong
   * scores also take Tq queries per row at once (a decoder run over a whole target under teacher forcing):
   * query (B, Tq, Q) gives context (B, Tq, E) and weights (B, Tq, S), the same as Tq single-query calls.
   */
  forward(query: Tensor, memory: AttentionMemory): AttentionOutput {
    const { B, S } = memory;
    const many = query instanceof Tensor && query.shape.length === 3;
    const okShape = query instanceof Tensor && (query.shape.length === 2 || many) && query.shape[0] === B && query.shape[query.shape.length - 1] === this.querySize;
    if (!okShape) {
      const got = query instanceof Tensor ? `[${query.shape.join(', ')}]` : String(query);
      throw new Error(`Attention.forward: query must have shape (B = ${B}, querySize = ${this.querySize}) or (B, Tq, querySize), got ${got}`);
    }
    if (many && this.kind === 'bahdanau') throw new Error("Attention.forward: 'bahdanau' takes one query per row (B, querySize); several per row are for Luong scores");
    const Tq = many ? query.shape[1] : 1;
    let scores: Tensor; // (B, Tq, S)
    if (this.kind === 'bahdanau') {
      const A = this.attentionSize;
      const q = reshape(linear(query, this.wq!, null), [B, 1, A]); // (B, 1, A)
      const qs = indexSelect(q, 1, new Int32Array(S)); // (B, S, A) the query broadcast over s
      const hidden = tanh(add(memory.projected!, qs)); // (B, S, A)
      scores = reshape(linear(hidden, this.v!, null), [B, 1, S]); // (B, 1, S)
    } else {
      const q = many ? query : reshape(query, [B, 1, this.querySize]); // (B, Tq, Q)
      const k = this.kind === 'luong-dot' ? memory.keys : memory.projected!; // (B, S, Q)
      scores = bmm(q, k, true); // (B, Tq, S)
    }
    const weights = maskedSoftmax(scores, Tq === 1 ? memory.mask : repeatRows(memory.mask, B, Tq, S)); // (B, Tq, S)
    const context = bmm(weights, memory.keys); // (B, Tq, E)
    if (many) return { context, weights };
    return { context: reshape(context, [B, this.keySize]), weights: reshape(weights, [B, S]) }; // (B, E), (B, S)
  }
}

/** A (B, S) mask repeated over Tq rows per batch entry: (B, Tq, S). */
function repeatRows(mask: Float32Array, B: number, Tq: number, S: number): Float32Array {
  const out = new Float32Array(B * Tq * S);
  for (let b = 0; b < B; b++) for (let t = 0; t < Tq; t++) out.set(mask.subarray(b * S, (b + 1) * S), (b * Tq + t) * S);
  return out;
}

/** B·S keep-mask from lengths (each in [1, S]); all ones when lengths is undefined. */
export function lengthMask(lengths: ArrayLike<number> | undefined, B: number, S: number, who: string): Float32Array {
  const mask = new Float32Array(B * S);
  if (lengths === undefined) return mask.fill(1);
  if (lengths === null || typeof lengths !== 'object' || lengths.length !== B) {
    throw new Error(`${who}: lengths must hold one length per row (B = ${B}), got ${String(lengths)}`);
  }
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (!Number.isInteger(n) || n < 1 || n > S) throw new Error(`${who}: lengths[${b}] must be an integer in [1, S = ${S}], got ${n}`);
    mask.fill(1, b * S, b * S + n);
  }
  return mask;
}

/** The rows `rows` of a memory (beam search reorders and repeats hypotheses). */
export function selectMemoryRows(memory: AttentionMemory, rows: ArrayLike<number>): AttentionMemory {
  const { S } = memory;
  const mask = new Float32Array(rows.length * S);
  for (let i = 0; i < rows.length; i++) mask.set(memory.mask.subarray(rows[i] * S, (rows[i] + 1) * S), i * S);
  return {
    keys: indexSelect(memory.keys, 0, rows), // (B', S, E)
    projected: memory.projected === null ? null : indexSelect(memory.projected, 0, rows), // (B', S, ·)
    mask,
    B: rows.length,
    S,
  };
}
