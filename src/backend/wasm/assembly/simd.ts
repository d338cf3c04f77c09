// SIMD helpers shared by the kernels: partial loads/stores for row tails, and float32 exp, sigmoid and
// tanh on f32x4 (Cephes' polynomials with range reduction, ~1-2 ulp against Math.exp/Math.tanh).
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

/**
 * e^x per lane. NOTE: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two so n·ln2 is exact), a degree-7
 * polynomial for e^r, and 2^n applied as two halves 2^(n>>1)·2^(n-(n>>1)) so that results in the
 * subnormal range and overflow to +Inf come out right without special cases. NaN stays NaN.
 */
@inline export function expv(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-104.0)), f32x4.splat(89.0));
  const fx = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(xc, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1.0));
  const n = i32x4.trunc_sat_f32x4_s(fx);
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
 * tanh per lane. NOTE: below |x| = 0.625 an odd polynomial (Cephes tanhf), because 1 - 2/(e^2x + 1)
 * cancels catastrophically near 0; above it that formula, which saturates to ±1 (e^2x -> +Inf) cleanly.
 */
@inline export function tanhv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const s = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, s), x), x);
  const e = expv(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  // copy the sign of x onto big
  const signed = v128.or(v128.and(big, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** Horizontal sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  const t = f32x4.add(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1);
}
