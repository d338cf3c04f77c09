// The Transformer kernels on f32x4: fused scaled dot-product attention (the score and value products
// by the blocked gemm, the masks and the softmax in between, per (batch, head) problem), LayerNorm and
// GELU, forward and backward. Each is the reference kernel of the same name (../../reference-transformer.ts,
// contracts in ../../backend.ts) in float32. Strides are in floats, pointers byte offsets, 0 is null.
// Not here: bounds checks and the split across threads (wasm-backend.ts).

import { gemm } from './gemm';
import { accRow, add, expv, hsum, ld, mul, sigmoidv, splat, st, sub } from './simd';

// ---- attention ----

/** Scalar e^x by the vector routine (so that tails round exactly like the vector body). */
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/**
 * One row of scores at p (S floats) to probabilities: x += attnMask row am + key padding row kp (0:
 * none) over the keys [0, lim), the rest masked; then softmax over the entries that are not -∞.
 */
function softmaxRow(p: usize, S: i32, lim: i32, am: usize, kp: usize): void {
  const ninf = splat(-Infinity);
  let mv = ninf;
  let j = 0;
  for (; j + 4 <= lim; j += 4) {
    const o = <usize>j * 4;
    let x = v128.load(p + o);
    if (am != 0) x = add(x, v128.load(am + o));
    if (kp != 0) x = add(x, v128.load(kp + o));
    v128.store(p + o, x);
    mv = f32x4.max(mv, x);
  }
  let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; j < lim; j++) {
    const o = <usize>j * 4;
    let x = load<f32>(p + o);
    if (am != 0) x += load<f32>(am + o);
    if (kp != 0) x += load<f32>(kp + o);
    store<f32>(p + o, x);
    mx = max(mx, x);
  }
  if (lim < S) memory.fill(p + <usize>lim * 4, 0, <usize>(S - lim) * 4);
  if (mx == -Infinity) {
    memory.fill(p, 0, <usize>lim * 4); // every key masked: a row of zeros
    return;
  }
  const mxv = splat(mx);
  let sv = splat(0);
  for (j = 0; j + 4 <= lim; j += 4) {
    const o = <usize>j * 4;
    const x = v128.load(p + o);
    const e = v128.and(expv(sub(x, mxv)), f32x4.ne(x, ninf)); // exactly 0 where masked
    v128.store(p + o, e);
    sv = add(sv, e);
  }
  let sum = hsum(sv);
  for (; j < lim; j++) {
    const o = <usize>j * 4;
    const x = load<f32>(p + o);
    const e: f32 = x == -Infinity ? 0 : exp1(x - mx);
    store<f32>(p + o, e);
    sum += e;
  }
  const inv = splat(1 / sum);
  for (j = 0; j + 4 <= lim; j += 4) v128.store(p + <usize>j * 4, mul(v128.load(p + <usize>j * 4), inv));
  const invs: f32 = 1 / sum;
  for (; j < lim; j++) store<f32>(p + <usize>j * 4, load<f32>(p + <usize>j * 4) * invs);
}

/** out[i] = a[i] * b[i] over n floats (out may be a). */
function mulInto(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + <usize>i * 4, mul(v128.load(a + <usize>i * 4), v128.load(b + <usize>i * 4)));
  for (; i < n; i++) store<f32>(out + <usize>i * 4, load<f32>(a + <usize>i * 4) * load<f32>(b + <usize>i * 4));
}

