// The reference backend: plain TypeScript, the living definition of every kernel. Faster backends are
// tested against it and it is never deleted. Loops are ordered for the cache (i-k-j GEMM), nothing more.

import type { Backend, BinaryOp, CellBackwardStep, CellForwardStep, CellKind, CellStage, PackedMatrix, UnaryOp } from './backend.js';
import { checkRowIds, checkRows } from './backend.js';
import { referenceTransformerKernels } from './reference-transformer.js';
import { referenceImageKernels } from './reference-image.js';
import { xoshiroDropoutMask } from '../random/rng.js';

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

/** The reference's packed operand: op(B) materialized as a plain K×N row-major copy. */
class ReferencePacked implements PackedMatrix {
  readonly backend = 'reference';
  constructor(readonly K: number, readonly N: number, public data: Float32Array | null) {}
  dispose(): void {
    this.data = null;
  }
}

export const referenceBackend: Backend = {
  name: 'reference',
  gemm,

  packB(transB, K, N, B, ldb) {
    const P = new Float32Array(K * N); // (K, N) = op(B)
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) P[k * N + j] = transB ? B[j * ldb + k] : B[k * ldb + j];
    return new ReferencePacked(K, N, P);
  },

  gemmPacked(transA, M, alpha, A, lda, packed, beta, C, ldc) {
    if (!(packed instanceof ReferencePacked)) throw new Error(`reference backend: gemmPacked: the operand was packed by the ${packed.backend} backend`);
    if (packed.data === null) throw new Error('reference backend: gemmPacked: the packed operand was disposed');
    gemm(transA, false, M, packed.N, packed.K, alpha, A, lda, packed.data, packed.N, beta, C, ldc);
  },

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

  copyRows(rows, cols, x, ldx, out, ldo, accumulate) {
    checkRows(rows, cols, x.length, ldx, out.length, ldo, 'reference');
    for (let r = 0; r < rows; r++) {
      const i = r * ldx;
      const o = r * ldo;
      if (accumulate) for (let j = 0; j < cols; j++) out[o + j] += x[i + j];
      else for (let j = 0; j < cols; j++) out[o + j] = x[i + j];
    }
  },

  sumRowsAcc(x, n, out) {
    for (let r = 0; r < x.length; r += n) for (let j = 0; j < n; j++) out[j] += x[r + j];
  },

  gatherRows(table, ids, n, out) {
    checkRowIds(ids, n, out.length, table.length, 'reference', 'gatherRows', 'out', 'table');
    for (let r = 0; r < ids.length; r++) out.set(table.subarray(ids[r] * n, ids[r] * n + n), r * n);
  },

  indexAddRows(x, ids, n, out) {
    checkRowIds(ids, n, x.length, out.length, 'reference');
    for (let r = 0; r < ids.length; r++) {
      const o = ids[r] * n;
      const i = r * n;
      for (let j = 0; j < n; j++) out[o + j] += x[i + j];
    }
  },

  softmaxCrossEntropy(logits, targets, V, ignoreIndex, smoothing, scale, dLogits) {
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
      if (smoothing > 0) {
        let xs = 0;
        for (let j = 0; j < V; j++) xs += logits[o + j];
        lossSum += smoothing * (logits[o + t] - xs / V);
      }
      count++;
      if (dLogits !== null) {
        const uniform = (smoothing / V) * scale;
        for (let j = 0; j < V; j++) dLogits[o + j] = (Math.exp(logits[o + j] - max) / sum) * scale - uniform;
        dLogits[o + t] -= (1 - smoothing) * scale;
      }
    }
    return { lossSum, count };
  },

  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },

  maxAbs(x) {
    let m = 0;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a > m || a !== a) m = a; // once NaN, stays NaN (nothing compares greater)
    }
    return m;
  },

  scal(alpha, x) {
    for (let i = 0; i < x.length; i++) x[i] *= alpha;
  },

  dropoutMask: xoshiroDropoutMask,

  clamp(x, lo, hi) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      x[i] = v < lo ? lo : v > hi ? hi : v;
    }
  },

  sgdUpdate(param, grad, buf, firstStep, s) {
    const { lr, momentum, dampening, weightDecay, nesterov } = s;
    for (let i = 0; i < param.length; i++) {
      let d = grad[i] + weightDecay * param[i];
      if (buf !== null) {
        buf[i] = firstStep ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      param[i] -= lr * d;
    }
  },

  adagradUpdate(param, grad, sum, clr, weightDecay, eps) {
    for (let i = 0; i < param.length; i++) {
      const d = grad[i] + weightDecay * param[i];
      sum[i] += d * d;
      param[i] -= (clr * d) / (Math.sqrt(sum[i]) + eps);
    }
  },

  rmspropUpdate(param, grad, squareAvg, gradAvg, buf, s) {
    const { lr, alpha, eps, weightDecay, momentum } = s;
    for (let i = 0; i < param.length; i++) {
      const d = grad[i] + weightDecay * param[i];
      // NOTE: state is re-read after each store, so later lines see the float32 value PyTorch sees.
      squareAvg[i] = alpha * squareAvg[i] + (1 - alpha) * d * d;
      let avg: number;
      if (gradAvg !== null) {
        gradAvg[i] = alpha * gradAvg[i] + (1 - alpha) * d;
        avg = Math.sqrt(squareAvg[i] - gradAvg[i] * gradAvg[i]) + eps;
      } else avg = Math.sqrt(squareAvg[i]) + eps;
      if (buf !== null) {
        buf[i] = momentum * buf[i] + d / avg;
        param[i] -= lr * buf[i];
      } else param[i] -= (lr * d) / avg;
    }
  },

  adamUpdate(param, grad, expAvg, expAvgSq, s) {
    const { stepSize, beta1, beta2, eps, biasCorrection2Sqrt, weightDecay, decoupledDecay } = s;
    for (let i = 0; i < param.length; i++) {
      const p = param[i];
      const d = grad[i] + weightDecay * p;
      expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * d;
      expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * d * d;
      param[i] = p * (1 - decoupledDecay) - (stepSize * expAvg[i]) / (Math.sqrt(expAvgSq[i]) / biasCorrection2Sqrt + eps);
    }
  },

  cellForward(kind, stage, s) {
    const k = cellKernels[kind];
    stageKernel(kind, stage, k.forward0, k.forward1, 'cellForward')(s);
  },

  cellBackward(kind, stage, s) {
    const k = cellKernels[kind];
    stageKernel(kind, stage, k.backward0, k.backward1, 'cellBackward')(s);
  },

  ...referenceTransformerKernels,
  ...referenceImageKernels,
};

