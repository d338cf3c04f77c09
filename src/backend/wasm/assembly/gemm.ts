// C = alpha·op(A)·op(B) + beta·C on row-major float32, blocked the Goto/BLIS way: a KC×NC block of
// op(B) and an MC×KC block of alpha·op(A) are packed into the caller's scratch (panels of NR columns
// and MR rows, zero-padded), then a 4×8 micro-kernel of eight f32x4 accumulators sweeps the panels.
// Packing absorbs both transposes, the strides and alpha, so the micro-kernel is the only hot loop.
//
// `packB` + `gemmPacked` split the B packing out for a right operand used many times (a recurrent
// layer's W_hh at every time step, the weights of batch-1 generation): the whole op(B) is packed once,
// K in blocks of KC rows, each block a row of NR-column panels (layout at `packedBFloats`).

/**
 * c + a·b per lane. Built with relaxed SIMD (kernels-relaxed*.wasm) it is f32x4.relaxed_madd, one FMA
 * where the CPU has one (fused or not is the engine's choice, so results may differ from the plain
 * build in the last bits); otherwise a mul and an add. Measured on one Zen 3 core under V8 11.3: the
 * plain micro-kernel peaks near 35 GFLOP/s, bound by issuing its 16 mul/add + 6 loads per k (V8 folds
 * none of the loads into the multiplies and schedules all of an iteration's loads first, so 8
 * accumulators + 6 loaded vectors + 1 product fill its 15 xmm registers; 2×16, 3×12 with a spill, a
 * lane-shuffle or rotated-A broadcast, pre-broadcast A and pointer-bump loops all measured the same or
 * worse); the FMA micro-kernel, 8 FMAs + 6 loads per k, peaks near 50, the two FMA pipes' limit.
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

const MR = 4;
const NR = 8;
const KC = 256; // a B micro-panel (KC·NR·4 = 8 KiB) stays in L1
const MC = 128; // a packed A block (MC·KC·4 = 128 KiB) stays in L2
const NC = 1024; // a packed B block (KC·NC·4 = 1 MiB) streams from L2/L3

/** Bytes of scratch `gemm` needs: packed A block, packed B block, one edge tile. */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

/**
 * Floats of a packed K×N op(B): K·Np with Np = N rounded up to NR. The panel of columns [j0, j0+NR)
 * in the K block starting at row pc (kc = min(KC, K - pc) rows) starts at float pc·Np + j0·kc and
 * holds kc rows of NR floats (columns past N are 0).
 */
export function packedBFloats(K: i32, N: i32): i32 {
  return K * roundNR(N);
}

@inline function roundNR(N: i32): i32 {
  return (N + NR - 1) & ~(NR - 1);
}

/** Packs op(B) (K×N; B stored N×K when transB) into Bp (packedBFloats(K, N) floats). */
export function packB(transB: i32, K: i32, N: i32, B: usize, ldb: i32, Bp: usize): void {
  const Np = roundNR(N);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const dst = Bp + <usize>pc * Np * 4;
    if (transB) packBT(B, ldb, pc, 0, kc, N, dst);
    else packBN(B, ldb, pc, 0, kc, N, dst);
  }
}

export function gemm(
  transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32,
  A: usize, lda: i32, B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (beta != 1) scaleC(M, N, beta, C, ldc);
  if (alpha == 0 || K <= 0) return;
  const Ap = scratch;
  const Bp = scratch + <usize>(MC * KC * 4);
  const tile = Bp + <usize>(KC * NC * 4);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      if (transB) packBT(B, ldb, pc, jc, kc, nc, Bp);
      else packBN(B, ldb, pc, jc, kc, nc, Bp);
      macro(transA, M, nc, kc, pc, alpha, A, lda, Bp, C + <usize>jc * 4, ldc, Ap, tile);
    }
  }
}

/** gemm with op(B) already packed by packB (same K and N). */
export function gemmPacked(
  transA: i32, M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32, Bp: usize, beta: f32, C: usize, ldc: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (beta != 1) scaleC(M, N, beta, C, ldc);
  if (alpha == 0 || K <= 0) return;
  const Ap = scratch;
  const tile = scratch + <usize>((MC * KC + KC * NC) * 4);
  const Np = roundNR(N);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    macro(transA, M, N, kc, pc, alpha, A, lda, Bp + <usize>pc * Np * 4, C, ldc, Ap, tile);
  }
}