/** Problems [n0, n1) of AttentionForward (backend.ts). */
export function attentionForward(
  n0: i32, n1: i32, heads: i32, L: i32, S: i32, D: i32, scale: f32,
  q: usize, qsb: i32, qst: i32, k: usize, ksb: i32, kst: i32, v: usize, vsb: i32, vst: i32,
  attnMask: usize, maskStride: i32, keyPadding: usize, causal: i32,
  probs: usize, dropMask: usize, dropped: usize, out: usize, osb: i32, ost: i32, scratch: usize,
): void {
  const LS = <usize>L * <usize>S;
  for (let n = n0; n < n1; n++) {
    const b = n / heads;
    const hD = (n % heads) * D;
    const qp = q + <usize>(b * qsb + hD) * 4;
    const kp = k + <usize>(b * ksb + hD) * 4;
    const vp = v + <usize>(b * vsb + hD) * 4;
    const P = probs + <usize>n * LS * 4;
    gemm(0, 1, L, S, D, scale, qp, qst, kp, kst, 0, P, S, scratch); // scores = scale·q kᵀ (L, S)
    for (let l = 0; l < L; l++) {
      const lim = causal != 0 ? min(S, l + S - L + 1) : S;
      const am = attnMask == 0 ? <usize>0 : attnMask + (<usize>n * <usize>maskStride + <usize>l * <usize>S) * 4;
      const kpr = keyPadding == 0 ? <usize>0 : keyPadding + <usize>b * <usize>S * 4;
      softmaxRow(P + <usize>l * <usize>S * 4, S, lim, am, kpr);
    }
    let Pd = P;
    if (dropMask != 0) {
      Pd = dropped + <usize>n * LS * 4;
      mulInto(Pd, P, dropMask + <usize>n * LS * 4, L * S);
    }
    gemm(0, 0, L, D, S, 1, Pd, S, vp, vst, 0, out + <usize>(b * osb + hD) * 4, ost, scratch); // out = Pd v (L, D)
  }
}

/** Problems [n0, n1) of AttentionBackward (backend.ts). */
export function attentionBackward(
  n0: i32, n1: i32, heads: i32, L: i32, S: i32, D: i32, scale: f32,
  q: usize, qsb: i32, qst: i32, k: usize, ksb: i32, kst: i32, v: usize, vsb: i32, vst: i32,
  probs: usize, dropMask: usize, dropped: usize, dOut: usize, osb: i32, ost: i32,
  dWeights: usize, dScores: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
): void {
  const LS = <usize>L * <usize>S;
  for (let n = n0; n < n1; n++) {
    const b = n / heads;
    const hD = (n % heads) * D;
    const qo = <usize>(b * qsb + hD) * 4;
    const ko = <usize>(b * ksb + hD) * 4;
    const vo = <usize>(b * vsb + hD) * 4;
    const go = dOut + <usize>(b * osb + hD) * 4;
    const P = probs + <usize>n * LS * 4;
    const Pd = dropMask != 0 ? dropped + <usize>n * LS * 4 : P;
    const dS = dScores + <usize>n * LS * 4;
    gemm(0, 1, L, S, D, 1, go, ost, v + vo, vst, 0, dS, S, scratch); // dPd = dOut vᵀ (L, S)
    if (dWeights != 0) accRow(dS, dWeights + <usize>n * LS * 4, L * S);
    if (dv != 0) gemm(1, 0, S, D, L, 1, Pd, S, go, ost, 1, dv + vo, vst, scratch); // dv += Pdᵀ dOut (S, D)
    if (dropMask != 0) mulInto(dS, dS, dropMask + <usize>n * LS * 4, L * S);
    for (let l = 0; l < L; l++) {
      const pr = P + <usize>l * <usize>S * 4;
      const dr = dS + <usize>l * <usize>S * 4;
      // dS = P ⊙ (dP - Σ_s P dP)
      let dv4 = splat(0);
      let j = 0;
      for (; j + 4 <= S; j += 4) dv4 = add(dv4, mul(v128.load(pr + <usize>j * 4), v128.load(dr + <usize>j * 4)));
      let dot = hsum(dv4);
      for (; j < S; j++) dot += load<f32>(pr + <usize>j * 4) * load<f32>(dr + <usize>j * 4);
      const dotv = splat(dot);
      for (j = 0; j + 4 <= S; j += 4) {
        const o = <usize>j * 4;
        v128.store(dr + o, mul(v128.load(pr + o), sub(v128.load(dr + o), dotv)));
      }
      for (; j < S; j++) store<f32>(dr + <usize>j * 4, load<f32>(pr + <usize>j * 4) * (load<f32>(dr + <usize>j * 4) - dot));
    }
    if (dq != 0) gemm(0, 0, L, D, S, scale, dS, S, k + ko, kst, 1, dq + qo, qst, scratch); // dq += scale·dS k (L, D)
    if (dk != 0) gemm(1, 0, S, D, L, scale, dS, S, q + qo, qst, 1, dk + ko, kst, scratch); // dk += scale·dSᵀ q (S, D)
  }
}

// ---- LayerNorm ----

