// The differentiable primitives: each computes its output with backend kernels and, when an input
// requires grad, records a closure that adds into the inputs' grads. Fused layers (the recurrent
// family) record one node of their own in nn/; these ops are what everything else, and the tape
// reference the fused layers are checked against, is built from.

import { backend } from '../backend/registry.js';
import type { UnaryOp } from '../backend/backend.js';
import { Tensor, isGradEnabled, untracked, type Shape } from '../tensor/tensor.js';
import type { Rng } from '../random/rng.js';

function fmt(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Marks `out` as computed from `parents` if any of them requires grad. */
export function record(out: Tensor, parents: Tensor[], backwardFn: () => void): Tensor {
  if (isGradEnabled() && parents.some((p) => p.requiresGrad)) {
    out.requiresGrad = true;
    out.parents = parents;
    out.backwardFn = backwardFn;
  }
  return out;
}

/** (M,K) @ (K,N) -> (M,N). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} do not multiply`);
  }
  const [M, K] = a.shape;
  const N = b.shape[1];
  const out = Tensor.empty([M, N]); // (M, N), every element written (beta 0)
  backend().gemm(false, false, M, N, K, 1, a.data, K, b.data, N, 0, out.data, N);
  return record(out, [a, b], () => {
    const dOut = out.grad!.data;
    if (a.requiresGrad) backend().gemm(false, true, M, K, N, 1, dOut, N, b.data, N, 1, a.ensureGrad().data, K); // dA += dOut Bᵀ
    if (b.requiresGrad) backend().gemm(true, false, K, N, M, 1, a.data, K, dOut, N, 1, b.ensureGrad().data, N); // dB += Aᵀ dOut
  });
}

/** x (..., IN) @ Wᵀ + b with W (OUT, IN), b (OUT): PyTorch's Linear layout. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const [OUT, IN] = weight.shape;
  if (x.shape[x.shape.length - 1] !== IN) {
    throw new Error(`linear: input of shape ${fmt(x.shape)} does not end in ${IN} (weight ${fmt(weight.shape)})`);
  }
  const M = x.size / IN;
  const out = Tensor.empty([...x.shape.slice(0, -1), OUT]); // (..., OUT), every element written: bias rows, or beta 0
  const be = backend();
  if (bias !== null) {
    const o = out.data;
    const b = bias.data;
    // Every row starts as the bias: one row set, then the filled part copied onto the rest, doubling
    // (log₂ M copies, not M row sets: 1.4–1.6× faster on 768 rows of 128 to 512).
    if (M > 0) o.set(b, 0);
    for (let filled = OUT; filled < M * OUT; filled *= 2) o.copyWithin(filled, 0, Math.min(filled, M * OUT - filled));
  }
  be.gemm(false, true, M, OUT, IN, 1, x.data, IN, weight.data, IN, bias === null ? 0 : 1, out.data, OUT);
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, parents, () => {
    const dOut = out.grad!.data;
    if (x.requiresGrad) be.gemm(false, false, M, IN, OUT, 1, dOut, OUT, weight.data, IN, 1, x.ensureGrad().data, IN);
    if (weight.requiresGrad) be.gemm(true, false, OUT, IN, M, 1, dOut, OUT, x.data, IN, 1, weight.ensureGrad().data, IN);
    if (bias !== null && bias.requiresGrad) be.sumRowsAcc(dOut, OUT, bias.ensureGrad().data);
  });
}

function checkBroadcast(op: string, a: Tensor, b: Tensor): void {
  const k = b.shape.length;
  const tail = a.shape.slice(a.shape.length - k);
  if (k > a.shape.length || !tail.every((d, i) => d === b.shape[i])) {
    throw new Error(`${op}: shape ${fmt(b.shape)} does not broadcast onto ${fmt(a.shape)}`);
  }
}

function binaryOp(op: 'add' | 'sub' | 'mul', a: Tensor, b: Tensor): Tensor {
  checkBroadcast(op, a, b);
  const out = Tensor.empty(a.shape); // every element written
  const be = backend();
  be.binary(op, a.data, b.data, out.data);
  return record(out, [a, b], () => {
    const n = b.size;
    const sameShape = n === a.size;
    if (a.requiresGrad && op === 'mul' && sameShape) {
      // dOut ⊙ b, then added: two kernels, not a JS loop. NOTE: views taken after both allocations (each may grow the heap).
      const da = a.ensureGrad();
      const prod = untracked(() => Tensor.empty(a.shape));
      be.binary('mul', out.grad!.data, b.data, prod.data);
      be.axpy(1, prod.data, da.data);
      prod.dispose();
    } else if (a.requiresGrad && op === 'mul') {
      const da = a.ensureGrad().data;
      const dOut = out.grad!.data;
      const bd = b.data;
      for (let i = 0; i < da.length; i++) da[i] += dOut[i] * bd[i % n];
    } else if (a.requiresGrad) {
      const da = a.ensureGrad().data;
      be.axpy(1, out.grad!.data, da);
    }
    if (b.requiresGrad) {
      const db = b.ensureGrad().data;
      const dOut = out.grad!.data;
      if (op === 'add' && sameShape) be.axpy(1, dOut, db);
      else if (op === 'add') be.sumRowsAcc(dOut, n, db); // b broadcast over a's rows: db += Σ_rows dOut
      else if (op === 'sub' && sameShape) be.axpy(-1, dOut, db);
      else {
        const sign = op === 'sub' ? -1 : 1;
        const ad = a.data;
        for (let i = 0; i < dOut.length; i++) db[i % n] += op === 'mul' ? dOut[i] * ad[i] : sign * dOut[i];
      }
    }
  });
}

/** a + b, b broadcast over a's leading dimensions. */
export const add = (a: Tensor, b: Tensor): Tensor => binaryOp('add', a, b);
/** a - b, b broadcast over a's leading dimensions. */
export const sub = (a: Tensor, b: Tensor): Tensor => binaryOp('sub', a, b);
/** a ⊙ b, b broadcast over a's leading dimensions. */
export const mul = (a: Tensor, b: Tensor): Tensor => binaryOp('mul', a, b);

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  const out = Tensor.empty(x.shape); // every element written
  backend().unary(op, x.data, out.data);
  return record(out, [x], () => backend().unaryBackwardAcc(op, out.data, out.grad!.data, x.ensureGrad().data));
}