/** C[0:M, 0:nc] += alpha·op(A)[0:M, pc:pc+kc] · (the packed kc×nc block at Bp). */
function macro(
  transA: i32, M: i32, nc: i32, kc: i32, pc: i32, alpha: f32, A: usize, lda: i32, Bp: usize, C: usize, ldc: i32,
  Ap: usize, tile: usize,
): void {
  for (let ic = 0; ic < M; ic += MC) {
    const mc = min(MC, M - ic);
    if (transA) packAT(A, lda, ic, pc, mc, kc, alpha, Ap);
    else packAN(A, lda, ic, pc, mc, kc, alpha, Ap);
    if (mc == 1) {
      // A single row (batch-1 generation): a vector-matrix product, no wasted MR-row work.
      const c = C + <usize>ic * ldc * 4;
      for (let jr = 0; jr < nc; jr += NR) micro1(kc, Ap, Bp + <usize>(jr * kc * 4), c + <usize>jr * 4, min(NR, nc - jr), tile);
      continue;
    }
    for (let jr = 0; jr < nc; jr += NR) {
      const nr = min(NR, nc - jr);
      const bp = Bp + <usize>(jr * kc * 4);
      for (let ir = 0; ir < mc; ir += MR) {
        const mr = min(MR, mc - ir);
        const ap = Ap + <usize>(ir * kc * 4);
        const c = C + (<usize>(ic + ir) * ldc + jr) * 4;
        micro(kc, ap, bp, c, ldc, mr, nr, tile);
      }
    }
  }
}

/** 1×8: c[0:nr] += Σ_k ap[k·MR] · bp[k, 0:8], k unrolled by two into separate accumulators. */
@inline function micro1(kc: i32, ap: usize, bp: usize, c: usize, nr: i32, tile: usize): void {
  let e0 = f32x4.splat(0), e1 = f32x4.splat(0);
  let o0 = f32x4.splat(0), o1 = f32x4.splat(0);
  let k = 0;
  for (; k + 2 <= kc; k += 2) {
    const a0 = v128.load32_splat(ap);
    const a1 = v128.load32_splat(ap, MR * 4);
    e0 = madd(a0, v128.load(bp), e0);
    e1 = madd(a0, v128.load(bp, 16), e1);
    o0 = madd(a1, v128.load(bp, 32), o0);
    o1 = madd(a1, v128.load(bp, 48), o1);
    ap += MR * 8;
    bp += 64;
  }
  if (k < kc) {
    const a0 = v128.load32_splat(ap);
    e0 = madd(a0, v128.load(bp), e0);
    e1 = madd(a0, v128.load(bp, 16), e1);
  }
  e0 = f32x4.add(e0, o0);
  e1 = f32x4.add(e1, o1);
  if (nr == NR) {
    v128.store(c, f32x4.add(v128.load(c), e0));
    v128.store(c, f32x4.add(v128.load(c, 16), e1), 16);
    return;
  }
  v128.store(tile, e0);
  v128.store(tile, e1, 16);
  for (let j = 0; j < nr; j++) store<f32>(c + j * 4, load<f32>(c + j * 4) + load<f32>(tile + j * 4));
}

function scaleC(M: i32, N: i32, beta: f32, C: usize, ldc: i32): void {
  const bv = f32x4.splat(beta);
  for (let i = 0; i < M; i++) {
    const row = C + <usize>i * ldc * 4;
    // NOTE: beta == 0 overwrites (NaN or Inf in C must not survive as NaN·0).
    if (beta == 0) {
      memory.fill(row, 0, <usize>N * 4);
      continue;
    }
    let j = 0;
    for (; j + 4 <= N; j += 4) v128.store(row + j * 4, f32x4.mul(v128.load(row + j * 4), bv));
    for (; j < N; j++) store<f32>(row + j * 4, load<f32>(row + j * 4) * beta);
  }
}

/** The 4×8 kernel: acc = Σ_k ap[k,0:4]ᵀ bp[k,0:8]; C[0:mr, 0:nr] += acc. */
@inline function micro(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  const ld4 = <usize>ldc * 4;
  if (mr == MR && nr == NR) {
    let p = c;
    v128.store(p, f32x4.add(v128.load(p), c00));
    v128.store(p, f32x4.add(v128.load(p, 16), c01), 16);
    p += ld4;
    v128.store(p, f32x4.add(v128.load(p), c10));
    v128.store(p, f32x4.add(v128.load(p, 16), c11), 16);
    p += ld4;
    v128.store(p, f32x4.add(v128.load(p), c20));
    v128.store(p, f32x4.add(v128.load(p, 16), c21), 16);
    p += ld4;
    v128.store(p, f32x4.add(v128.load(p), c30));
    v128.store(p, f32x4.add(v128.load(p, 16), c31), 16);
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * ld4;
    for (let j = 0; j < nr; j++) store<f32>(row + j * 4, load<f32>(row + j * 4) + load<f32>(tile + (i * NR + j) * 4));
  }
}