/** Σ of n floats at p (f32x4 lanes, then the tail). */
@inline function rowSum(p: usize, n: i32): f32 {
  let s = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) s = add(s, v128.load(p + <usize>j * 4));
  let t = hsum(s);
  for (; j < n; j++) t += load<f32>(p + <usize>j * 4);
  return t;
}

export function layerNormForward(rows: i32, n: i32, x: usize, weight: usize, bias: usize, eps: f32, y: usize, mean: usize, rstd: usize): void {
  const n4 = <usize>n * 4;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * n4;
    const yr = y + <usize>r * n4;
    const mu = rowSum(xr, n) / <f32>n;
    const muv = splat(mu);
    let vv = splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const c = sub(v128.load(xr + <usize>j * 4), muv);
      vv = add(vv, mul(c, c));
    }
    let var_ = hsum(vv);
    for (; j < n; j++) {
      const c = load<f32>(xr + <usize>j * 4) - mu;
      var_ += c * c;
    }
    const rs: f32 = 1 / Mathf.sqrt(var_ / <f32>n + eps);
    store<f32>(mean + <usize>r * 4, mu);
    store<f32>(rstd + <usize>r * 4, rs);
    const rsv = splat(rs);
    for (j = 0; j + 4 <= n; j += 4) lnForwardAt(xr, yr, weight, bias, muv, rsv, <usize>j * 4, 4);
    if (j < n) lnForwardAt(xr, yr, weight, bias, muv, rsv, <usize>j * 4, n - j);
  }
}
@inline function lnForwardAt(xr: usize, yr: usize, weight: usize, bias: usize, muv: v128, rsv: v128, o: usize, w: i32): void {
  let t = mul(sub(ld(xr + o, w), muv), rsv);
  if (weight != 0) t = mul(t, ld(weight + o, w));
  if (bias != 0) t = add(t, ld(bias + o, w));
  st(yr + o, t, w);
}

export function layerNormBackward(
  rows: i32, n: i32, x: usize, weight: usize, mean: usize, rstd: usize, dy: usize, dx: usize, dWeight: usize, dBias: usize,
): void {
  const n4 = <usize>n * 4;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * n4;
    const gr = dy + <usize>r * n4;
    const muv = splat(load<f32>(mean + <usize>r * 4));
    const rs = load<f32>(rstd + <usize>r * 4);
    const rsv = splat(rs);
    let sg = splat(0);
    let sgx = splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      const xh = mul(sub(v128.load(xr + o), muv), rsv);
      const d = v128.load(gr + o);
      const g = weight != 0 ? mul(d, v128.load(weight + o)) : d;
      sg = add(sg, g);
      sgx = add(sgx, mul(g, xh));
      if (dWeight != 0) v128.store(dWeight + o, add(v128.load(dWeight + o), mul(d, xh)));
      if (dBias != 0) v128.store(dBias + o, add(v128.load(dBias + o), d));
    }
    let s1 = hsum(sg);
    let s2 = hsum(sgx);
    for (; j < n; j++) {
      const o = <usize>j * 4;
      const xh = (load<f32>(xr + o) - f32x4.extract_lane(muv, 0)) * rs;
      const d = load<f32>(gr + o);
      const g = weight != 0 ? d * load<f32>(weight + o) : d;
      s1 += g;
      s2 += g * xh;
      if (dWeight != 0) store<f32>(dWeight + o, load<f32>(dWeight + o) + d * xh);
      if (dBias != 0) store<f32>(dBias + o, load<f32>(dBias + o) + d);
    }
    if (dx == 0) continue;
    const m1 = splat(s1 / <f32>n);
    const m2 = splat(s2 / <f32>n);
    const dxr = dx + <usize>r * n4;
    for (j = 0; j + 4 <= n; j += 4) lnBackwardAt(xr, gr, dxr, weight, muv, rsv, m1, m2, <usize>j * 4, 4);
    if (j < n) lnBackwardAt(xr, gr, dxr, weight, muv, rsv, m1, m2, <usize>j * 4, n - j);
  }
}
@inline function lnBackwardAt(xr: usize, gr: usize, dxr: usize, weight: usize, muv: v128, rsv: v128, m1: v128, m2: v128, o: usize, w: i32): void {
  const xh = mul(sub(ld(xr + o, w), muv), rsv);
  const d = ld(gr + o, w);
  const g = weight != 0 ? mul(d, ld(weight + o, w)) : d;
  st(dxr + o, add(ld(dxr + o, w), mul(rsv, sub(sub(g, m1), mul(xh, m2)))), w);
}