export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);

/** c * x. */
export function scale(x: Tensor, c: number): Tensor {
  const out = Tensor.empty(x.shape); // every element written
  const o = out.data;
  const xd = x.data;
  for (let i = 0; i < o.length; i++) o[i] = c * xd[i];
  return record(out, [x], () => backend().axpy(c, out.grad!.data, x.ensureGrad().data));
}

/** Sum of all elements, shape [1]. */
export function sum(x: Tensor): Tensor {
  const out = new Tensor([1]);
  let s = 0;
  const xd = x.data;
  for (let i = 0; i < xd.length; i++) s += xd[i];
  out.data[0] = s;
  return record(out, [x], () => {
    const g = out.grad!.data[0];
    const dx = x.ensureGrad().data;
    for (let i = 0; i < dx.length; i++) dx[i] += g;
  });
}

/** Mean of all elements, shape [1]. */
export function mean(x: Tensor): Tensor {
  return scale(sum(x), 1 / x.size);
}

/** Same data, new shape (a copy: storage is never aliased, so every tensor owns its block). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const out = new Tensor(shape);
  if (out.size !== x.size) {
    out.dispose();
    throw new Error(`reshape: cannot view ${fmt(x.shape)} (${x.size}) as ${fmt(shape)}`);
  }
  out.data.set(x.data);
  return record(out, [x], () => backend().axpy(1, out.grad!.data, x.ensureGrad().data));
}

/** Columns [start, start+len) of the last dimension. */
export function narrow(x: Tensor, start: number, len: number): Tensor {
  const n = x.shape[x.shape.length - 1];
  if (start < 0 || len < 0 || start + len > n) throw new Error(`narrow: [${start}, ${start + len}) is outside the last dimension ${n}`);
  const rows = x.size / n;
  const out = new Tensor([...x.shape.slice(0, -1), len]);
  const o = out.data;
  const xd = x.data;
  for (let r = 0; r < rows; r++) o.set(xd.subarray(r * n + start, r * n + start + len), r * len);
  return record(out, [x], () => {
    const dOut = out.grad!.data;
    const dx = x.ensureGrad().data;
    for (let r = 0; r < rows; r++) for (let j = 0; j < len; j++) dx[r * n + start + j] += dOut[r * len + j];
  });
}