/** 4×4 transpose of rows r0..r3, stored as 4 vectors `stride` bytes apart from p. */
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, p: usize, stride: usize): void {
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(p, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(p + stride, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(p + 2 * stride, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(p + 3 * stride, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/** op(B) = B (K×N stored): Bp[panel][k][0:8] = B[pc+k, jc+panel·8 : +8]. */
function packBN(B: usize, ldb: i32, pc: i32, jc: i32, kc: i32, nc: i32, Bp: usize): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = min(NR, nc - j0);
    let dst = Bp + <usize>(j0 * kc * 4);
    let src = B + (<usize>pc * ldb + jc + j0) * 4;
    const ld4 = <usize>ldb * 4;
    if (nr == NR) {
      for (let k = 0; k < kc; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
        src += ld4;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let j = 0; j < NR; j++) store<f32>(dst + j * 4, j < nr ? load<f32>(src + j * 4) : 0);
        dst += 32;
        src += ld4;
      }
    }
  }
}

/** op(B) = Bᵀ (B stored N×K): Bp[panel][k][j] = B[jc+panel·8+j, pc+k]. */
function packBT(B: usize, ldb: i32, pc: i32, jc: i32, kc: i32, nc: i32, Bp: usize): void {
  const ld4 = <usize>ldb * 4;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = min(NR, nc - j0);
    const dst = Bp + <usize>(j0 * kc * 4);
    const src = B + (<usize>(jc + j0) * ldb + pc) * 4;
    let k = 0;
    if (nr == NR) {
      for (; k + 4 <= kc; k += 4) {
        const s = src + <usize>k * 4;
        const d = dst + <usize>k * 32;
        transpose4(v128.load(s), v128.load(s + ld4), v128.load(s + 2 * ld4), v128.load(s + 3 * ld4), d, 32);
        const s4 = s + 4 * ld4;
        transpose4(v128.load(s4), v128.load(s4 + ld4), v128.load(s4 + 2 * ld4), v128.load(s4 + 3 * ld4), d + 16, 32);
      }
    }
    for (; k < kc; k++) {
      const d = dst + <usize>k * 32;
      for (let j = 0; j < NR; j++) store<f32>(d + j * 4, j < nr ? load<f32>(src + <usize>j * ld4 + k * 4) : 0);
    }
  }
}

/** op(A) = A (M×K stored): Ap[panel][k][i] = alpha·A[ic+panel·4+i, pc+k]. */
function packAN(A: usize, lda: i32, ic: i32, pc: i32, mc: i32, kc: i32, alpha: f32, Ap: usize): void {
  const ld4 = <usize>lda * 4;
  const av = f32x4.splat(alpha);
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const mr = min(MR, mc - i0);
    const dst = Ap + <usize>(i0 * kc * 4);
    const src = A + (<usize>(ic + i0) * lda + pc) * 4;
    let k = 0;
    if (mr == MR) {
      for (; k + 4 <= kc; k += 4) {
        const s = src + <usize>k * 4;
        transpose4(
          f32x4.mul(v128.load(s), av), f32x4.mul(v128.load(s + ld4), av),
          f32x4.mul(v128.load(s + 2 * ld4), av), f32x4.mul(v128.load(s + 3 * ld4), av),
          dst + <usize>k * 16, 16,
        );
      }
    }
    for (; k < kc; k++) {
      const d = dst + <usize>k * 16;
      for (let i = 0; i < MR; i++) store<f32>(d + i * 4, i < mr ? alpha * load<f32>(src + <usize>i * ld4 + k * 4) : 0);
    }
  }
}

/** op(A) = Aᵀ (A stored K×M): Ap[panel][k][i] = alpha·A[pc+k, ic+panel·4+i]. */
function packAT(A: usize, lda: i32, ic: i32, pc: i32, mc: i32, kc: i32, alpha: f32, Ap: usize): void {
  const ld4 = <usize>lda * 4;
  const av = f32x4.splat(alpha);
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const mr = min(MR, mc - i0);
    let dst = Ap + <usize>(i0 * kc * 4);
    let src = A + (<usize>pc * lda + ic + i0) * 4;
    if (mr == MR) {
      for (let k = 0; k < kc; k++) {
        v128.store(dst, f32x4.mul(v128.load(src), av));
        dst += 16;
        src += ld4;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let i = 0; i < MR; i++) store<f32>(dst + i * 4, i < mr ? alpha * load<f32>(src + i * 4) : 0);
        dst += 16;
        src += ld4;
      }
    }
  }
}
