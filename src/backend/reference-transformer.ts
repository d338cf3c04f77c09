// The reference kernels of the Transformer layers (backend.ts: attentionForward/Backward, layerNorm*,
// gelu*): plain loops in float64, the definition the wasm and native kernels are tested against. Part of
// referenceBackend (reference.ts). Not here: shapes, masks as the layers take them, autograd (nn/, autograd/).

import type { AttentionBackward, AttentionForward, AttentionProblem, Backend, GeluApproximate } from './backend.js';

/** The offset of row (b, t) of an operand. */
const row = (s: { batch: number; time: number }, b: number, t: number): number => b * s.batch + t * s.time;

/** Fills probs for problem n = (b, h) from the scores (softmax over the keys that are not -∞). */
function softmaxRows(p: AttentionProblem, n: number, probs: Float32Array): void {
  const { heads, L, S, D, scale, q, qs, k, ks, attnMask, maskStride, keyPadding, causal } = p;
  const b = Math.floor(n / heads);
  const h = n % heads;
  const scores = new Float64Array(S);
  for (let l = 0; l < L; l++) {
    const qo = row(qs, b, l) + h * D;
    const limit = causal ? Math.min(S, l + S - L + 1) : S; // keys [0, limit) are not causally masked
    let max = -Infinity;
    for (let s = 0; s < S; s++) {
      if (s >= limit) {
        scores[s] = -Infinity;
        continue;
      }
      const ko = row(ks, b, s) + h * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
      let x = scale * dot;
      if (attnMask !== null) x += attnMask[n * maskStride + l * S + s];
      if (keyPadding !== null) x += keyPadding[b * S + s];
      scores[s] = x;
      if (x > max) max = x;
    }
    const o = (n * L + l) * S;
    if (max === -Infinity) {
      probs.fill(0, o, o + S); // every key masked
      continue;
    }
    let sum = 0;
    for (let s = 0; s < S; s++) {
      const e = scores[s] === -Infinity ? 0 : Math.exp(scores[s] - max);
      scores[s] = e;
      sum += e;
    }
    for (let s = 0; s < S; s++) probs[o + s] = scores[s] / sum;
  }
}

function attentionForward(f: AttentionForward): void {
  const { B, heads, L, S, D, v, vs, probs, dropMask, dropped, out, os } = f;
  for (let n = 0; n < B * heads; n++) {
    softmaxRows(f, n, probs);
    const b = Math.floor(n / heads);
    const h = n % heads;
    const pd = dropMask !== null ? dropped! : probs;
    if (dropMask !== null) for (let i = n * L * S; i < (n + 1) * L * S; i++) pd[i] = probs[i] * dropMask[i];
    for (let l = 0; l < L; l++) {
      const oo = row(os, b, l) + h * D;
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s < S; s++) acc += pd[(n * L + l) * S + s] * v[row(vs, b, s) + h * D + d];
        out[oo + d] = acc;
      }
    }
  }
}

function attentionBackward(g: AttentionBackward): void {
  const { B, heads, L, S, D, scale, q, qs, k, ks, v, vs, probs, dropMask, dropped, dOut, os, dWeights, dScores, dq, dk, dv } = g;
  for (let n = 0; n < B * heads; n++) {
    const b = Math.floor(n / heads);
    const h = n % heads;
    const pd = dropMask !== null ? dropped! : probs;
    for (let l = 0; l < L; l++) {
      const r = (n * L + l) * S;
      const go = row(os, b, l) + h * D;
      // dPd = dOut vᵀ (+ dWeights), dP = dPd ⊙ dropMask
      for (let s = 0; s < S; s++) {
        const vo = row(vs, b, s) + h * D;
        let acc = dWeights !== null ? dWeights[r + s] : 0;
        for (let d = 0; d < D; d++) acc += dOut[go + d] * v[vo + d];
        dScores[r + s] = dropMask !== null ? acc * dropMask[r + s] : acc;
      }
      // dS = P ⊙ (dP - Σ_s P dP)
      let dot = 0;
      for (let s = 0; s < S; s++) dot += probs[r + s] * dScores[r + s];
      for (let s = 0; s < S; s++) dScores[r + s] = probs[r + s] * (dScores[r + s] - dot);
    }
    for (let l = 0; l < L; l++) {
      const r = (n * L + l) * S;
      const qo = row(qs, b, l) + h * D;
      const go = row(os, b, l) + h * D;
      for (let s = 0; s < S; s++) {
        const ko = row(ks, b, s) + h * D;
        const vo = row(vs, b, s) + h * D;
        const ds = scale * dScores[r + s];
        for (let d = 0; d < D; d++) {
          if (dq !== null) dq[qo + d] += ds * k[ko + d];
          if (dk !== null) dk[ko + d] += ds * q[qo + d];
          if (dv !== null) dv[vo + d] += pd[r + s] * dOut[go + d];
        }
      }
    }
  }
}