// ---------------------------------------------------------------------------------------------------
// Recurrent cell steps (contract: CELL_LAYOUTS in backend.ts). Row b of a (B, k·H) buffer starts at
// b·k·H; gate block q of it at b·k·H + q·H. Per row: masked rows carry the state, others compute.
// ---------------------------------------------------------------------------------------------------

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

type StepKernel<S> = (s: S) => void;

interface CellKernels {
  forward0: StepKernel<CellForwardStep> | null;
  forward1: StepKernel<CellForwardStep>;
  backward1: StepKernel<CellBackwardStep>;
  backward0: StepKernel<CellBackwardStep> | null;
}

const isMasked = (mask: Float32Array | null, b: number): boolean => mask !== null && mask[b] === 0;

/** Forward on a masked row: h = hPrev (and c = cPrev). */
function carryState(s: CellForwardStep, o: number): void {
  for (let j = 0; j < s.H; j++) s.h[o + j] = s.hPrev[o + j];
  if (s.c !== null && s.cPrev !== null) for (let j = 0; j < s.H; j++) s.c[o + j] = s.cPrev[o + j];
}

/** Backward on a masked row: dhPrev += dh, dcPrev = dc, and gate blocks [q0, q1) of dxg/dhg are 0. */
function carryGrad(s: CellBackwardStep, b: number, G: number, q0: number, q1: number, stage1: boolean): void {
  const { H } = s;
  const o = b * H;
  if (stage1) {
    for (let j = 0; j < H; j++) s.dhPrev[o + j] += s.dh[o + j];
    if (s.dc !== null && s.dcPrev !== null) for (let j = 0; j < H; j++) s.dcPrev[o + j] = s.dc[o + j];
  }
  s.dxg.fill(0, b * G * H + q0 * H, b * G * H + q1 * H);
  s.dhg.fill(0, b * G * H + q0 * H, b * G * H + q1 * H);
}