// ---- GELU ----

const GELU_NONE = 0;

/**
 * erf per lane: x·P(x²)/Q(x²) on x clamped to [-4, 4] (beyond, erf rounds to ±1 in float32); the
 * rational approximation of Eigen's and XLA's float erf, within 4.2e-7 of erf over the whole line and
 * 2.1e-7 relative near 0.
 */
@inline function erfv(x0: v128): v128 {
  const x = f32x4.pmin(f32x4.pmax(x0, splat(-4)), splat(4));
  const x2 = mul(x, x);
  let p = splat(-2.72614225801306e-10);
  p = add(mul(p, x2), splat(2.77068142495902e-08));
  p = add(mul(p, x2), splat(-2.10102402082508e-06));
  p = add(mul(p, x2), splat(-5.69250639462346e-05));
  p = add(mul(p, x2), splat(-7.34990630326855e-04));
  p = add(mul(p, x2), splat(-2.95459980854025e-03));
  p = add(mul(p, x2), splat(-1.60960333262415e-02));
  let q = splat(-1.45660718464996e-05);
  q = add(mul(q, x2), splat(-2.13374055278905e-04));
  q = add(mul(q, x2), splat(-1.68282697438203e-03));
  q = add(mul(q, x2), splat(-7.37332916720468e-03));
  q = add(mul(q, x2), splat(-1.42647390514189e-02));
  return f32x4.div(mul(x, p), q);
}

const SQRT1_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const TANH_C: f32 = 0.044715;

/** tanh's argument √(2/π)(x + 0.044715x³) of the 'tanh' approximation. */
@inline function tanhArg(x: v128): v128 {
  return mul(splat(SQRT_2_OVER_PI), add(x, mul(splat(TANH_C), mul(x, mul(x, x)))));
}

export function gelu(approximate: i32, x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) geluAt(approximate, x, out, <usize>i * 4, 4);
  if (i < n) geluAt(approximate, x, out, <usize>i * 4, n - i);
}
@inline function geluAt(approximate: i32, x: usize, out: usize, o: usize, w: i32): void {
  const v = ld(x + o, w);
  if (approximate == GELU_NONE) {
    const half = mul(splat(0.5), v);
    st(out + o, add(half, mul(half, erfv(mul(v, splat(SQRT1_2))))), w);
  } else {
    // NOTE: ½(1 + tanh u) = σ(2u): the same, without 1 + tanh u cancelling where u is very negative.
    st(out + o, mul(v, sigmoidv(add(tanhArg(v), tanhArg(v)))), w);
  }
}

export function geluBackwardAcc(approximate: i32, x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) geluBackwardAt(approximate, x, dy, dx, <usize>i * 4, 4);
  if (i < n) geluBackwardAt(approximate, x, dy, dx, <usize>i * 4, n - i);
}
@inline function geluBackwardAt(approximate: i32, x: usize, dy: usize, dx: usize, o: usize, w: i32): void {
  const v = ld(x + o, w);
  let g: v128;
  if (approximate == GELU_NONE) {
    const half = splat(0.5);
    // Φ(x) + x·φ(x)
    const cdf = mul(half, add(splat(1), erfv(mul(v, splat(SQRT1_2)))));
    const pdf = mul(splat(INV_SQRT_2PI), expv(mul(splat(-0.5), mul(v, v))));
    g = add(cdf, mul(v, pdf));
  } else {
    // ½(1 + t) + ½x(1 - t²)·u' with t = tanh u, u' = √(2/π)(1 + 3·0.044715x²); as σ(2u) + 2x·σ(2u)σ(-2u)·u'
    // (½(1 + t) = σ(2u), ¼(1 - t²) = σ(2u)σ(-2u)), which never forms 1 - t² from a t near ±1.
    const u2 = add(tanhArg(v), tanhArg(v));
    const sp = sigmoidv(u2);
    const sn = sigmoidv(f32x4.neg(u2));
    const du = mul(splat(SQRT_2_OVER_PI), add(splat(1), mul(splat(3 * TANH_C), mul(v, v))));
    g = add(sp, mul(add(v, v), mul(mul(sp, sn), du)));
  }
  st(dx + o, add(ld(dx + o, w), mul(ld(dy + o, w), g)), w);
}
