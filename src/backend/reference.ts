// The reference backend: plain TypeScript, the living definition of every kernel. Faster backends are
// tested against it and it is never deleted. Loops are ordered for the cache (i-k-j GEMM), nothing more.

import type { Backend, BinaryOp, UnaryOp } from './backend.js';

function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
): void {
  if (beta !== 1) {
    for (let i = 0; i < M; i++) {
      const row = i * ldc;
      if (beta === 0) C.fill(0, row, row + N);
      else for (let j = 0; j < N; j++) C[row + j] *= beta;
    }
  }
  if (alpha === 0 || K === 0) return;
  if (!transB) {
    // C[i,:] += (alpha * a_ik) * B[k,:] — streams rows of B and C.
    for (let i = 0; i < M; i++) {
      const c = i * ldc;
      for (let k = 0; k < K; k++) {
        const a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
        if (a === 0) continue;
        const b = k * ldb;
        for (let j = 0; j < N; j++) C[c + j] += a * B[b + j];
      }
    }
  } else {
    // C[i,j] += alpha * dot(A[i,:], B[j,:]) — both rows contiguous when A is not transposed.
    for (let i = 0; i < M; i++) {
      const c = i * ldc;
      for (let j = 0; j < N; j++) {
        const b = j * ldb;
        let s = 0;
        if (transA) for (let k = 0; k < K; k++) s += A[k * lda + i] * B[b + k];
        else {
          const a = i * lda;
          for (let k = 0; k < K; k++) s += A[a + k] * B[b + k];
        }
        C[c + j] += alpha * s;
      }
    }
  }
}

const unaryFns: { [K in UnaryOp]: (x: number) => number } = {
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : 0),
  exp: Math.exp,
  neg: (x) => -x,
};

// Derivative expressed through the forward output y.
const unaryGrads: { [K in UnaryOp]: (y: number) => number } = {
  tanh: (y) => 1 - y * y,
  sigmoid: (y) => y * (1 - y),
  relu: (y) => (y > 0 ? 1 : 0),
  exp: (y) => y,
  neg: () => -1,
};

const binaryFns: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
};

export const referenceBackend: Backend = {
  name: 'reference',
  gemm,

  unary(op, x, out) {
    const f = unaryFns[op];
    for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  },

  unaryBackwardAcc(op, y, dy, dx) {
    const g = unaryGrads[op];
    for (let i = 0; i < y.length; i++) dx[i] += dy[i] * g(y[i]);
  },

  binary(op, a, b, out) {
    const f = binaryFns[op];
    const n = b.length;
    if (n === a.length) for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i]);
    else for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i % n]);
  },

  axpy(alpha, x, out) {
    for (let i = 0; i < x.length; i++) out[i] += alpha * x[i];
  },

  sumRowsAcc(x, n, out) {
    for (let r = 0; r < x.length; r += n) for (let j = 0; j < n; j++) out[j] += x[r + j];
  },

  softmaxCrossEntropy(logits, targets, V, ignoreIndex, scale, dLogits) {
    let lossSum = 0;
    let count = 0;
    for (let r = 0; r < targets.length; r++) {
      const o = r * V;
      const t = targets[r];
      if (t === ignoreIndex) {
        if (dLogits !== null) dLogits.fill(0, o, o + V);
        continue;
      }
      if (t < 0 || t >= V) throw new Error(`cross-entropy: target ${t} at row ${r} is outside [0, ${V})`);
      // NOTE: log-sum-exp with the row max subtracted, so large logits do not overflow.
      let max = -Infinity;
      for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
      lossSum += Math.log(sum) + max - logits[o + t];
      count++;
      if (dLogits !== null) {
        for (let j = 0; j < V; j++) dLogits[o + j] = (Math.exp(logits[o + j] - max) / sum) * scale;
        dLogits[o + t] -= scale;
      }
    }
    return { lossSum, count };
  },

  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },
};
