// The fused differentiable ops of the Transformer layers: LayerNorm, GELU and scaled dot-product
// attention, each one backend kernel forward and one backward, recorded as one node on the tape. The
// layers (nn/transformer/) are built from these and the primitives in ops.ts. Not here: parameters, masks
// in PyTorch's forms (bool or float, 2-D or 3-D: nn/transformer/masks.ts), the heads' projections.

import { backend } from '../backend/registry.js';
import type { GeluApproximate, RowStrides } from '../backend/backend.js';
import { recordMulti } from './tape.js';
import { record } from './ops.js';
import { Tensor, isGradEnabled, type Shape } from '../tensor/tensor.js';
import type { Rng } from '../random/rng.js';

const fmt = (s: Shape): string => `[${s.join(', ')}]`;

/**
 * LayerNorm over the last `n` elements of each row (n = the product of PyTorch's normalized_shape):
 *   y = (x - μ) / √(σ² + eps) ⊙ weight + bias,   μ, σ² the mean and biased variance of the row
 * weight, bias (n) or null. Backward (the kernel): with x̂ the normalised row and g = dy ⊙ weight,
 * dx = (g - mean(g) - x̂·mean(g ⊙ x̂)) / √(σ² + eps), dweight = Σ dy ⊙ x̂, dbias = Σ dy.
 */
export function layerNorm(x: Tensor, n: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  if (!Number.isInteger(n) || n < 1 || x.size % n !== 0) throw new Error(`layerNorm: cannot normalise ${fmt(x.shape)} over its last ${n} elements`);
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p !== null && p.size !== n) throw new Error(`layerNorm: ${name} has ${p.size} elements, the normalised rows ${n}`);
  }
  const rows = x.size / n;
  const out = Tensor.empty(x.shape); // every element written
  const mean = Tensor.empty([rows]); // (rows)
  const rstd = Tensor.empty([rows]); // (rows)
  const be = backend();
  be.layerNormForward(rows, n, x.data, weight?.data ?? null, bias?.data ?? null, eps, out.data, mean.data, rstd.data);
  const parents = [x, ...(weight !== null ? [weight] : []), ...(bias !== null ? [bias] : [])];
  return record(out, parents, () => {
    const dx = x.requiresGrad ? x.ensureGrad().data : null;
    const dw = weight !== null && weight.requiresGrad ? weight.ensureGrad().data : null;
    const db = bias !== null && bias.requiresGrad ? bias.ensureGrad().data : null;
    be.layerNormBackward(rows, n, x.data, weight?.data ?? null, mean.data, rstd.data, out.grad!.data, dx, dw, db);
  });
}

/** GELU(x) = x·Φ(x) (approximate 'none', PyTorch's default) or its tanh approximation; backward from x. */
export function gelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  const out = Tensor.empty(x.shape); // every element written
  backend().gelu(approximate, x.data, out.data);
  return record(out, [x], () => backend().geluBackwardAcc(approximate, x.data, out.grad!.data, x.ensureGrad().data));
}

/** A sequence operand of attention: rows (t, b) of a (T, B, W) tensor, or (b, t) of a (B, T, W) one. */
export interface AttentionOperand {
  tensor: Tensor;
  batchFirst: boolean;
  /** Where the E = heads·D features start in the last dimension W (default 0: q, k, v may be columns of one projection). */
  column?: number;
  /** Time steps used, from the first (default all T): a key/value cache uses the rows filled so far. */
  length?: number;
}

export interface AttentionOpOptions {
  heads: number;
  /** E: the features of q, k and v per row (heads·D). */
  embedDim: number;
  /** Additive (-∞ masks), a constant: (L, S) for every batch entry and head, or (B·heads, L, S). */
  attnMask?: Tensor | null;
  /** Additive (-∞ masks), a constant: (B, S). */
  keyPaddingMask?: Tensor | null;
  /** Masks key s for query l where s > l + S - L (the last query sees every key: a cache's keys come first). */
  causal?: boolean;
  /** Dropout on the attention probabilities (PyTorch's in MultiheadAttention); null or p = 0: none. */
  dropout?: { p: number; rng: Rng } | null;
  /** Default 1/√D. */
  scale?: number;
}

export interface AttentionOpOutput {
  /** (L, B, E), or (B, L, E) when q is batch-first: head h's result in columns [h·D, (h+1)·D). */
  output: Tensor;
  /** (B, heads, L, S): the probabilities each output row used (after dropout, as PyTorch returns them). */
  weights: Tensor;
}

/** Sizes and strides of an operand, checked. */
function operand(name: string, o: AttentionOperand, E: number): { T: number; B: number; strides: RowStrides; col: number } {
  const t = o.tensor;
  if (!(t instanceof Tensor) || t.shape.length !== 3) throw new Error(`attention: ${name} must be a 3-D tensor, got ${t instanceof Tensor ? fmt(t.shape) : String(t)}`);
  const [d0, d1, W] = t.shape;
  const [T, B] = o.batchFirst ? [d1, d0] : [d0, d1];
  const col = o.column ?? 0;
  if (!Number.isInteger(col) || col < 0 || col + E > W) throw new Error(`attention: ${name}'s features [${col}, ${col + E}) do not fit its width ${W}`);
  const length = o.length ?? T;
  if (!Number.isInteger(length) || length < 0 || length > T) throw new Error(`attention: ${name}'s length ${length} is outside [0, ${T}]`);
  return { T: length, B, strides: o.batchFirst ? { batch: T * W, time: W } : { batch: W, time: B * W }, col };
}

