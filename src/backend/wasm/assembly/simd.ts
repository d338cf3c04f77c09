// SIMD helpers shared by the kernels: partial loads/stores for row tails, and float32 exp, sigmoid and
// tanh on f32x4 (Cephes' exp polynomial with range reduction; at most 2 ulp from float64 Math.exp,
// Math.tanh and the logistic function rounded to float32 down to where it goes subnormal).
// NOTE: a loop that calls ld/st with a variable lane count (min(4, n - i)) ran 3-4x slower than one over
// whole vectors, although the count is 4 in all but the last iteration; the kernels (elementwise.ts,
// cells.ts) therefore call them with a constant 4 over the whole vectors (the branches fold away) and
// once for the tail.
// Not here: any kernel.

/** Loads n (1..4) floats from p into the low lanes; the other lanes are 0. */
@inline export function ld(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the low n (1..4) lanes of v at p. */
@inline export function st(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** dst[0:n] += src[0:n]. */
@inline export function accRow(dst: usize, src: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) accAt(dst + <usize>j * 4, src + <usize>j * 4, 4);
  if (j < n) accAt(dst + <usize>j * 4, src + <usize>j * 4, n - j);
}
@inline function accAt(dst: usize, src: usize, w: i32): void {
  st(dst, f32x4.add(ld(dst, w), ld(src, w)), w);
}

@inline export function splat(x: f32): v128 {
  return f32x4.splat(x);
}
@inline export function add(a: v128, b: v128): v128 {
  return f32x4.add(a, b);
}
@inline export function sub(a: v128, b: v128): v128 {
  return f32x4.sub(a, b);
}
@inline export function mul(a: v128, b: v128): v128 {
  return f32x4.mul(a, b);
}

/** 1.5·2^23: x + SHIFTER rounds x to an integer held in the low mantissa bits (for |x| < 2^22). */
const SHIFTER: f32 = 12582912.0;
const SHIFTER_BITS: i32 = 0x4b400000;

/**
 * e^r - 1 for |r| <= ln2/2 as r + r²·P(r) (Cephes' expf polynomial), P by Estrin's scheme: half the
 * dependency chain of Horner's, which matters because the cells' activations are latency-bound (same max
 * and mean ulp error of exp against float64 as Horner's, checked over [-100, 88]).
 */
@inline function expm1Reduced(r: v128): v128 {
  const r2 = f32x4.mul(r, r);
  const p01 = f32x4.add(f32x4.mul(f32x4.splat(1.9875691500e-4), r), f32x4.splat(1.3981999507e-3));
  const p23 = f32x4.add(f32x4.mul(f32x4.splat(8.3334519073e-3), r), f32x4.splat(4.1665795894e-2));
  const p45 = f32x4.add(f32x4.mul(f32x4.splat(1.6666665459e-1), r), f32x4.splat(5.0000001201e-1));
  const q = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(p01, r2), p23), r2), p45);
  return f32x4.add(f32x4.mul(q, r2), r);
}

/** r = y - n·ln2 for the float n (ln2 split in two so that n·ln2 is exact). */
@inline function reduceLn2(y: v128, n: v128): v128 {
  const r = f32x4.sub(y, f32x4.mul(n, f32x4.splat(0.693359375)));
  return f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
}

/**
 * e^x per lane. NOTE: x = n·ln2 + r with |r| <= ln2/2, e^r = 1 + expm1Reduced(r), and 2^n applied as
 * two halves 2^(n>>1)·2^(n-(n>>1)) so that results in the subnormal range and overflow to +Inf come
 * out right without special cases. NaN stays NaN. Written for V8's code: the clamp is pmin/pmax (one
 * minps/maxps each, where f32x4.min/max cost ~8 instructions for NaN and ±0 rules the clamp does not
 * need; pmax(NaN, c) and pmin(NaN, c) return the NaN), and n = round(x·log2e) comes from adding
 * SHIFTER, which rounds to nearest-even into the low mantissa bits (|x·log2e| < 2^22 after the clamp):
 * the float n and its int32 bits without nearest and trunc_sat (~6 more instructions), same values.
 */
@inline export function expv(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-104.0)), f32x4.splat(89.0));
  const shifted = f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), f32x4.splat(SHIFTER));
  const fx = f32x4.sub(shifted, f32x4.splat(SHIFTER));
  const p = f32x4.add(expm1Reduced(reduceLn2(xc, fx)), f32x4.splat(1.0));
  const n = i32x4.sub(shifted, i32x4.splat(SHIFTER_BITS));
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** 1 / (1 + e^-x). */
@inline export function sigmoidv(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), expv(f32x4.neg(x))));
}

/**
 * tanh per lane: tanh(|x|) = -expm1(y) / (2 + expm1(y)) with y = -2·min(|x|, 10) (tanh(10) rounds to
 * 1), then x's sign. With y = n·ln2 + r as in expv, expm1(y) = 2^n·(e^r - 1) + (2^n - 1) where e^r - 1
 * is expm1Reduced(r), never formed as 1 + ... - 1: no cancellation near 0 (n = 0 for |x| < 0.17; beyond,
 * the two terms cancel by a factor of ~1.3 at most). One polynomial and one divide: the former form (an
 * odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1) above, both computed and one selected) took ~1.4×
 * as long in the rnn_tanh cell, for 1 ulp better worst case (now 2). 0 - e (not -e) keeps tanh(+0) = +0.
 */
@inline export function tanhv(x: v128): v128 {
  const y = f32x4.mul(f32x4.pmin(f32x4.abs(x), f32x4.splat(10.0)), f32x4.splat(-2.0));
  const shifted = f32x4.add(f32x4.mul(y, f32x4.splat(1.44269504088896341)), f32x4.splat(SHIFTER));
  const er1 = expm1Reduced(reduceLn2(y, f32x4.sub(shifted, f32x4.splat(SHIFTER))));
  // 2^n with n in [-29, 0]: one normal power of two.
  const s = i32x4.shl(i32x4.add(i32x4.sub(shifted, i32x4.splat(SHIFTER_BITS)), i32x4.splat(127)), 23);
  const em1 = f32x4.add(f32x4.mul(s, er1), f32x4.sub(s, f32x4.splat(1.0)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(0), em1), f32x4.add(em1, f32x4.splat(2.0)));
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

/** Horizontal sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  const t = f32x4.add(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1);
}
