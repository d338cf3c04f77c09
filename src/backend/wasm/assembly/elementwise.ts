// Elementwise kernels, reductions, softmax cross-entropy, clipping and the fused optimizer updates, on
// f32x4 with partial vectors for the tails. Each is the reference backend's kernel of the same name
// (src/backend/reference.ts), in float32 arithmetic except where the contract asks for float64 sums.

import { accRow, add, expv, hsum, ld, mul, sigmoidv, splat, st, sub, tanhv } from './simd';

// Op codes shared with wasm-backend.ts.
const TANH = 0, SIGMOID = 1, RELU = 2, EXP = 3, NEG = 4;
const ADD = 0, SUB = 1, MUL = 2;

// Each kernel is a function of one block of w (1..4) lanes at byte offset o, called with w = 4 over the
// whole vectors and once more for the tail (simd.ts says why).

export function unary(op: i32, x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) unaryAt(op, x, out, <usize>i * 4, 4);
  if (i < n) unaryAt(op, x, out, <usize>i * 4, n - i);
}
@inline function unaryAt(op: i32, x: usize, out: usize, o: usize, w: i32): void {
  const v = ld(x + o, w);
  let y: v128;
  if (op == TANH) y = tanhv(v);
  else if (op == SIGMOID) y = sigmoidv(v);
  else if (op == RELU) y = v128.and(v, f32x4.gt(v, splat(0))); // exactly x > 0 ? x : 0 (NaN -> 0)
  else if (op == EXP) y = expv(v);
  else y = f32x4.neg(v);
  st(out + o, y, w);
}

export function unaryBackwardAcc(op: i32, y: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) unaryBackwardAt(op, y, dy, dx, <usize>i * 4, 4);
  if (i < n) unaryBackwardAt(op, y, dy, dx, <usize>i * 4, n - i);
}
@inline function unaryBackwardAt(op: i32, y: usize, dy: usize, dx: usize, o: usize, w: i32): void {
  const one = splat(1);
  const yv = ld(y + o, w);
  let g: v128;
  if (op == TANH) g = sub(one, mul(yv, yv));
  else if (op == SIGMOID) g = mul(yv, sub(one, yv));
  else if (op == RELU) g = v128.and(one, f32x4.gt(yv, splat(0)));
  else if (op == EXP) g = yv;
  else g = splat(-1);
  st(dx + o, add(ld(dx + o, w), mul(ld(dy + o, w), g)), w);
}

/** out[i] = a[i] op b[i % m]. */
export function binary(op: i32, a: usize, b: usize, out: usize, n: i32, m: i32): void {
  for (let r = 0; r < n; r += m) {
    const len = min(m, n - r);
    const ar = a + <usize>r * 4;
    const orow = out + <usize>r * 4;
    let i = 0;
    for (; i + 4 <= len; i += 4) binaryAt(op, ar, b, orow, <usize>i * 4, 4);
    if (i < len) binaryAt(op, ar, b, orow, <usize>i * 4, len - i);
  }
}
@inline function binaryAt(op: i32, a: usize, b: usize, out: usize, o: usize, w: i32): void {
  const av = ld(a + o, w);
  const bv = ld(b + o, w);
  st(out + o, op == ADD ? add(av, bv) : op == SUB ? sub(av, bv) : mul(av, bv), w);
}

export function axpy(alpha: f32, x: usize, out: usize, n: i32): void {
  const av = splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) axpyAt(av, x, out, <usize>i * 4, 4);
  if (i < n) axpyAt(av, x, out, <usize>i * 4, n - i);
}
@inline function axpyAt(av: v128, x: usize, out: usize, o: usize, w: i32): void {
  st(out + o, add(ld(out + o, w), mul(av, ld(x + o, w))), w);
}

/** out[r·ldo + j] = x[r·ldx + j] (or += with accumulate) for `rows` rows of `cols`. */
export function copyRows(rows: i32, cols: i32, x: usize, ldx: i32, out: usize, ldo: i32, accumulate: i32): void {
  const bytes = <usize>cols * 4;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * <usize>ldx * 4;
    const orow = out + <usize>r * <usize>ldo * 4;
    if (accumulate != 0) accRow(orow, xr, cols);
    else memory.copy(orow, xr, bytes);
  }
}