/**
 * Multi-head scaled dot-product attention, fused (Vaswani et al. 2017): per batch entry b and head h,
 *   A = softmax(scale·Q_h K_hᵀ + attnMask + keyPaddingMask [+ causal -∞]),   O_h = dropout(A) V_h
 * over the D = E/heads features of each head, in one kernel call (and one for the backward, which
 * accumulates into q, k and v; q, k and v may be the same tensor). A row whose keys are all masked gets
 * zero weights and a zero output (PyTorch gives NaN there).
 */
export function scaledDotProductAttention(q: AttentionOperand, k: AttentionOperand, v: AttentionOperand, opts: AttentionOpOptions): AttentionOpOutput {
  const { heads, embedDim: E } = opts;
  if (!Number.isInteger(heads) || heads < 1 || !Number.isInteger(E) || E % heads !== 0) {
    throw new Error(`attention: ${heads} heads do not divide the width ${E}`);
  }
  const D = E / heads;
  const Q = operand('q', q, E);
  const K = operand('k', k, E);
  const V = operand('v', v, E);
  if (K.B !== Q.B || V.B !== Q.B) throw new Error(`attention: batch sizes differ (q ${Q.B}, k ${K.B}, v ${V.B})`);
  if (V.T !== K.T) throw new Error(`attention: k has ${K.T} steps, v ${V.T}`);
  const { B } = Q;
  const L = Q.T;
  const S = K.T;
  const N = B * heads;
  const attnMask = opts.attnMask ?? null;
  if (attnMask !== null) {
    const ok = (attnMask.shape.length === 2 && attnMask.shape[0] === L && attnMask.shape[1] === S) ||
      (attnMask.shape.length === 3 && attnMask.shape[0] === N && attnMask.shape[1] === L && attnMask.shape[2] === S);
    if (!ok) throw new Error(`attention: attnMask has shape ${fmt(attnMask.shape)}, expected [${L}, ${S}] or [${N}, ${L}, ${S}]`);
  }
  const kpm = opts.keyPaddingMask ?? null;
  if (kpm !== null && (kpm.shape.length !== 2 || kpm.shape[0] !== B || kpm.shape[1] !== S)) {
    throw new Error(`attention: keyPaddingMask has shape ${fmt(kpm.shape)}, expected [${B}, ${S}]`);
  }
  for (const m of [attnMask, kpm]) if (m?.requiresGrad) throw new Error('attention: masks are constants; a mask that requires grad is not supported');
  const drop = opts.dropout ?? null;
  if (drop !== null && !(drop.p >= 0 && drop.p < 1)) throw new Error(`attention: dropout must be in [0, 1), got ${drop.p}`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);

  const probs = Tensor.empty([B, heads, L, S]); // (B, heads, L, S) every element written
  let dropMask: Tensor | null = null;
  let dropped: Tensor | null = null;
  if (drop !== null && drop.p > 0) {
    dropMask = Tensor.empty([B, heads, L, S]);
    drop.rng.dropoutMask(dropMask.data, drop.p, 1 / (1 - drop.p), backend());
    dropped = Tensor.empty([B, heads, L, S]);
  }
  const output = Tensor.empty(q.batchFirst ? [B, L, E] : [L, B, E]); // every element written
  const os: RowStrides = q.batchFirst ? { batch: L * E, time: E } : { batch: E, time: B * E };
  const be = backend();
  const problem = () => ({
    B, heads, L, S, D, scale,
    q: q.tensor.data.subarray(Q.col), qs: Q.strides, k: k.tensor.data.subarray(K.col), ks: K.strides, v: v.tensor.data.subarray(V.col), vs: V.strides,
    attnMask: attnMask?.data ?? null, maskStride: attnMask !== null && attnMask.shape.length === 3 ? L * S : 0,
    keyPadding: kpm?.data ?? null, causal: opts.causal === true,
    probs: probs.data, dropMask: dropMask?.data ?? null, dropped: dropped?.data ?? null, os,
  });
  be.attentionForward({ ...problem(), out: output.data });
  const weights = dropped ?? probs;
  const inputs = [...new Set([q.tensor, k.tensor, v.tensor])];
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return { output, weights };
  recordMulti([output, weights], inputs, () => {
    // Every allocation before the views (an allocation can grow the heap).
    const dScores = Tensor.empty([N, L, S]);
    const dOutT = output.grad ?? new Tensor(output.shape); // weights alone were used: dOut = 0
    for (const t of inputs) if (t.requiresGrad) t.ensureGrad();
    const grad = (o: AttentionOperand, col: number): Float32Array | null => (o.tensor.requiresGrad ? o.tensor.grad!.data.subarray(col) : null);
    be.attentionBackward({
      ...problem(), dOut: dOutT.data, dWeights: weights.grad?.data ?? null, dScores: dScores.data,
      dq: grad(q, Q.col), dk: grad(k, K.col), dv: grad(v, V.col),
    });
    dScores.dispose();
    if (output.grad === null) dOutT.dispose();
  });
  return { output, weights };
}