function rnnKernels(relu: boolean): CellKernels {
  return {
    forward0: null,
    forward1(s) {
      const { B, H, xg, hg, mask, cache, h } = s;
      for (let b = 0; b < B; b++) {
        const o = b * H;
        if (isMasked(mask, b)) {
          carryState(s, o);
          continue;
        }
        for (let j = 0; j < H; j++) {
          const a = xg[o + j] + hg[o + j];
          const y = relu ? (a > 0 ? a : 0) : Math.tanh(a);
          cache[o + j] = y;
          h[o + j] = y;
        }
      }
    },
    backward1(s) {
      const { B, H, mask, cache, dh, dxg, dhg } = s;
      for (let b = 0; b < B; b++) {
        if (isMasked(mask, b)) {
          carryGrad(s, b, 1, 0, 1, true);
          continue;
        }
        const o = b * H;
        for (let j = 0; j < H; j++) {
          const y = cache[o + j];
          const da = dh[o + j] * (relu ? (y > 0 ? 1 : 0) : 1 - y * y); // dL/da
          dxg[o + j] = da;
          dhg[o + j] = da;
        }
      }
    },
    backward0: null,
  };
}

const lstmKernels: CellKernels = {
  forward0: null,
  forward1(s) {
    const { B, H, xg, hg, cPrev, mask, cache, h, c } = s;
    for (let b = 0; b < B; b++) {
      const o = b * H;
      if (isMasked(mask, b)) {
        carryState(s, o);
        continue;
      }
      const g = 4 * o;
      const k = 5 * o;
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(xg[g + j] + hg[g + j]);
        const fg = sigmoid(xg[g + H + j] + hg[g + H + j]);
        const gg = Math.tanh(xg[g + 2 * H + j] + hg[g + 2 * H + j]);
        const og = sigmoid(xg[g + 3 * H + j] + hg[g + 3 * H + j]);
        const ct = fg * cPrev![o + j] + ig * gg;
        const tc = Math.tanh(ct);
        cache[k + j] = ig;
        cache[k + H + j] = fg;
        cache[k + 2 * H + j] = gg;
        cache[k + 3 * H + j] = og;
        cache[k + 4 * H + j] = tc;
        c![o + j] = ct;
        h[o + j] = og * tc;
      }
    }
  },
  backward1(s) {
    const { B, H, cPrev, mask, cache, dh, dc, dxg, dhg, dcPrev } = s;
    for (let b = 0; b < B; b++) {
      if (isMasked(mask, b)) {
        carryGrad(s, b, 4, 0, 4, true);
        continue;
      }
      const o = b * H;
      const g = 4 * o;
      const k = 5 * o;
      for (let j = 0; j < H; j++) {
        const ig = cache[k + j];
        const fg = cache[k + H + j];
        const gg = cache[k + 2 * H + j];
        const og = cache[k + 3 * H + j];
        const tc = cache[k + 4 * H + j];
        const dht = dh[o + j];
        const dct = dc![o + j] + dht * og * (1 - tc * tc); // dL/dc_t: carried + through h = o ⊙ tanh(c)
        const di = dct * gg * ig * (1 - ig);
        const df = dct * cPrev![o + j] * fg * (1 - fg);
        const dg = dct * ig * (1 - gg * gg);
        const dO = dht * tc * og * (1 - og);
        dxg[g + j] = dhg[g + j] = di;
        dxg[g + H + j] = dhg[g + H + j] = df;
        dxg[g + 2 * H + j] = dhg[g + 2 * H + j] = dg;
        dxg[g + 3 * H + j] = dhg[g + 3 * H + j] = dO;
        dcPrev![o + j] = dct * fg;
      }
    }
  },
  backward0: null,
};