/** out[j] += Σ_r x[r·n + j] over `rows` rows. */
export function sumRowsAcc(x: usize, rows: i32, n: i32, out: usize): void {
  // Row by row into out (n floats stay in L1): x is streamed once, in storage order. A column-block
  // order (all rows of 4 columns, then the next 4) strides through x and missed the cache on every row.
  let p = x;
  for (let r = 0; r < rows; r++) {
    accRow(out, p, n);
    p += <usize>n * 4;
  }
}

/** out[ids[r]·n : +n] += x[r·n : +n] for r in [0, rows), in row order; ids: `rows` int32 (checked by the caller). */
export function indexAddRows(x: usize, ids: usize, rows: i32, n: i32, out: usize): void {
  const n4 = <usize>n * 4;
  for (let r = 0; r < rows; r++) accRow(out + <usize>load<i32>(ids + <usize>r * 4) * n4, x + <usize>r * n4, n);
}

/** out[r·n : +n] = table[ids[r]·n : +n] for r in [0, rows); ids: `rows` int32 (checked by the caller). */
export function gatherRows(table: usize, ids: usize, rows: i32, n: i32, out: usize): void {
  const n4 = <usize>n * 4;
  for (let r = 0; r < rows; r++) memory.copy(out + <usize>r * n4, table + <usize>load<i32>(ids + <usize>r * 4) * n4, n4);
}

let ceCount: i32 = 0;
let ceBadRow: i32 = -1;
export function crossEntropyCount(): i32 {
  return ceCount;
}
/** The row whose target was out of range in the last call, or -1. */
export function crossEntropyBadRow(): i32 {
  return ceBadRow;
}

/**
 * Softmax cross-entropy over `rows` rows of V logits, with label smoothing `smoothing` (backend.ts has
 * the formulas); returns the summed loss in float64 (counted rows in crossEntropyCount()). NOTE:
 * log-sum-exp with the row max subtracted; the log and the per-row terms are float64, the exponentials
 * and the smoothing's row sum float32.
 */
export function softmaxCrossEntropy(
  logits: usize, targets: usize, rows: i32, V: i32, ignoreIndex: i32, smoothing: f32, scale: f32, dLogits: usize,
): f64 {
  let lossSum: f64 = 0;
  ceCount = 0;
  ceBadRow = -1;
  const V4 = <usize>V * 4;
  for (let r = 0; r < rows; r++) {
    const row = logits + <usize>r * V4;
    const t = load<i32>(targets + <usize>r * 4);
    if (t == ignoreIndex) {
      if (dLogits != 0) memory.fill(dLogits + <usize>r * V4, 0, V4);
      continue;
    }
    if (t < 0 || t >= V) {
      ceBadRow = r;
      return lossSum;
    }
    let mv = splat(-Infinity);
    let j = 0;
    for (; j + 4 <= V; j += 4) mv = f32x4.max(mv, v128.load(row + <usize>j * 4));
    if (j < V) mv = f32x4.max(mv, v128.bitselect(ld(row + <usize>j * 4, V - j), splat(-Infinity), tailMask(V - j)));
    const mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    const mxv = splat(mx);
    let sv = splat(0);
    for (j = 0; j + 4 <= V; j += 4) sv = add(sv, expv(sub(v128.load(row + <usize>j * 4), mxv)));
    if (j < V) sv = add(sv, v128.and(expv(sub(ld(row + <usize>j * 4, V - j), mxv)), tailMask(V - j)));
    const sum = hsum(sv);
    const xt = load<f32>(row + <usize>t * 4);
    lossSum += Math.log(<f64>sum) + <f64>mx - <f64>xt;
    if (smoothing > 0) {
      let xv = splat(0);
      for (j = 0; j + 4 <= V; j += 4) xv = add(xv, v128.load(row + <usize>j * 4));
      if (j < V) xv = add(xv, v128.and(ld(row + <usize>j * 4, V - j), tailMask(V - j)));
      lossSum += <f64>smoothing * (<f64>xt - <f64>hsum(xv) / <f64>V);
    }
    ceCount++;
    if (dLogits != 0) {
      const drow = dLogits + <usize>r * V4;
      const k = splat(scale / sum);
      const u = splat(smoothing / <f32>V * scale); // 0 without smoothing: p - 0 is p, bit for bit
      for (j = 0; j + 4 <= V; j += 4) softmaxGradAt(row, drow, mxv, k, u, <usize>j * 4, 4);
      if (j < V) softmaxGradAt(row, drow, mxv, k, u, <usize>j * 4, V - j);
      store<f32>(drow + <usize>t * 4, load<f32>(drow + <usize>t * 4) - (1 - smoothing) * scale);
    }
  }
  return lossSum;
}