function layerNormForward(
  rows: number, n: number, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
  y: Float32Array, mean: Float32Array, rstd: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mu = 0;
    for (let j = 0; j < n; j++) mu += x[o + j];
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[o + j] - mu) * (x[o + j] - mu);
    const rs = 1 / Math.sqrt(v / n + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < n; j++) y[o + j] = (x[o + j] - mu) * rs * (weight === null ? 1 : weight[j]) + (bias === null ? 0 : bias[j]);
  }
}

function layerNormBackward(
  rows: number, n: number, x: Float32Array, weight: Float32Array | null, mean: Float32Array, rstd: Float32Array,
  dy: Float32Array, dx: Float32Array | null, dWeight: Float32Array | null, dBias: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const mu = mean[r];
    const rs = rstd[r];
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < n; j++) {
      const xh = (x[o + j] - mu) * rs;
      const g = dy[o + j] * (weight === null ? 1 : weight[j]);
      sg += g;
      sgx += g * xh;
      if (dWeight !== null) dWeight[j] += dy[o + j] * xh;
      if (dBias !== null) dBias[j] += dy[o + j];
    }
    if (dx === null) continue;
    sg /= n;
    sgx /= n;
    for (let j = 0; j < n; j++) {
      const xh = (x[o + j] - mu) * rs;
      dx[o + j] += rs * (dy[o + j] * (weight === null ? 1 : weight[j]) - sg - xh * sgx);
    }
  }
}

/**
 * erf in float64 to ~1e-15: for |x| < 3 the series 2/√π·e^(-x²)·Σ 2ⁿx^(2n+1)/(1·3···(2n+1)) (positive
 * terms, no cancellation); beyond, 1 - erfc(|x|) with erfc's continued fraction.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return NaN;
  if (a >= 3) return Math.sign(x) * (1 - erfcLarge(a));
  let term = a;
  let sum = a;
  for (let n = 0; n < 200 && term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 3);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** erfc(z) for z >= 3: e^(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated bottom-up. */
function erfcLarge(z: number): number {
  let f = z;
  for (let k = 60; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** Φ(x), the standard normal CDF, accurate in relative terms in the left tail too. */
function normalCdf(x: number): number {
  const z = -x / Math.SQRT2;
  return z >= 3 ? 0.5 * erfcLarge(z) : 0.5 * (1 - erf(z));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

const geluFns: { readonly [K in GeluApproximate]: { f: (x: number) => number; df: (x: number) => number } } = {
  none: {
    f: (x) => x * normalCdf(x),
    df: (x) => normalCdf(x) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI),
  },
  tanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x))),
    df: (x) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x);
    },
  },
};

export const referenceTransformerKernels: Pick<
  Backend, 'attentionForward' | 'attentionBackward' | 'layerNormForward' | 'layerNormBackward' | 'gelu' | 'geluBackwardAcc'
> = {
  attentionForward,
  attentionBackward,
  layerNormForward,
  layerNormBackward,
  gelu(approximate, x, out) {
    const { f } = geluFns[approximate];
    for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  },
  geluBackwardAcc(approximate, x, dy, dx) {
    const { df } = geluFns[approximate];
    for (let i = 0; i < x.length; i++) dx[i] += dy[i] * df(x[i]);
  },
};
