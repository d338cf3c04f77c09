// How fast one core runs f32x4 multiply-adds with nothing else in the way: n independent chains of
// acc = acc·m + c (relaxed SIMD's relaxed_madd, an FMA on x64), no memory traffic. With enough chains
// this is the core's f32x4 peak (two FMA pipes × 4 lanes × 2 flops per cycle); with 8 — the number of
// accumulators in the library's 4×8 GEMM micro-kernel — it is that kernel's ceiling when the FMA latency
// (4 cycles on Zen 3) is what binds. bench/ours.ts reports both next to the GEMM figures.
// Built by `npm run bench` (asc, relaxed SIMD) into dist/bench/fma-chains.wasm; not part of the library.

/** 8 chains, k iterations: 64·k flops. Returns a lane so the work cannot be optimised away. */
export function chains8(k: i32, x: f32): f32 {
  const m = f32x4.splat(0.999999);
  const c = f32x4.splat(1e-7);
  let a0 = f32x4.splat(x), a1 = f32x4.splat(x + 1), a2 = f32x4.splat(x + 2), a3 = f32x4.splat(x + 3);
  let a4 = f32x4.splat(x + 4), a5 = f32x4.splat(x + 5), a6 = f32x4.splat(x + 6), a7 = f32x4.splat(x + 7);
  for (let i = 0; i < k; i++) {
    a0 = f32x4.relaxed_madd(a0, m, c);
    a1 = f32x4.relaxed_madd(a1, m, c);
    a2 = f32x4.relaxed_madd(a2, m, c);
    a3 = f32x4.relaxed_madd(a3, m, c);
    a4 = f32x4.relaxed_madd(a4, m, c);
    a5 = f32x4.relaxed_madd(a5, m, c);
    a6 = f32x4.relaxed_madd(a6, m, c);
    a7 = f32x4.relaxed_madd(a7, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0);
}

/** 12 chains (as many as x64's 16 vector registers hold beside m, c and V8's scratch), k iterations: 96·k flops. */
export function chains12(k: i32, x: f32): f32 {
  const m = f32x4.splat(0.999999);
  const c = f32x4.splat(1e-7);
  let a0 = f32x4.splat(x), a1 = f32x4.splat(x + 1), a2 = f32x4.splat(x + 2), a3 = f32x4.splat(x + 3);
  let a4 = f32x4.splat(x + 4), a5 = f32x4.splat(x + 5), a6 = f32x4.splat(x + 6), a7 = f32x4.splat(x + 7);
  let a8 = f32x4.splat(x + 8), a9 = f32x4.splat(x + 9), a10 = f32x4.splat(x + 10), a11 = f32x4.splat(x + 11);
  for (let i = 0; i < k; i++) {
    a0 = f32x4.relaxed_madd(a0, m, c);
    a1 = f32x4.relaxed_madd(a1, m, c);
    a2 = f32x4.relaxed_madd(a2, m, c);
    a3 = f32x4.relaxed_madd(a3, m, c);
    a4 = f32x4.relaxed_madd(a4, m, c);
    a5 = f32x4.relaxed_madd(a5, m, c);
    a6 = f32x4.relaxed_madd(a6, m, c);
    a7 = f32x4.relaxed_madd(a7, m, c);
    a8 = f32x4.relaxed_madd(a8, m, c);
    a9 = f32x4.relaxed_madd(a9, m, c);
    a10 = f32x4.relaxed_madd(a10, m, c);
    a11 = f32x4.relaxed_madd(a11, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11));
  return f32x4.extract_lane(f32x4.add(s, t), 0);
}