const gruKernels: CellKernels = {
  forward0: null,
  forward1(s) {
    const { B, H, xg, hg, hPrev, mask, cache, h } = s;
    for (let b = 0; b < B; b++) {
      const o = b * H;
      if (isMasked(mask, b)) {
        carryState(s, o);
        continue;
      }
      const g = 3 * o;
      const k = 4 * o;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(xg[g + j] + hg[g + j]);
        const z = sigmoid(xg[g + H + j] + hg[g + H + j]);
        const hn = hg[g + 2 * H + j];
        const n = Math.tanh(xg[g + 2 * H + j] + r * hn);
        cache[k + j] = r;
        cache[k + H + j] = z;
        cache[k + 2 * H + j] = n;
        cache[k + 3 * H + j] = hn;
        h[o + j] = (1 - z) * n + z * hPrev[o + j];
      }
    }
  },
  backward1(s) {
    const { B, H, hPrev, mask, cache, dh, dxg, dhg, dhPrev } = s;
    for (let b = 0; b < B; b++) {
      if (isMasked(mask, b)) {
        carryGrad(s, b, 3, 0, 3, true);
        continue;
      }
      const o = b * H;
      const g = 3 * o;
      const k = 4 * o;
      for (let j = 0; j < H; j++) {
        const r = cache[k + j];
        const z = cache[k + H + j];
        const n = cache[k + 2 * H + j];
        const hn = cache[k + 3 * H + j];
        const dht = dh[o + j];
        const dnPre = dht * (1 - z) * (1 - n * n); // dL/d(xg_n + r ⊙ hg_n)
        const dzPre = dht * (hPrev[o + j] - n) * z * (1 - z);
        const drPre = dnPre * hn * r * (1 - r);
        dxg[g + j] = dhg[g + j] = drPre;
        dxg[g + H + j] = dhg[g + H + j] = dzPre;
        dxg[g + 2 * H + j] = dnPre;
        dhg[g + 2 * H + j] = dnPre * r;
        dhPrev[o + j] += dht * z;
      }
    }
  },
  backward0: null,
};

/** Stage 0 of the two-stage cells: r = σ(xg_r + hg_r (+ x)), u = r ⊙ hPrev; r goes to cache block rq. */
function resetForward(rq: number, C: number, withX: boolean): StepKernel<CellForwardStep> {
  return (s) => {
    const { B, H, xg, hg, x, hPrev, mask, cache } = s;
    const u = s.u!;
    for (let b = 0; b < B; b++) {
      const o = b * H;
      if (isMasked(mask, b)) {
        u.fill(0, o, o + H);
        continue;
      }
      const g = 3 * o + rq * H;
      const k = C * o + rq * H;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(xg[g + j] + hg[g + j] + (withX ? x![o + j] : 0));
        cache[k + j] = r;
        u[o + j] = r * hPrev[o + j];
      }
    }
  };
}

/** Backward of stage 0: dr = du ⊙ hPrev, dhPrev += du ⊙ r, dL/dr_pre into block rq of dxg, dhg (and dx). */
function resetBackward(rq: number, C: number, withX: boolean): StepKernel<CellBackwardStep> {
  return (s) => {
    const { B, H, hPrev, mask, cache, dxg, dhg, dhPrev, dx } = s;
    const du = s.du!;
    for (let b = 0; b < B; b++) {
      if (isMasked(mask, b)) {
        carryGrad(s, b, 3, rq, rq + 1, false);
        continue;
      }
      const o = b * H;
      const g = 3 * o + rq * H;
      const k = C * o + rq * H;
      for (let j = 0; j < H; j++) {
        const r = cache[k + j];
        const drPre = du[o + j] * hPrev[o + j] * r * (1 - r);
        dxg[g + j] = dhg[g + j] = drPre;
        if (withX) dx![o + j] += drPre;
        dhPrev[o + j] += du[o + j] * r;
      }
    }
  };
}