/** dLogits = e^(x - max)·k - u on one block (k = scale / Σe, u = ε/V·scale). */
@inline function softmaxGradAt(row: usize, drow: usize, mxv: v128, k: v128, u: v128, o: usize, w: i32): void {
  st(drow + o, sub(mul(expv(sub(ld(row + o, w), mxv)), k), u), w);
}

/** All-ones in the low w lanes (w = 1..3). */
@inline function tailMask(w: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(w));
}

/** Σ x², accumulated in float64. */
export function sumSquares(x: usize, n: i32): f64 {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + <usize>i * 4);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  let s = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1) + f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + <usize>i * 4);
    s += v * v;
  }
  return s;
}

/** max |x| (0 when empty, NaN if any NaN: f32x4.max propagates NaN). */
export function maxAbs(x: usize, n: i32): f32 {
  let m = splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(x + <usize>i * 4)));
  if (i < n) m = f32x4.max(m, f32x4.abs(ld(x + <usize>i * 4, n - i))); // the empty lanes load 0
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

export function scal(alpha: f32, x: usize, n: i32): void {
  const av = splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) scalAt(av, x + <usize>i * 4, 4);
  if (i < n) scalAt(av, x + <usize>i * 4, n - i);
}
@inline function scalAt(av: v128, p: usize, w: i32): void {
  st(p, mul(ld(p, w), av), w);
}

/** x = min(max(x, lo), hi), NaN kept: pmax(v, lo) is v < lo ? lo : v, pmin(v, hi) is hi < v ? hi : v. */
export function clamp(x: usize, n: i32, lo: f32, hi: f32): void {
  const lv = splat(lo), hv = splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) clampAt(lv, hv, x + <usize>i * 4, 4);
  if (i < n) clampAt(lv, hv, x + <usize>i * 4, n - i);
}
@inline function clampAt(lv: v128, hv: v128, p: usize, w: i32): void {
  st(p, f32x4.pmin(f32x4.pmax(ld(p, w), lv), hv), w);
}

/**
 * random/rng.ts's xoshiroDropoutMask: n draws of xoshiro128** from the 4 words at `state` (advanced in
 * place), out[i] = 0 where a draw's 24 high bits are below `threshold` (⌈p·2²⁴⌉), else keep. u32 arithmetic
 * wraps as Math.imul does, so the masks and the state after are the JS loop's, bit for bit.
 */