/** Concatenation along the last dimension. */
export function concat(xs: Tensor[]): Tensor {
  const lead = xs[0].shape.slice(0, -1);
  for (const x of xs) {
    if (x.shape.length !== lead.length + 1 || !x.shape.slice(0, -1).every((d, i) => d === lead[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ before the last dimension`);
    }
  }
  const widths = xs.map((x) => x.shape[x.shape.length - 1]);
  const n = widths.reduce((a, b) => a + b, 0);
  const rows = lead.reduce((a, b) => a * b, 1);
  const out = Tensor.empty([...lead, n]); // every element written below
  const o = out.data;
  const be = backend();
  let col = 0;
  xs.forEach((x, k) => {
    be.copyRows(rows, widths[k], x.data, widths[k], o.subarray(col), n, false);
    col += widths[k];
  });
  return record(out, xs, () => {
    const grads = xs.map((x) => (x.requiresGrad ? x.ensureGrad() : null)); // every allocation before the views
    const dOut = out.grad!.data;
    let c = 0;
    grads.forEach((g, k) => {
      if (g !== null) be.copyRows(rows, widths[k], dOut.subarray(c), n, g.data, widths[k], true);
      c += widths[k];
    });
  });
}

/** Element `i` of the first dimension: (N, ...) -> (...). */
export function select(x: Tensor, i: number): Tensor {
  const N = x.shape[0];
  if (i < 0 || i >= N) throw new Error(`select: index ${i} is outside the first dimension ${N}`);
  const inner = x.size / N;
  const out = new Tensor(x.shape.slice(1));
  out.data.set(x.data.subarray(i * inner, (i + 1) * inner));
  return record(out, [x], () => backend().axpy(1, out.grad!.data, x.ensureGrad().data.subarray(i * inner, (i + 1) * inner)));
}

/** The first two dimensions swapped: (P, Q, ...) -> (Q, P, ...), e.g. time-major (T, B, H) <-> batch-first (B, T, H). */
export function swapAxes01(x: Tensor): Tensor {
  if (x.shape.length < 2) throw new Error(`swapAxes01: needs at least 2 dimensions, got ${fmt(x.shape)}`);
  const [P, Q] = x.shape;
  const K = x.size / (P * Q) || 0; // elements per (p, q) entry
  const out = Tensor.empty([Q, P, ...x.shape.slice(2)]); // (Q, P, ...), every element written
  swapAxes01Into(x.data, out.data, P, Q, K, false);
  return record(out, [x], () => {
    const dx = x.ensureGrad().data; // before the view of out.grad
    swapAxes01Into(out.grad!.data, dx, Q, P, K, true);
  });
}

/**
 * out (Q, P, K) = x (P, Q, K) with the first two dimensions swapped, or += with `accumulate`: a block
 * copy per index of the shorter of the two (the other is the rows of the block), so (B, T, H) <-> (T, B, H)
 * is T kernel calls.
 */
export function swapAxes01Into(x: Float32Array, out: Float32Array, P: number, Q: number, K: number, accumulate: boolean): void {
  const be = backend();
  // x[(p·Q + q)·K + k] -> out[(q·P + p)·K + k]
  if (P <= Q) for (let p = 0; p < P; p++) be.copyRows(Q, K, x.subarray(p * Q * K), K, out.subarray(p * K), P * K, accumulate);
  else for (let q = 0; q < Q; q++) be.copyRows(P, K, x.subarray(q * K), Q * K, out.subarray(q * P * K), K, accumulate);
}

/** Stacks equal shapes along a new first dimension: k × (...) -> (k, ...). */
export function stack(xs: Tensor[]): Tensor {
  const inner = xs[0].size;
  for (const x of xs) {
    if (x.size !== inner || x.shape.length !== xs[0].shape.length) throw new Error(`stack: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ`);
  }
  const out = new Tensor([xs.length, ...xs[0].shape]);
  const o = out.data;
  xs.forEach((x, k) => o.set(x.data, k * inner));
  return record(out, xs, () => {
    const dOut = out.grad!.data;
    xs.forEach((x, k) => {
      if (x.requiresGrad) backend().axpy(1, dOut.subarray(k * inner, (k + 1) * inner), x.ensureGrad().data);
    });
  });
}

/** Rows of `weight` (V, H) picked by `ids`: output shape [...idsShape, H]. */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: Shape): Tensor {
  const [V, H] = weight.shape;
  if (idsShape.reduce((a, b) => a * b, 1) !== ids.length) throw new Error(`embedding: ${ids.length} ids do not fill shape ${fmt(idsShape)}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < V)) throw new Error(`embedding: id ${id} at position ${i} is outside the vocabulary [0, ${V})`);
  }
  const out = Tensor.empty([...idsShape, H]); // every row written
  backend().gatherRows(weight.data, ids, H, out.data); // out[i] = W[ids[i]]
  if (!(isGradEnabled() && weight.requiresGrad)) return out;
  // The caller may reuse its ids buffer (a decoder feeding step after step): backward reads a copy.
  const saved = ids.slice();
  return record(out, [weight], () => {
    const dw = weight.ensureGrad().data;
    backend().indexAddRows(out.grad!.data, saved, H, dw); // dW[id] += dOut[i]
  });
}

/**
 * Mean softmax cross-entropy of `logits` (N, V) against `targets` (N), skipping rows whose target is
 * `ignoreIndex` (PyTorch's default: -100). Shape [1]. `labelSmoothing` ε in [0, 1] mixes the one-hot
 * target with the uniform distribution, (1 - ε) onehot + ε/V, as PyTorch's label_smoothing does. The
 * softmax and its gradient are one fused kernel.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = -100, labelSmoothing = 0): Tensor {
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be a number in [0, 1], got ${String(labelSmoothing)}`);
  }
  const V = logits.shape[logits.shape.length - 1];
  const N = logits.size / V;
  if (targets.length !== N) throw new Error(`crossEntropy: ${targets.length} targets for ${N} rows of logits ${fmt(logits.shape)}`);
  let count = 0;
  for (let i = 0; i < N; i++) if (targets[i] !== ignoreIndex) count++;
  const wantGrad = isGradEnabled() && logits.requiresGrad;
  const dLogits = wantGrad ? new Tensor(logits.shape) : null;
  const res = backend().softmaxCrossEntropy(logits.data, targets, V, ignoreIndex, labelSmoothing, count > 0 ? 1 / count : 0, dLogits?.data ?? null);
  const out = new Tensor([1]);
  out.data[0] = count > 0 ? res.lossSum / count : 0;
  if (dLogits === null) return out;
  return record(out, [logits], () => backend().axpy(out.grad!.data[0], dLogits.data, logits.ensureGrad().data));
}

/** Mean squared error between `a` and `b` (same shape), shape [1]. */
export function mse(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`mse: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  const d = sub(a, b);
  return mean(mul(d, d));
}

/** Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = Tensor.empty(x.shape); // every element written
  rng.dropoutMask(mask.data, p, 1 / (1 - p), backend());
  return mul(x, mask);
}

// ---- Attention primitives (seq2seq): batched products, masked softmax, row gathers. ----

/**
 * Batched matrix product: a (N, M, K) @ b (N, K, P) -> (N, M, P); with `transB`, b is (N, P, K) and each
 * b_n is used transposed (a_n b_nᵀ: attention scores q kᵀ without materialising kᵀ).
 * Backward: dA_n += dOut_n b_nᵀ (transB: dOut_n b_n); dB_n += a_nᵀ dOut_n (transB: dOut_nᵀ a_n).
 */
export function bmm(a: Tensor, b: Tensor, transB = false): Tensor {
  const ok = a.shape.length === 3 && b.shape.length === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[transB ? 2 : 1];
  if (!ok) throw new Error(`bmm: shapes ${fmt(a.shape)} and ${fmt(b.shape)}${transB ? ' (b transposed)' : ''} do not multiply batch by batch`);
  const [N, M, K] = a.shape;
  const P = transB ? b.shape[1] : b.shape[2];
  const out = Tensor.empty([N, M, P]); // (N, M, P), every element written (beta = 0)
  const be = backend();
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  const aS = M * K;
  const bS = K * P;
  const oS = M * P;
  for (let n = 0; n < N; n++) {
    be.gemm(false, transB, M, P, K, 1, ad.subarray(n * aS), K, bd.subarray(n * bS), transB ? K : P, 0, od.subarray(n * oS), P);
  }
  return record(out, [a, b], () => {
    // Every grad buffer first: allocation can grow the heap and detach earlier views.
    const ga = a.requiresGrad ? a.ensureGrad() : null;
    const gb = b.requiresGrad ? b.ensureGrad() : null;
    const dOut = out.grad!.data;
    const av = a.data;
    const bv = b.data;
    for (let n = 0; n < N; n++) {
      const dO = dOut.subarray(n * oS); // (M, P)
      if (ga !== null) {
        const dA = ga.data.subarray(n * aS); // (M, K)
        if (transB) be.gemm(false, false, M, K, P, 1, dO, P, bv.subarray(n * bS), K, 1, dA, K); // dA += dOut b
        else be.gemm(false, true, M, K, P, 1, dO, P, bv.subarray(n * bS), P, 1, dA, K); // dA += dOut bᵀ
      }
      if (gb !== null) {
        const dB = gb.data.subarray(n * bS);
        if (transB) be.gemm(true, false, P, K, M, 1, dO, P, av.subarray(n * aS), K, 1, dB, K); // dB (P, K) += dOutᵀ a
        else be.gemm(true, false, K, P, M, 1, av.subarray(n * aS), K, dO, P, 1, dB, P); // dB (K, P) += aᵀ dOut
      }
    }
  });
}

/**
 * Softmax over the last dimension with masked entries: for a row x with keep-mask m (1 keep, 0 mask),
 *   y_i = exp(x_i − max_{j: m_j=1} x_j) / Σ_{j: m_j=1} exp(x_j − max)   where m_i = 1,   y_i = 0 where m_i = 0
 * — softmax with x_i = −∞ at masked entries, without ever forming −∞ − (−∞). A row with nothing kept is all
 * zeros (never NaN). `mask` has one entry per element of x, or is null (plain softmax).
 * Backward: dx_i = y_i (dy_i − Σ_j y_j dy_j), so masked entries get a gradient of exactly 0.
 */
export function maskedSoftmax(x: Tensor, mask: ArrayLike<number> | null): Tensor {
  const N = x.shape[x.shape.length - 1];
  if (x.shape.length === 0 || N === 0) throw new Error(`maskedSoftmax: needs a non-empty last dimension, got ${fmt(x.shape)}`);
  if (mask !== null && mask.length !== x.size) throw new Error(`maskedSoftmax: mask has ${mask.length} entries, x ${fmt(x.shape)} has ${x.size}`);
  const rows = x.size / N;
  const out = new Tensor(x.shape);
  const xd = x.data;
  const y = out.data;
  for (let r = 0; r < rows; r++) {
    const o = r * N;
    let max = -Infinity;
    for (let j = 0; j < N; j++) if ((mask === null || mask[o + j] !== 0) && xd[o + j] > max) max = xd[o + j];
    if (max === -Infinity) continue; // nothing kept (or every kept logit is -∞): the row stays 0
    // NOTE: sum in float64 after subtracting the max: every exp is <= 1 and the kept maximum contributes 1.
    let s = 0;
    for (let j = 0; j < N; j++) {
      const e = mask === null || mask[o + j] !== 0 ? Math.exp(xd[o + j] - max) : 0;
      y[o + j] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let j = 0; j < N; j++) y[o + j] *= inv;
  }
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    const dy = out.grad!.data;
    const yv = out.data;
    for (let r = 0; r < rows; r++) {
      const o = r * N;
      let dot = 0;
      for (let j = 0; j < N; j++) dot += yv[o + j] * dy[o + j];
      for (let j = 0; j < N; j++) dx[o + j] += yv[o + j] * (dy[o + j] - dot);
    }
  });
}

/**
 * Picks entries `indices` along dimension `dim`: x (..., n, ...) -> (..., indices.length, ...), out[.., k, ..] =
 * x[.., indices[k], ..]. Indices may repeat (beam search reorders and duplicates hypotheses; a (B, 1, A) tensor
 * with indices [0 × S] is broadcast to (B, S, A)). Backward scatters: dx[.., indices[k], ..] += dOut[.., k, ..].
 */
export function indexSelect(x: Tensor, dim: number, indicesIn: ArrayLike<number>): Tensor {
  const indices = Int32Array.from(indicesIn); // backward reads them later: never the caller's (reusable) buffer
  if (!Number.isInteger(dim) || dim < 0 || dim >= x.shape.length) throw new Error(`indexSelect: dim ${dim} is outside the ${x.shape.length} dimensions of ${fmt(x.shape)}`);
  const n = x.shape[dim];
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`indexSelect: index ${i} (position ${k}) is outside dimension ${dim} of size ${n}`);
  }
  const outer = x.shape.slice(0, dim).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(dim + 1).reduce((p, d) => p * d, 1);
  const m = indices.length;
  const out = new Tensor([...x.shape.slice(0, dim), m, ...x.shape.slice(dim + 1)]);
  const o = out.data;
  const xd = x.data;
  for (let a = 0; a < outer; a++) {
    for (let k = 0; k < m; k++) {
      const src = (a * n + indices[k]) * inner;
      o.set(xd.subarray(src, src + inner), (a * m + k) * inner);
    }
  }
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    const dOut = out.grad!.data;
    for (let a = 0; a < outer; a++) {
      backend().indexAddRows(dOut.subarray(a * m * inner, (a + 1) * m * inner), indices, inner, dx.subarray(a * n * inner, (a + 1) * n * inner));
    }
  });
}

// ---- Pooling over the valid steps of padded sequences (sequence classification). ----

function checkStepLengths(op: string, x: Tensor, lengths: ArrayLike<number>): void {
  if (x.shape.length !== 3) throw new Error(`${op}: x must have shape (T, B, F), got ${fmt(x.shape)}`);
  const [T, B] = x.shape;
  if (lengths.length !== B) throw new Error(`${op}: lengths must hold one length per sequence (B = ${B}), got ${lengths.length}`);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (!Number.isInteger(n) || n < 1 || n > T) throw new Error(`${op}: lengths[${b}] must be an integer in [1, T = ${T}], got ${n}`);
  }
}

/**
 * Mean over the valid steps: x (T, B, F) time-major, out[b] = (1/n_b) Σ_{t < n_b} x[t, b] with n_b = lengths[b].
 * Steps at t >= n_b are never read. Backward: dx[t, b] += dOut[b] / n_b for t < n_b (0 past the length).
 */
export function meanOverSteps(x: Tensor, lengths: ArrayLike<number>): Tensor {
  checkStepLengths('meanOverSteps', x, lengths);
  const [, B, F] = x.shape;
  const out = new Tensor([B, F]); // (B, F)
  const o = out.data;
  const xd = x.data;
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let t = 0; t < n; t++) {
      const src = (t * B + b) * F;
      for (let f = 0; f < F; f++) o[b * F + f] += xd[src + f];
    }
    for (let f = 0; f < F; f++) o[b * F + f] /= n;
  }
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    const dOut = out.grad!.data;
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      for (let t = 0; t < n; t++) {
        const dst = (t * B + b) * F;
        for (let f = 0; f < F; f++) dx[dst + f] += dOut[b * F + f] / n;
      }
    }
  });
}

/**
 * Maximum over the valid steps, per feature: x (T, B, F) time-major, out[b, f] = max_{t < lengths[b]} x[t, b, f].
 * Backward: the whole dOut[b, f] goes to the first step attaining the maximum (PyTorch's max-pool convention:
 * a subgradient, not split among ties); padded steps get 0.
 */
export function maxOverSteps(x: Tensor, lengths: ArrayLike<number>): Tensor {
  checkStepLengths('maxOverSteps', x, lengths);
  const [, B, F] = x.shape;
  const out = new Tensor([B, F]); // (B, F)
  const arg = new Int32Array(B * F); // (B, F): the step of each maximum
  const o = out.data;
  const xd = x.data;
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let f = 0; f < F; f++) {
      let best = xd[b * F + f];
      let bt = 0;
      for (let t = 1; t < n; t++) {
        const v = xd[(t * B + b) * F + f];
        if (v > best) {
          best = v;
          bt = t;
        }
      }
      o[b * F + f] = best;
      arg[b * F + f] = bt;
    }
  }
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    const dOut = out.grad!.data;
    for (let b = 0; b < B; b++) {
      for (let f = 0; f < F; f++) dx[(arg[b * F + f] * B + b) * F + f] += dOut[b * F + f];
    }
  });
}

// ---- Transformer helpers: first-dimension slices, means over one axis, positions added along time. ----

/** Entries [start, start + len) of the first dimension: (N, ...) -> (len, ...) (the q/k/v blocks of a packed weight). */
export function sliceRows(x: Tensor, start: number, len: number): Tensor {
  const N = x.shape[0];
  if (x.shape.length === 0 || !Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 0 || start + len > N) {
    throw new Error(`sliceRows: [${start}, ${start + len}) is outside the first dimension of ${fmt(x.shape)}`);
  }
  const inner = N === 0 ? 0 : x.size / N;
  const out = Tensor.empty([len, ...x.shape.slice(1)]); // every element written
  out.data.set(x.data.subarray(start * inner, (start + len) * inner));
  return record(out, [x], () => backend().axpy(1, out.grad!.data, x.ensureGrad().data.subarray(start * inner, (start + len) * inner)));
}

/** Mean over dimension `axis`, which is removed: out[a, c] = (1/n) Σ_i x[a, i, c]. Backward: dx[a, i, c] += dOut[a, c] / n. */
export function meanAxis(x: Tensor, axis: number): Tensor {
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) throw new Error(`meanAxis: axis ${axis} is outside the ${x.shape.length} dimensions of ${fmt(x.shape)}`);
  const n = x.shape[axis];
  const outer = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = new Tensor([...x.shape.slice(0, axis), ...x.shape.slice(axis + 1)]);
  const be = backend();
  const xd = x.data;
  const o = out.data;
  for (let a = 0; a < outer; a++) for (let i = 0; i < n; i++) be.axpy(1 / n, xd.subarray((a * n + i) * inner, (a * n + i + 1) * inner), o.subarray(a * inner, (a + 1) * inner));
  return record(out, [x], () => {
    const dx = x.ensureGrad().data;
    const dOut = out.grad!.data;
    for (let a = 0; a < outer; a++) for (let i = 0; i < n; i++) be.axpy(1 / n, dOut.subarray(a * inner, (a + 1) * inner), dx.subarray((a * n + i) * inner, (a * n + i + 1) * inner));
  });
}

/**
 * x + table[start + t] at every time step t: x (T, B, E) time-major or (B, T, E) batch-first, table (P, E)
 * with start + T <= P (positional encodings). Backward: dx += dOut, dtable[start + t] += Σ_b dOut[t, b].
 */
export function addPositions(x: Tensor, table: Tensor, start: number, batchFirst: boolean): Tensor {
  if (x.shape.length !== 3 || table.shape.length !== 2 || table.shape[1] !== x.shape[2]) {
    throw new Error(`addPositions: x ${fmt(x.shape)} must be (T, B, E) or (B, T, E) and the table (P, E), got ${fmt(table.shape)}`);
  }
  const [d0, d1, E] = x.shape;
  const [T, B] = batchFirst ? [d1, d0] : [d0, d1];
  if (!Number.isInteger(start) || start < 0 || start + T > table.shape[0]) {
    throw new Error(`addPositions: positions [${start}, ${start + T}) are outside the table's ${table.shape[0]}`);
  }
  const out = Tensor.empty(x.shape); // every element written
  const be = backend();
  // One kernel call per step (time-major: its B rows plus one table row, broadcast) or per batch entry
  // (batch-first: its T rows plus the table's T rows), not one per row: T·B calls cost more than the adds.
  const rows = table.data.subarray(start * E, (start + T) * E); // (T, E)
  const [xd, od] = [x.data, out.data];
  if (batchFirst) for (let b = 0; b < B; b++) be.binary('add', xd.subarray(b * T * E, (b + 1) * T * E), rows, od.subarray(b * T * E, (b + 1) * T * E));
  else for (let t = 0; t < T; t++) be.binary('add', xd.subarray(t * B * E, (t + 1) * B * E), rows.subarray(t * E, (t + 1) * E), od.subarray(t * B * E, (t + 1) * B * E));
  return record(out, [x, table], () => {
    const gx = x.requiresGrad ? x.ensureGrad() : null;
    const gt = table.requiresGrad ? table.ensureGrad() : null;
    const dOut = out.grad!.data;
    if (gx !== null) be.axpy(1, dOut, gx.data);
    if (gt !== null) {
      // dtable[start + t] += dOut[t, b] for b in order, as B separate adds would.
      const dRows = gt.data.subarray(start * E, (start + T) * E); // (T, E)
      if (batchFirst) for (let b = 0; b < B; b++) be.axpy(1, dOut.subarray(b * T * E, (b + 1) * T * E), dRows);
      else for (let t = 0; t < T; t++) be.sumRowsAcc(dOut.subarray(t * B * E, (t + 1) * B * E), E, dRows.subarray(t * E, (t + 1) * E));
    }
  });
}

export {
  layerNorm, gelu, scaledDotProductAttention, type AttentionOperand, type AttentionOpOptions, type AttentionOpOutput,
} from './transformer-ops.js';