const gruChoKernels: CellKernels = {
  forward0: resetForward(0, 3, false),
  forward1(s) {
    const { B, H, xg, hg, hPrev, mask, cache, h } = s;
    for (let b = 0; b < B; b++) {
      const o = b * H;
      if (isMasked(mask, b)) {
        carryState(s, o);
        continue;
      }
      const g = 3 * o;
      const k = 3 * o;
      for (let j = 0; j < H; j++) {
        const z = sigmoid(xg[g + H + j] + hg[g + H + j]);
        const n = Math.tanh(xg[g + 2 * H + j] + hg[g + 2 * H + j]);
        cache[k + H + j] = z;
        cache[k + 2 * H + j] = n;
        h[o + j] = (1 - z) * n + z * hPrev[o + j];
      }
    }
  },
  backward1(s) {
    const { B, H, hPrev, mask, cache, dh, dxg, dhg, dhPrev } = s;
    for (let b = 0; b < B; b++) {
      if (isMasked(mask, b)) {
        carryGrad(s, b, 3, 1, 3, true);
        continue;
      }
      const o = b * H;
      const g = 3 * o;
      const k = 3 * o;
      for (let j = 0; j < H; j++) {
        const z = cache[k + H + j];
        const n = cache[k + 2 * H + j];
        const dht = dh[o + j];
        const dzPre = dht * (hPrev[o + j] - n) * z * (1 - z);
        const dnPre = dht * (1 - z) * (1 - n * n);
        dxg[g + H + j] = dhg[g + H + j] = dzPre;
        dxg[g + 2 * H + j] = dhg[g + 2 * H + j] = dnPre;
        dhPrev[o + j] += dht * z;
      }
    }
  },
  backward0: resetBackward(0, 3, false),
};

/** MUT stage 1 (gates z=0, r=1, h=2): h = n ⊙ z + hPrev ⊙ (1 - z); mut1 has no hg_z and adds tanh(x) to n. */
function mutKernels(kind: 'mut1' | 'mut2' | 'mut3'): CellKernels {
  const mut1 = kind === 'mut1';
  const C = mut1 ? 4 : 3;
  return {
    forward0: resetForward(1, C, kind === 'mut2'),
    forward1(s) {
      const { B, H, xg, hg, x, hPrev, mask, cache, h } = s;
      for (let b = 0; b < B; b++) {
        const o = b * H;
        if (isMasked(mask, b)) {
          carryState(s, o);
          continue;
        }
        const g = 3 * o;
        const k = C * o;
        for (let j = 0; j < H; j++) {
          const z = sigmoid(xg[g + j] + (mut1 ? 0 : hg[g + j]));
          const tx = mut1 ? Math.tanh(x![o + j]) : 0;
          const n = Math.tanh(xg[g + 2 * H + j] + hg[g + 2 * H + j] + tx);
          cache[k + j] = z;
          cache[k + 2 * H + j] = n;
          if (mut1) cache[k + 3 * H + j] = tx;
          h[o + j] = n * z + hPrev[o + j] * (1 - z);
        }
      }
    },
    backward1(s) {
      const { B, H, hPrev, mask, cache, dh, dxg, dhg, dhPrev, dx } = s;
      for (let b = 0; b < B; b++) {
        if (isMasked(mask, b)) {
          carryGrad(s, b, 3, 0, 1, true);
          carryGrad(s, b, 3, 2, 3, false);
          continue;
        }
        const o = b * H;
        const g = 3 * o;
        const k = C * o;
        for (let j = 0; j < H; j++) {
          const z = cache[k + j];
          const n = cache[k + 2 * H + j];
          const dht = dh[o + j];
          const dzPre = dht * (n - hPrev[o + j]) * z * (1 - z);
          const dnPre = dht * z * (1 - n * n);
          dxg[g + j] = dzPre;
          dhg[g + j] = mut1 ? 0 : dzPre;
          dxg[g + 2 * H + j] = dhg[g + 2 * H + j] = dnPre;
          if (mut1) {
            const tx = cache[k + 3 * H + j];
            dx![o + j] += dnPre * (1 - tx * tx);
          }
          dhPrev[o + j] += dht * (1 - z);
        }
      }
    },
    backward0: resetBackward(1, C, kind === 'mut2'),
  };
}

const cellKernels: { readonly [K in CellKind]: CellKernels } = {
  rnn_tanh: rnnKernels(false),
  rnn_relu: rnnKernels(true),
  lstm: lstmKernels,
  gru: gruKernels,
  gru_cho: gruChoKernels,
  mut1: mutKernels('mut1'),
  mut2: mutKernels('mut2'),
  mut3: mutKernels('mut3'),
};

function stageKernel<S>(kind: CellKind, stage: CellStage, zero: StepKernel<S> | null, one: StepKernel<S>, what: string): StepKernel<S> {
  if (stage === 1) return one;
  if (zero === null) throw new Error(`${what}: cell ${kind} has no stage 0 (it is a one-stage cell)`);
  return zero;
}