export function dropoutMask(state: usize, threshold: u32, keep: f32, out: usize, n: i32): void {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  for (let i = 0; i < n; i++) {
    const r = rotl<u32>(s1 * 5, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<u32>(s3, 11);
    store<f32>(out + (<usize>i << 2), r >>> 8 < threshold ? 0 : keep);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}

export function sgdUpdate(
  param: usize, grad: usize, buf: usize, n: i32, firstStep: i32,
  lr: f32, momentum: f32, oneMinusDampening: f32, weightDecay: f32, nesterov: i32,
): void {
  const lrv = splat(lr), mv = splat(momentum), dv = splat(oneMinusDampening), wdv = splat(weightDecay);
  let i = 0;
  for (; i + 4 <= n; i += 4) sgdAt(param, grad, buf, firstStep, lrv, mv, dv, wdv, nesterov, <usize>i * 4, 4);
  if (i < n) sgdAt(param, grad, buf, firstStep, lrv, mv, dv, wdv, nesterov, <usize>i * 4, n - i);
}
@inline function sgdAt(
  param: usize, grad: usize, buf: usize, firstStep: i32, lrv: v128, mv: v128, dv: v128, wdv: v128, nesterov: i32, o: usize, w: i32,
): void {
  const p = ld(param + o, w);
  let d = add(ld(grad + o, w), mul(wdv, p));
  if (buf != 0) {
    const b = firstStep ? d : add(mul(mv, ld(buf + o, w)), mul(dv, d));
    st(buf + o, b, w);
    d = nesterov ? add(d, mul(mv, b)) : b;
  }
  st(param + o, sub(p, mul(lrv, d)), w);
}

export function adagradUpdate(param: usize, grad: usize, sum: usize, n: i32, clr: f32, weightDecay: f32, eps: f32): void {
  const cv = splat(clr), wdv = splat(weightDecay), ev = splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) adagradAt(param, grad, sum, cv, wdv, ev, <usize>i * 4, 4);
  if (i < n) adagradAt(param, grad, sum, cv, wdv, ev, <usize>i * 4, n - i);
}
@inline function adagradAt(param: usize, grad: usize, sum: usize, cv: v128, wdv: v128, ev: v128, o: usize, w: i32): void {
  const p = ld(param + o, w);
  const d = add(ld(grad + o, w), mul(wdv, p));
  const s = add(ld(sum + o, w), mul(d, d));
  st(sum + o, s, w);
  st(param + o, sub(p, f32x4.div(mul(cv, d), add(f32x4.sqrt(s), ev))), w);
}

export function rmspropUpdate(
  param: usize, grad: usize, squareAvg: usize, gradAvg: usize, buf: usize, n: i32,
  lr: f32, alpha: f32, oneMinusAlpha: f32, eps: f32, weightDecay: f32, momentum: f32,
): void {
  const lrv = splat(lr), av = splat(alpha), omv = splat(oneMinusAlpha), ev = splat(eps), wdv = splat(weightDecay), mv = splat(momentum);
  let i = 0;
  for (; i + 4 <= n; i += 4) rmspropAt(param, grad, squareAvg, gradAvg, buf, lrv, av, omv, ev, wdv, mv, <usize>i * 4, 4);
  if (i < n) rmspropAt(param, grad, squareAvg, gradAvg, buf, lrv, av, omv, ev, wdv, mv, <usize>i * 4, n - i);
}
@inline function rmspropAt(
  param: usize, grad: usize, squareAvg: usize, gradAvg: usize, buf: usize,
  lrv: v128, av: v128, omv: v128, ev: v128, wdv: v128, mv: v128, o: usize, w: i32,
): void {
  const p = ld(param + o, w);
  const d = add(ld(grad + o, w), mul(wdv, p));
  const sq = add(mul(av, ld(squareAvg + o, w)), mul(mul(omv, d), d));
  st(squareAvg + o, sq, w);
  let avg: v128;
  if (gradAvg != 0) {
    const ga = add(mul(av, ld(gradAvg + o, w)), mul(omv, d));
    st(gradAvg + o, ga, w);
    avg = add(f32x4.sqrt(sub(sq, mul(ga, ga))), ev);
  } else avg = add(f32x4.sqrt(sq), ev);
  if (buf != 0) {
    const b = add(mul(mv, ld(buf + o, w)), f32x4.div(d, avg));
    st(buf + o, b, w);
    st(param + o, sub(p, mul(lrv, b)), w);
  } else st(param + o, sub(p, f32x4.div(mul(lrv, d), avg)), w);
}

export function adamUpdate(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize, n: i32,
  stepSize: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, eps: f32,
  biasCorrection2Sqrt: f32, weightDecay: f32, keep: f32,
): void {
  const sv = splat(stepSize), b1 = splat(beta1), ob1 = splat(oneMinusBeta1), b2 = splat(beta2), ob2 = splat(oneMinusBeta2);
  const ev = splat(eps), bc = splat(biasCorrection2Sqrt), wdv = splat(weightDecay), kv = splat(keep);
  let i = 0;
  for (; i + 4 <= n; i += 4) adamAt(param, grad, expAvg, expAvgSq, sv, b1, ob1, b2, ob2, ev, bc, wdv, kv, <usize>i * 4, 4);
  if (i < n) adamAt(param, grad, expAvg, expAvgSq, sv, b1, ob1, b2, ob2, ev, bc, wdv, kv, <usize>i * 4, n - i);
}
@inline function adamAt(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize,
  sv: v128, b1: v128, ob1: v128, b2: v128, ob2: v128, ev: v128, bc: v128, wdv: v128, kv: v128, o: usize, w: i32,
): void {
  const p = ld(param + o, w);
  const d = add(ld(grad + o, w), mul(wdv, p));
  const m = add(mul(b1, ld(expAvg + o, w)), mul(ob1, d));
  const v = add(mul(b2, ld(expAvgSq + o, w)), mul(mul(ob2, d), d));
  st(expAvg + o, m, w);
  st(expAvgSq + o, v, w);
  const denom = add(f32x4.div(f32x4.sqrt(v), bc), ev);
  st(param + o, sub(mul(p, kv), f32x4.div(mul(sv, m), denom)), w);
}
