// The native kernels (Node only, x86-64 with AVX2 and FMA): the wasm backend's heaviest kernels —
// gemm, gemmPacked, the time loops of the one-stage recurrent cells (rnn_tanh, rnn_relu, lstm, gru), and
// the Transformer's fused attention, LayerNorm and GELU, the image layers' im2col, col2im and max pooling — in C
// on 256-bit vectors, twice the width of wasm SIMD, and gemm (so attention's products too) and GELU on 512-bit
// vectors where the CPU has AVX-512F. They take the wasm exports' arguments (byte
// offsets into the shared tensor heap, 0 for null), read the same packed-B layout (assembly/gemm.ts),
// write the same cell caches (CELL_LAYOUTS in backend.ts) and compute the same float32 exp, sigmoid and
// tanh (assembly/simd.ts) at eight lanes (GELU's at sixteen too); assembly/ is the definition of each, and the
// tests hold these to it (the Transformer kernels to the reference backend within float32 rounding, GELU to the
// wasm build bit for bit). Built by node-gyp from binding.gyp; loaded by load-native.ts. Not here: choosing or splitting work.

#ifndef KERNELS_NO_NAPI /* scripts/bench-native-isa.c compiles the kernels alone */
#include <node_api.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_KERNELS 1
#include <immintrin.h>

// Kernels are compiled for AVX2 + FMA per function, so that loading the addon on an older CPU only
// reports them unavailable (cpuSupported) instead of faulting in code the compiler vectorised.
#define K __attribute__((target("avx2,fma")))
#define KI static inline __attribute__((always_inline, target("avx2,fma")))

typedef __m256 v8;

// ---- vectors: partial loads and stores for row tails, and the activations of assembly/simd.ts ----

static const int32_t TAIL[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
KI __m256i tailMask(int n) { return _mm256_loadu_si256((const __m256i *)(TAIL + 8 - n)); }
/** n (1..8) floats from p in the low lanes, 0 in the others. */
KI v8 ld(const float *p, int n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tailMask(n)); }
KI void st(float *p, v8 v, int n) {
  if (n >= 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, tailMask(n), v);
}
KI v8 splat(float x) { return _mm256_set1_ps(x); }
KI v8 add(v8 a, v8 b) { return _mm256_add_ps(a, b); }
KI v8 sub(v8 a, v8 b) { return _mm256_sub_ps(a, b); }
KI v8 mul(v8 a, v8 b) { return _mm256_mul_ps(a, b); }
KI void accRow(float *dst, const float *src, int n) {
  for (int j = 0; j < n; j += 8) {
    int w = n - j < 8 ? n - j : 8;
    st(dst + j, add(ld(dst + j, w), ld(src + j, w)), w);
  }
}

#define SHIFTER 12582912.0f
#define SHIFTER_BITS 0x4b400000

// NOTE: the same operations in the same order as assembly/simd.ts (the build turns off contraction into
// FMAs, -ffp-contract=off), so each activation matches the wasm one bit for bit. min/max take the
// constant first: _mm256_max_ps(c, x) is x when x is NaN, as wasm's pmax(x, c) is.
KI v8 expm1Reduced(v8 r) {
  v8 r2 = mul(r, r);
  v8 p01 = add(mul(splat(1.9875691500e-4f), r), splat(1.3981999507e-3f));
  v8 p23 = add(mul(splat(8.3334519073e-3f), r), splat(4.1665795894e-2f));
  v8 p45 = add(mul(splat(1.6666665459e-1f), r), splat(5.0000001201e-1f));
  v8 q = add(mul(add(mul(p01, r2), p23), r2), p45);
  return add(mul(q, r2), r);
}
KI v8 reduceLn2(v8 y, v8 n) {
  v8 r = sub(y, mul(n, splat(0.693359375f)));
  return sub(r, mul(n, splat(-2.12194440e-4f)));
}
KI v8 expv(v8 x) {
  v8 xc = _mm256_min_ps(splat(89.0f), _mm256_max_ps(splat(-104.0f), x));
  v8 shifted = add(mul(xc, splat(1.44269504088896341f)), splat(SHIFTER));
  v8 fx = sub(shifted, splat(SHIFTER));
  v8 p = add(expm1Reduced(reduceLn2(xc, fx)), splat(1.0f));
  __m256i n = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(SHIFTER_BITS));
  __m256i n1 = _mm256_srai_epi32(n, 1);
  __m256i n2 = _mm256_sub_epi32(n, n1);
  __m256i bias = _mm256_set1_epi32(127);
  v8 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  v8 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return mul(mul(p, s1), s2);
}
KI v8 neg(v8 x) { return _mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)0x80000000))); }
KI v8 sigmoidv(v8 x) { return _mm256_div_ps(splat(1.0f), add(splat(1.0f), expv(neg(x)))); }
KI v8 tanhv(v8 x) {
  v8 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  v8 y = mul(_mm256_min_ps(splat(10.0f), ax), splat(-2.0f));
  v8 shifted = add(mul(y, splat(1.44269504088896341f)), splat(SHIFTER));
  v8 er1 = expm1Reduced(reduceLn2(y, sub(shifted, splat(SHIFTER))));
  __m256i e = _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(SHIFTER_BITS)), _mm256_set1_epi32(127));
  v8 s = _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  v8 em1 = add(mul(s, er1), sub(s, splat(1.0f)));
  v8 t = _mm256_div_ps(sub(splat(0.0f), em1), add(em1, splat(2.0f)));
  return _mm256_or_ps(t, _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)0x80000000))));
}

// ---- GEMM: C = alpha·op(A)·op(B) + beta·C, blocked as in assembly/gemm.ts with a 6×16 micro-kernel ----

#define MR 6
#define NR 16
#define PW 8 /* columns per packed-B panel: assembly/gemm.ts's NR, the layout packB writes */
#define KC 256
#define MC 120 /* a multiple of MR; MC·KC fits the scratch's A block, which wasm sizes for 128·KC */
#define WASM_MC 128 /* assembly/gemm.ts's MC: a last row alone in its block of that many takes the one-row kernel there */
#define NC 1024
#define SCRATCH_A_FLOATS (128 * KC) /* where the wasm scratch layout puts the packed B block */

static int imin(int a, int b) { return a < b ? a : b; }

static void scaleC(int M, int N, float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++) {
    float *row = C + (size_t)i * ldc;
    // NOTE: beta == 0 overwrites (NaN or Inf in C must not survive as NaN·0).
    if (beta == 0) {
      memset(row, 0, (size_t)N * 4);
      continue;
    }
    for (int j = 0; j < N; j++) row[j] *= beta;
  }
}

/** op(B) = B (K×N stored) or Bᵀ (N×K stored) rows [pc, pc+kc), columns [jc, jc+nc) into pw-column panels. */
static inline void packB(int transB, const float *B, int ldb, int pc, int jc, int kc, int nc, int pw, float *Bp) {
  for (int j0 = 0; j0 < nc; j0 += pw) {
    int nr = imin(pw, nc - j0);
    float *dst = Bp + (size_t)j0 * kc;
    if (!transB) {
      const float *src = B + (size_t)pc * ldb + jc + j0;
      for (int k = 0; k < kc; k++)
        for (int j = 0; j < pw; j++) dst[k * pw + j] = j < nr ? src[(size_t)k * ldb + j] : 0.0f;
    } else {
      for (int j = 0; j < pw; j++) {
        const float *src = B + (size_t)(jc + j0 + j) * ldb + pc;
        for (int k = 0; k < kc; k++) dst[k * pw + j] = j < nr ? src[k] : 0.0f;
      }
    }
  }
}

/** alpha·op(A) rows [ic, ic+mc), columns [pc, pc+kc) into mrp-row panels: Ap[panel][k][i]. */
static inline void packA(int transA, const float *A, int lda, int ic, int pc, int mc, int kc, float alpha, int mrp, float *Ap) {
  for (int i0 = 0; i0 < mc; i0 += mrp) {
    int mr = imin(mrp, mc - i0);
    float *dst = Ap + (size_t)i0 * kc;
    if (!transA) {
      for (int i = 0; i < mrp; i++) {
        const float *src = A + (size_t)(ic + i0 + i) * lda + pc;
        for (int k = 0; k < kc; k++) dst[k * mrp + i] = i < mr ? alpha * src[k] : 0.0f;
      }
    } else {
      const float *src = A + (size_t)pc * lda + ic + i0;
      for (int k = 0; k < kc; k++)
        for (int i = 0; i < mrp; i++) dst[k * mrp + i] = i < mr ? alpha * src[(size_t)k * lda + i] : 0.0f;
    }
  }
}

/** C[0:mr, 0:nr] += the MR×NR tile at t (row stride NR). */
static void addTile(float *c, int ldc, const float *t, int mr, int nr) {
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] += t[i * NR + j];
}

/** The 6×16 kernel over two adjacent panels: acc = Σ_k ap[k,0:6]ᵀ bp[k,0:16]; C[0:mr, 0:nr] += acc. */
static K void micro16(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  const float *bq = bp + (size_t)PW * kc;
  v8 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  v8 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++) {
    v8 b0 = _mm256_loadu_ps(bp + k * PW), b1 = _mm256_loadu_ps(bq + k * PW);
    const float *a = ap + k * MR;
    v8 x = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  v8 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      float *p = c + (size_t)i * ldc;
      _mm256_storeu_ps(p, add(_mm256_loadu_ps(p), acc[i][0]));
      _mm256_storeu_ps(p + 8, add(_mm256_loadu_ps(p + 8), acc[i][1]));
    }
    return;
  }
  float t[MR * NR];
  for (int i = 0; i < MR; i++) {
    _mm256_storeu_ps(t + i * NR, acc[i][0]);
    _mm256_storeu_ps(t + i * NR + 8, acc[i][1]);
  }
  addTile(c, ldc, t, mr, nr);
}

/** The 6×8 kernel for a last panel of at most PW columns. */
static K void micro8(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  v8 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (int k = 0; k < kc; k++) {
    v8 b = _mm256_loadu_ps(bp + k * PW);
    const float *a = ap + k * MR;
    c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a), b, c0);
    c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b, c1);
    c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b, c2);
    c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b, c3);
    c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b, c4);
    c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b, c5);
  }
  v8 acc[MR] = {c0, c1, c2, c3, c4, c5};
  float t[MR * NR];
  for (int i = 0; i < MR; i++) _mm256_storeu_ps(t + i * NR, acc[i]);
  addTile(c, ldc, t, mr, nr);
}

/**
 * One row (batch-1 generation): c[0:nr] += Σ_k ap[k·MR]·bp[k, 0:nr] over one or two panels, k unrolled
 * by two into separate accumulators (a vector-matrix product is bound by the FMA's latency, not its rate).
 */
static K void micro1(int kc, const float *ap, const float *bp, float *c, int nr) {
  const float *bq = bp + (size_t)PW * kc;
  int two = nr > PW;
  v8 e0 = _mm256_setzero_ps(), e1 = e0, o0 = e0, o1 = e0;
  int k = 0;
  for (; k + 2 <= kc; k += 2) {
    v8 a0 = _mm256_broadcast_ss(ap + k * MR), a1 = _mm256_broadcast_ss(ap + (k + 1) * MR);
    e0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bp + k * PW), e0);
    o0 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(bp + (k + 1) * PW), o0);
    if (two) {
      e1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bq + k * PW), e1);
      o1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(bq + (k + 1) * PW), o1);
    }
  }
  if (k < kc) {
    v8 a0 = _mm256_broadcast_ss(ap + k * MR);
    e0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bp + k * PW), e0);
    if (two) e1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bq + k * PW), e1);
  }
  e0 = add(e0, o0);
  e1 = add(e1, o1);
  int n0 = imin(nr, PW);
  st(c, add(ld(c, n0), e0), n0);
  if (two) st(c + PW, add(ld(c + PW, nr - PW), e1), nr - PW);
}

/** C[0:M, 0:nc] += alpha·op(A)[0:M, pc:pc+kc] · (the packed kc×nc block at Bp). */
static K void macro(int transA, int M, int nc, int kc, int pc, float alpha, const float *A, int lda, const float *Bp, float *C, int ldc, float *Ap) {
  // NOTE: the one-row kernel adds its products in another order (even and odd k apart), so it takes exactly
  // the rows the wasm one takes: a last row alone in a block of WASM_MC, not one alone in a block of MC.
  int lone = M % WASM_MC == 1;
  if (lone) {
    packA(transA, A, lda, M - 1, pc, 1, kc, alpha, MR, Ap);
    for (int jr = 0; jr < nc; jr += NR) micro1(kc, Ap, Bp + (size_t)jr * kc, C + (size_t)(M - 1) * ldc + jr, imin(NR, nc - jr));
  }
  for (int ic = 0; ic < M - lone; ic += MC) {
    int mc = imin(MC, M - lone - ic);
    packA(transA, A, lda, ic, pc, mc, kc, alpha, MR, Ap);
    for (int jr = 0; jr < nc; jr += NR) {
      int nr = imin(NR, nc - jr);
      const float *bp = Bp + (size_t)jr * kc;
      for (int ir = 0; ir < mc; ir += MR) {
        float *c = C + (size_t)(ic + ir) * ldc + jr;
        if (nr > PW) micro16(kc, Ap + (size_t)ir * kc, bp, c, ldc, imin(MR, mc - ir), nr);
        else micro8(kc, Ap + (size_t)ir * kc, bp, c, ldc, imin(MR, mc - ir), nr);
      }
    }
  }
}

// ---- GEMM on 512-bit registers (AVX-512F CPUs, chosen at load: `isa` below): a 12×32 micro-kernel ----
// NOTE: the same K blocking (KC), the same A blocks (MC, so the same rows take the one-row kernel) and the
// same per-element order — acc = Σ_k fma(alpha·a, b, acc) from 0 over a K block, then C += acc — as the
// 256-bit kernels above, so its results equal theirs (and the wasm FMA build's) bit for bit. gemm packs its
// B block in 16-column panels; gemmPacked reads the wasm layout's 8-column ones, two to a vector.

#define K5 __attribute__((target("avx512f,avx2,fma")))
#define MR5 12
#define NR5 32
#define PW5 16 /* columns per panel of this kernel's own packed B block */

typedef __m512 v16;

/** The lanes of the first n (0..16) columns. */
static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/** C[0:mr, 0:nr] += the tile's rows (two 16-lane halves each), masked to nr columns. */
static K5 void addTile5(float *c, int ldc, const v16 (*acc)[2], int mr, int nr) {
  __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
  for (int i = 0; i < mr; i++) {
    float *p = c + (size_t)i * ldc;
    _mm512_mask_storeu_ps(p, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), acc[i][0]));
    if (m1) _mm512_mask_storeu_ps(p + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p + 16), acc[i][1]));
  }
}

#define KI5 static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/**
 * Row k of 16 columns of packed B: of a 16-column panel at lo (wide), or of two 8-column panels of the
 * wasm layout (gemmPacked's operand), lo and hi, joined.
 */
KI5 v16 rowB(const float *lo, const float *hi, int k, int wide) {
  if (wide) return _mm512_loadu_ps(lo + (size_t)k * PW5);
  __m512d v = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(lo + (size_t)k * PW)));
  return _mm512_castpd_ps(_mm512_insertf64x4(v, _mm256_castps_pd(_mm256_loadu_ps(hi + (size_t)k * PW)), 1));
}

#define ROW2(i, lo, hi) x = _mm512_set1_ps(a[i]), lo = _mm512_fmadd_ps(x, b0, lo), hi = _mm512_fmadd_ps(x, b1, hi)

/** The 12×32 kernel: 24 accumulators, 2 B vectors, 1 broadcast of 32 registers; B's columns 0-15 at p0 (and p1), 16-31 at p2 (and p3). */
KI5 void tile32(int kc, const float *ap, const float *p0, const float *p1, const float *p2, const float *p3, int wide, float *c, int ldc, int mr, int nr) {
  v16 z = _mm512_setzero_ps();
  v16 c0 = z, d0 = z, c1 = z, d1 = z, c2 = z, d2 = z, c3 = z, d3 = z, c4 = z, d4 = z, c5 = z, d5 = z;
  v16 c6 = z, d6 = z, c7 = z, d7 = z, c8 = z, d8 = z, c9 = z, d9 = z, c10 = z, d10 = z, c11 = z, d11 = z;
  for (int k = 0; k < kc; k++) {
    v16 b0 = rowB(p0, p1, k, wide), b1 = rowB(p2, p3, k, wide), x;
    const float *a = ap + k * MR5;
    ROW2(0, c0, d0); ROW2(1, c1, d1); ROW2(2, c2, d2); ROW2(3, c3, d3); ROW2(4, c4, d4); ROW2(5, c5, d5);
    ROW2(6, c6, d6); ROW2(7, c7, d7); ROW2(8, c8, d8); ROW2(9, c9, d9); ROW2(10, c10, d10); ROW2(11, c11, d11);
  }
  const v16 acc[MR5][2] = {{c0, d0}, {c1, d1}, {c2, d2}, {c3, d3}, {c4, d4}, {c5, d5},
                           {c6, d6}, {c7, d7}, {c8, d8}, {c9, d9}, {c10, d10}, {c11, d11}};
  if (mr == MR5 && nr == NR5) {
    for (int i = 0; i < MR5; i++) {
      float *p = c + (size_t)i * ldc;
      _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), acc[i][0]));
      _mm512_storeu_ps(p + 16, _mm512_add_ps(_mm512_loadu_ps(p + 16), acc[i][1]));
    }
    return;
  }
  addTile5(c, ldc, acc, mr, nr);
}

#define ROW1(i, lo) x = _mm512_set1_ps(a[i]), lo = _mm512_fmadd_ps(x, b0, lo)

/** The 12×16 kernel for a last block of at most 16 columns. */
KI5 void tile16(int kc, const float *ap, const float *p0, const float *p1, int wide, float *c, int ldc, int mr, int nr) {
  v16 z = _mm512_setzero_ps();
  v16 c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z, c8 = z, c9 = z, c10 = z, c11 = z;
  for (int k = 0; k < kc; k++) {
    v16 b0 = rowB(p0, p1, k, wide), x;
    const float *a = ap + k * MR5;
    ROW1(0, c0); ROW1(1, c1); ROW1(2, c2); ROW1(3, c3); ROW1(4, c4); ROW1(5, c5);
    ROW1(6, c6); ROW1(7, c7); ROW1(8, c8); ROW1(9, c9); ROW1(10, c10); ROW1(11, c11);
  }
  const v16 acc[MR5][2] = {{c0, z}, {c1, z}, {c2, z}, {c3, z}, {c4, z}, {c5, z}, {c6, z}, {c7, z}, {c8, z}, {c9, z}, {c10, z}, {c11, z}};
  addTile5(c, ldc, acc, mr, nr);
}

// On gemm's own 16-column panels, and on gemmPacked's 8-column ones. NOTE: a packed block has only its
// ⌈nr/8⌉ panels, so a missing last one is read from the one before: those lanes are never stored.
static K5 void micro32(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  tile32(kc, ap, bp, NULL, bp + (size_t)PW5 * kc, NULL, 1, c, ldc, mr, nr);
}
static K5 void micro16x(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  tile16(kc, ap, bp, NULL, 1, c, ldc, mr, nr);
}
static K5 void micro32p(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  const float *p2 = bp + (size_t)2 * PW * kc;
  tile32(kc, ap, bp, bp + (size_t)PW * kc, p2, nr > 3 * PW ? p2 + (size_t)PW * kc : p2, 0, c, ldc, mr, nr);
}
static K5 void micro16p(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  tile16(kc, ap, bp, nr > PW ? bp + (size_t)PW * kc : bp, 0, c, ldc, mr, nr);
}

/** One row, as micro1: per column, the even and the odd k in two accumulators, added at the end. */
static K5 void micro1x(int kc, const float *ap, const float *bp, float *c, int nr) {
  v16 e = _mm512_setzero_ps(), o = e;
  int k = 0;
  for (; k + 2 <= kc; k += 2) {
    e = _mm512_fmadd_ps(_mm512_set1_ps(ap[k * MR5]), _mm512_loadu_ps(bp + k * PW5), e);
    o = _mm512_fmadd_ps(_mm512_set1_ps(ap[(k + 1) * MR5]), _mm512_loadu_ps(bp + (k + 1) * PW5), o);
  }
  if (k < kc) e = _mm512_fmadd_ps(_mm512_set1_ps(ap[k * MR5]), _mm512_loadu_ps(bp + k * PW5), e);
  __mmask16 m = lanes(nr);
  _mm512_mask_storeu_ps(c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), _mm512_add_ps(e, o)));
}

/**
 * macro on this kernel: C[0:M, 0:nc] += alpha·op(A)[0:M, pc:pc+kc] · (the kc×nc block at Bp), packed in
 * 16-column panels (wide: gemm's own block) or in the wasm layout's 8-column ones (gemmPacked's operand).
 */
static K5 void macro5(int transA, int M, int nc, int kc, int pc, float alpha, const float *A, int lda, const float *Bp, int wide, float *C, int ldc, float *Ap) {
  int lone = M % WASM_MC == 1; // as in macro
  if (lone && wide) {
    packA(transA, A, lda, M - 1, pc, 1, kc, alpha, MR5, Ap);
    for (int jr = 0; jr < nc; jr += PW5) micro1x(kc, Ap, Bp + (size_t)jr * kc, C + (size_t)(M - 1) * ldc + jr, imin(PW5, nc - jr));
  } else if (lone) {
    packA(transA, A, lda, M - 1, pc, 1, kc, alpha, MR, Ap);
    for (int jr = 0; jr < nc; jr += NR) micro1(kc, Ap, Bp + (size_t)jr * kc, C + (size_t)(M - 1) * ldc + jr, imin(NR, nc - jr));
  }
  for (int ic = 0; ic < M - lone; ic += MC) {
    int mc = imin(MC, M - lone - ic);
    packA(transA, A, lda, ic, pc, mc, kc, alpha, MR5, Ap);
    for (int jr = 0; jr < nc; jr += NR5) {
      int nr = imin(NR5, nc - jr);
      const float *bp = Bp + (size_t)jr * kc;
      for (int ir = 0; ir < mc; ir += MR5) {
        float *c = C + (size_t)(ic + ir) * ldc + jr;
        int mr = imin(MR5, mc - ir);
        if (wide && nr > PW5) micro32(kc, Ap + (size_t)ir * kc, bp, c, ldc, mr, nr);
        else if (wide) micro16x(kc, Ap + (size_t)ir * kc, bp, c, ldc, mr, nr);
        else if (nr > PW5) micro32p(kc, Ap + (size_t)ir * kc, bp, c, ldc, mr, nr);
        else micro16p(kc, Ap + (size_t)ir * kc, bp, c, ldc, mr, nr);
      }
    }
  }
}

/** gemm's blocks (after scaleC) on this kernel; Bp is the scratch's B block, rounded up to a cache line. */
static K5 void gemm5(int transA, int transB, int M, int N, int Kd, float alpha, const float *A, int lda, const float *B, int ldb, float *C, int ldc, float *scratch) {
  float *Ap = scratch, *Bp = (float *)(((uintptr_t)(scratch + SCRATCH_A_FLOATS) + 63) & ~(uintptr_t)63);
  for (int jc = 0; jc < N; jc += NC) {
    int nc = imin(NC, N - jc);
    for (int pc = 0; pc < Kd; pc += KC) {
      int kc = imin(KC, Kd - pc);
      packB(transB, B, ldb, pc, jc, kc, nc, PW5, Bp);
      macro5(transA, M, nc, kc, pc, alpha, A, lda, Bp, 1, C + jc, ldc, Ap);
    }
  }
}

/** Which GEMM kernel runs: ISA_AVX512 where the CPU (and OS) has AVX-512F and RECURRENT_NO_AVX512 is unset, 0, or empty. */
enum { ISA_AVX2 = 0, ISA_AVX512 = 1 };
// NOTE: fewer rows stay on the 256-bit kernels (the same results): there the 12-row tiles waste most of their
// work (gemmPacked, below 8 rows: 0.8× the 256-bit speed at 2 to 6), or packing B in 16-column panels costs
// more than they save (gemm, below 24 rows: 0.74× at 1 row and 0.89× at 16 on NT 512×128, measured without it).
#define MIN_ROWS5 24
#define MIN_ROWS5_PACKED 8
static int isa = -1; /* chosen when the addon first loads in the process (the 256-bit path until then) */

static int chooseIsa(void) {
  const char *off = getenv("RECURRENT_NO_AVX512");
  int disabled = off != NULL && off[0] != '\0' && strcmp(off, "0") != 0;
  return __builtin_cpu_supports("avx512f") && !disabled ? ISA_AVX512 : ISA_AVX2;
}

static K void gemm(int transA, int transB, int M, int N, int Kd, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc, float *scratch) {
  if (M <= 0 || N <= 0) return;
  if (beta != 1) scaleC(M, N, beta, C, ldc);
  if (alpha == 0 || Kd <= 0) return;
  if (isa == ISA_AVX512 && M >= MIN_ROWS5) return gemm5(transA, transB, M, N, Kd, alpha, A, lda, B, ldb, C, ldc, scratch);
  float *Ap = scratch, *Bp = scratch + SCRATCH_A_FLOATS;
  for (int jc = 0; jc < N; jc += NC) {
    int nc = imin(NC, N - jc);
    for (int pc = 0; pc < Kd; pc += KC) {
      int kc = imin(KC, Kd - pc);
      packB(transB, B, ldb, pc, jc, kc, nc, PW, Bp);
      macro(transA, M, nc, kc, pc, alpha, A, lda, Bp, C + jc, ldc, Ap);
    }
  }
}

/** gemm with op(B) packed whole by the wasm packB: the K block at row pc starts at float pc·Np. */
static K void gemmPacked(int transA, int M, int N, int Kd, float alpha, const float *A, int lda, const float *Bp, float beta, float *C, int ldc, float *scratch) {
  if (M <= 0 || N <= 0) return;
  if (beta != 1) scaleC(M, N, beta, C, ldc);
  if (alpha == 0 || Kd <= 0) return;
  int Np = (N + PW - 1) & ~(PW - 1);
  for (int pc = 0; pc < Kd; pc += KC) {
    if (isa == ISA_AVX512 && M >= MIN_ROWS5_PACKED) macro5(transA, M, N, imin(KC, Kd - pc), pc, alpha, A, lda, Bp + (size_t)pc * Np, 0, C, ldc, scratch);
    else macro(transA, M, N, imin(KC, Kd - pc), pc, alpha, A, lda, Bp + (size_t)pc * Np, C, ldc, scratch);
  }
}

// ---- the one-stage cells, one step over B rows (assembly/cells.ts, stage 1) ----

enum { RNN_TANH = 0, RNN_RELU = 1, LSTM = 2, GRU = 3 };

static int masked(const float *mask, int b) { return mask != NULL && mask[b] == 0; }

static K void cellForward(int kind, int B, int H, const float *xg, const float *hg, const float *hPrev, const float *cPrev, const float *mask, float *cache, float *h, float *c) {
  v8 one = splat(1.0f);
  for (int b = 0; b < B; b++) {
    size_t o = (size_t)b * H;
    if (masked(mask, b)) {
      memcpy(h + o, hPrev + o, (size_t)H * 4);
      if (c != NULL) memcpy(c + o, cPrev + o, (size_t)H * 4);
      continue;
    }
    if (kind == RNN_TANH || kind == RNN_RELU) {
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 a = add(ld(xg + o + j, w), ld(hg + o + j, w));
        v8 y = kind == RNN_RELU ? _mm256_and_ps(a, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ)) : tanhv(a);
        st(cache + o + j, y, w);
        st(h + o + j, y, w);
      }
    } else if (kind == LSTM) {
      const float *xr = xg + 4 * o, *hr = hg + 4 * o;
      float *kr = cache + 5 * o;
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        st(kr + j, sigmoidv(add(ld(xr + j, w), ld(hr + j, w))), w);
        st(kr + H + j, sigmoidv(add(ld(xr + H + j, w), ld(hr + H + j, w))), w);
        st(kr + 2 * H + j, tanhv(add(ld(xr + 2 * H + j, w), ld(hr + 2 * H + j, w))), w);
        st(kr + 3 * H + j, sigmoidv(add(ld(xr + 3 * H + j, w), ld(hr + 3 * H + j, w))), w);
      }
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 ct = add(mul(ld(kr + H + j, w), ld(cPrev + o + j, w)), mul(ld(kr + j, w), ld(kr + 2 * H + j, w)));
        v8 tc = tanhv(ct);
        st(kr + 4 * H + j, tc, w);
        st(c + o + j, ct, w);
        st(h + o + j, mul(ld(kr + 3 * H + j, w), tc), w);
      }
    } else {
      const float *xr = xg + 3 * o, *hr = hg + 3 * o;
      float *kr = cache + 4 * o;
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        st(kr + j, sigmoidv(add(ld(xr + j, w), ld(hr + j, w))), w);
        st(kr + H + j, sigmoidv(add(ld(xr + H + j, w), ld(hr + H + j, w))), w);
      }
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 z = ld(kr + H + j, w);
        v8 hn = ld(hr + 2 * H + j, w);
        v8 n = tanhv(add(ld(xr + 2 * H + j, w), mul(ld(kr + j, w), hn)));
        st(kr + 2 * H + j, n, w);
        st(kr + 3 * H + j, hn, w);
        st(h + o + j, add(mul(sub(one, z), n), mul(z, ld(hPrev + o + j, w))), w);
      }
    }
  }
}

/** Backward on a masked row: dhPrev += dh, dcPrev = dc, and the row's G gate blocks of dxg and dhg are 0. */
static K void carryGrad(int b, int G, int H, const float *dh, const float *dc, float *dhPrev, float *dcPrev, float *dxg, float *dhg) {
  size_t o = (size_t)b * H;
  accRow(dhPrev + o, dh + o, H);
  if (dc != NULL && dcPrev != NULL) memcpy(dcPrev + o, dc + o, (size_t)H * 4);
  memset(dxg + (size_t)b * G * H, 0, (size_t)G * H * 4);
  memset(dhg + (size_t)b * G * H, 0, (size_t)G * H * 4);
}

static K void cellBackward(int kind, int B, int H, const float *hPrev, const float *cPrev, const float *mask, const float *cache, const float *dh, const float *dc, float *dxg, float *dhg, float *dhPrev, float *dcPrev) {
  v8 one = splat(1.0f);
  int G = kind == LSTM ? 4 : kind == GRU ? 3 : 1;
  for (int b = 0; b < B; b++) {
    size_t o = (size_t)b * H;
    if (masked(mask, b)) {
      carryGrad(b, G, H, dh, dc, dhPrev, dcPrev, dxg, dhg);
      continue;
    }
    if (kind == RNN_TANH || kind == RNN_RELU) {
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 y = ld(cache + o + j, w);
        v8 g = kind == RNN_RELU ? _mm256_and_ps(one, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ)) : sub(one, mul(y, y));
        v8 da = mul(ld(dh + o + j, w), g);
        st(dxg + o + j, da, w);
        st(dhg + o + j, da, w);
      }
    } else if (kind == LSTM) {
      const float *kr = cache + 5 * o;
      float *xr = dxg + 4 * o, *hr = dhg + 4 * o;
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 ig = ld(kr + j, w), fg = ld(kr + H + j, w), gg = ld(kr + 2 * H + j, w), og = ld(kr + 3 * H + j, w);
        v8 tc = ld(kr + 4 * H + j, w);
        v8 dht = ld(dh + o + j, w);
        // dL/dc_t: carried + through h = o ⊙ tanh(c)
        v8 dct = add(ld(dc + o + j, w), mul(mul(dht, og), sub(one, mul(tc, tc))));
        v8 di = mul(mul(dct, gg), mul(ig, sub(one, ig)));
        v8 df = mul(mul(dct, ld(cPrev + o + j, w)), mul(fg, sub(one, fg)));
        v8 dg = mul(mul(dct, ig), sub(one, mul(gg, gg)));
        v8 dO = mul(mul(dht, tc), mul(og, sub(one, og)));
        st(xr + j, di, w), st(hr + j, di, w);
        st(xr + H + j, df, w), st(hr + H + j, df, w);
        st(xr + 2 * H + j, dg, w), st(hr + 2 * H + j, dg, w);
        st(xr + 3 * H + j, dO, w), st(hr + 3 * H + j, dO, w);
        st(dcPrev + o + j, mul(dct, fg), w);
      }
    } else {
      const float *kr = cache + 4 * o;
      float *xr = dxg + 3 * o, *hr = dhg + 3 * o;
      for (int j = 0; j < H; j += 8) {
        int w = imin(8, H - j);
        v8 r = ld(kr + j, w), z = ld(kr + H + j, w), n = ld(kr + 2 * H + j, w), hn = ld(kr + 3 * H + j, w);
        v8 dht = ld(dh + o + j, w);
        v8 dnPre = mul(mul(dht, sub(one, z)), sub(one, mul(n, n))); // dL/d(xg_n + r ⊙ hg_n)
        v8 dzPre = mul(mul(dht, sub(ld(hPrev + o + j, w), n)), mul(z, sub(one, z)));
        v8 drPre = mul(mul(dnPre, hn), mul(r, sub(one, r)));
        st(xr + j, drPre, w), st(hr + j, drPre, w);
        st(xr + H + j, dzPre, w), st(hr + H + j, dzPre, w);
        st(xr + 2 * H + j, dnPre, w), st(hr + 2 * H + j, mul(dnPre, r), w);
        st(dhPrev + o + j, add(ld(dhPrev + o + j, w), mul(dht, z)), w);
      }
    }
  }
}

// ---- the time loops (assembly/recurrence.ts): same buffers, same order ----

static K void recurrentForward(int kind, int T, int B, int b0, int b1, int H, int G, int C, int reverse, int recording,
                               const float *xg, float *hg, const float *bhh, const float *whhP, float *hs, float *cs, float *gates,
                               const float *mask, float *y, int ldy, int yOff, float *scratch) {
  int rows = b1 - b0;
  if (rows <= 0) return;
  size_t GH = (size_t)G * H, BH = (size_t)B * H;
  float *hgRows = hg + (size_t)b0 * GH;
  for (int s = 0; s < T; s++) {
    int t = reverse ? T - 1 - s : s;
    int prev = recording ? s : s & 1, next = recording ? s + 1 : (s + 1) & 1, k = recording ? s : 0;
    const float *hPrev = hs + prev * BH + (size_t)b0 * H;
    float *h = hs + next * BH + (size_t)b0 * H;
    const float *cPrev = cs == NULL ? NULL : cs + prev * BH + (size_t)b0 * H;
    float *c = cs == NULL ? NULL : cs + next * BH + (size_t)b0 * H;
    const float *maskT = mask == NULL ? NULL : mask + (size_t)t * B + b0;
    // hg = b_hh + hPrev W_hhᵀ
    for (int b = 0; b < rows; b++) {
      if (bhh != NULL) memcpy(hgRows + b * GH, bhh, GH * 4);
      else memset(hgRows + b * GH, 0, GH * 4);
    }
    gemmPacked(0, rows, (int)GH, H, 1.0f, hPrev, H, whhP, 1.0f, hgRows, (int)GH, scratch);
    cellForward(kind, rows, H, xg + ((size_t)t * B + b0) * GH, hgRows, hPrev, cPrev, maskT, gates + ((size_t)k * B + b0) * C * H, h, c);
    // y[t, b, yOff : yOff+H] = h, or 0 past the sequence's length.
    for (int b = 0; b < rows; b++) {
      float *out = y + ((size_t)t * B + b0 + b) * ldy + yOff;
      if (maskT != NULL && maskT[b] == 0) memset(out, 0, (size_t)H * 4);
      else memcpy(out, h + (size_t)b * H, (size_t)H * 4);
    }
  }
}

static K void recurrentBackward(int kind, int T, int B, int b0, int b1, int H, int G, int C, int reverse,
                                const float *hs, const float *cs, const float *gates, const float *mask, const float *dy, int ldy, int yOff,
                                float *dh, float *dc, float *dxg, float *dhg, const float *whhP, float *scratch) {
  int rows = b1 - b0;
  if (rows <= 0) return;
  size_t GH = (size_t)G * H, BH = (size_t)B * H, rowOff = (size_t)b0 * H;
  int cur = 0;
  for (int s = T - 1; s >= 0; s--) {
    int t = reverse ? T - 1 - s : s;
    int prev = 1 - cur;
    float *dhCur = dh + cur * BH + rowOff, *dhPrev = dh + prev * BH + rowOff;
    memset(dhPrev, 0, (size_t)rows * H * 4);
    const float *maskT = mask == NULL ? NULL : mask + (size_t)t * B + b0;
    // dh += dL/dy_t on rows inside their sequence (outside, y is a constant 0).
    if (dy != NULL) {
      for (int b = 0; b < rows; b++) {
        if (maskT != NULL && maskT[b] == 0) continue;
        accRow(dhCur + (size_t)b * H, dy + ((size_t)t * B + b0 + b) * ldy + yOff, H);
      }
    }
    float *dhgS = dhg + ((size_t)s * B + b0) * GH;
    cellBackward(kind, rows, H, hs + s * BH + rowOff, cs == NULL ? NULL : cs + s * BH + rowOff, maskT, gates + ((size_t)s * B + b0) * C * H,
                 dhCur, dc == NULL ? NULL : dc + cur * BH + rowOff, dxg + ((size_t)t * B + b0) * GH, dhgS, dhPrev,
                 dc == NULL ? NULL : dc + prev * BH + rowOff);
    // dhPrev += dhg W_hh
    gemmPacked(0, rows, H, (int)GH, 1.0f, dhgS, (int)GH, whhP, 1.0f, dhPrev, H, scratch);
    cur = prev;
  }
}

// ---- the Transformer kernels (assembly/transformer.ts: same arguments, same steps) ----

KI float hsum8(v8 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}
KI float hmax8(v8 v) {
  __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_max_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_max_ss(a, _mm_movehdup_ps(a)));
}
KI v8 tailKeep(v8 x, int w, v8 fill) { return w >= 8 ? x : _mm256_blendv_ps(fill, x, _mm256_castsi256_ps(tailMask(w))); }

/** One row of scores to probabilities: masks added over the keys [0, lim), the rest masked; softmax over what is not -inf. */
static K void softmaxRow(float *p, int S, int lim, const float *am, const float *kp) {
  const v8 ninf = splat(-__builtin_inff());
  v8 mv = ninf;
  for (int j = 0; j < lim; j += 8) {
    int w = imin(8, lim - j);
    v8 x = ld(p + j, w);
    if (am != NULL) x = add(x, ld(am + j, w));
    if (kp != NULL) x = add(x, ld(kp + j, w));
    st(p + j, x, w);
    mv = _mm256_max_ps(mv, tailKeep(x, w, ninf));
  }
  float mx = hmax8(mv);
  if (lim < S) memset(p + lim, 0, (size_t)(S - lim) * 4);
  if (mx == -__builtin_inff()) {
    memset(p, 0, (size_t)lim * 4); // every key masked: a row of zeros
    return;
  }
  v8 mxv = splat(mx), sv = _mm256_setzero_ps();
  for (int j = 0; j < lim; j += 8) {
    int w = imin(8, lim - j);
    v8 x = ld(p + j, w);
    v8 e = _mm256_and_ps(expv(sub(x, mxv)), _mm256_cmp_ps(x, ninf, _CMP_NEQ_OQ)); // exactly 0 where masked
    e = tailKeep(e, w, _mm256_setzero_ps());
    st(p + j, e, w);
    sv = add(sv, e);
  }
  v8 inv = splat(1.0f / hsum8(sv));
  for (int j = 0; j < lim; j += 8) {
    int w = imin(8, lim - j);
    st(p + j, mul(ld(p + j, w), inv), w);
  }
}

static K void mulInto(float *out, const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    int w = n - i < 8 ? (int)(n - i) : 8;
    st(out + i, mul(ld(a + i, w), ld(b + i, w)), w);
  }
}

static K void attentionForward(int n0, int n1, int heads, int L, int S, int D, float scale,
                               const float *q, int qsb, int qst, const float *k, int ksb, int kst, const float *v, int vsb, int vst,
                               const float *attnMask, int maskStride, const float *keyPadding, int causal,
                               float *probs, const float *dropMask, float *dropped, float *out, int osb, int ost, float *scratch) {
  size_t LS = (size_t)L * S;
  for (int n = n0; n < n1; n++) {
    int b = n / heads, hD = (n % heads) * D;
    float *P = probs + (size_t)n * LS;
    gemm(0, 1, L, S, D, scale, q + (size_t)b * qsb + hD, qst, k + (size_t)b * ksb + hD, kst, 0, P, S, scratch); // scale·q kᵀ (L, S)
    for (int l = 0; l < L; l++) {
      int lim = causal ? imin(S, l + S - L + 1) : S;
      softmaxRow(P + (size_t)l * S, S, lim, attnMask == NULL ? NULL : attnMask + (size_t)n * maskStride + (size_t)l * S,
                 keyPadding == NULL ? NULL : keyPadding + (size_t)b * S);
    }
    const float *Pd = P;
    if (dropMask != NULL) {
      mulInto(dropped + (size_t)n * LS, P, dropMask + (size_t)n * LS, LS);
      Pd = dropped + (size_t)n * LS;
    }
    gemm(0, 0, L, D, S, 1, Pd, S, v + (size_t)b * vsb + hD, vst, 0, out + (size_t)b * osb + hD, ost, scratch); // Pd v (L, D)
  }
}

static K void attentionBackward(int n0, int n1, int heads, int L, int S, int D, float scale,
                                const float *q, int qsb, int qst, const float *k, int ksb, int kst, const float *v, int vsb, int vst,
                                const float *probs, const float *dropMask, const float *dropped, const float *dOut, int osb, int ost,
                                const float *dWeights, float *dScores, float *dq, float *dk, float *dv, float *scratch) {
  size_t LS = (size_t)L * S;
  for (int n = n0; n < n1; n++) {
    int b = n / heads, hD = (n % heads) * D;
    size_t qo = (size_t)b * qsb + hD, ko = (size_t)b * ksb + hD, vo = (size_t)b * vsb + hD;
    const float *go = dOut + (size_t)b * osb + hD;
    const float *P = probs + (size_t)n * LS;
    const float *Pd = dropMask != NULL ? dropped + (size_t)n * LS : P;
    float *dS = dScores + (size_t)n * LS;
    gemm(0, 1, L, S, D, 1, go, ost, v + vo, vst, 0, dS, S, scratch); // dPd = dOut vᵀ
    if (dWeights != NULL) accRow(dS, dWeights + (size_t)n * LS, (int)LS);
    if (dv != NULL) gemm(1, 0, S, D, L, 1, Pd, S, go, ost, 1, dv + vo, vst, scratch); // dv += Pdᵀ dOut
    if (dropMask != NULL) mulInto(dS, dS, dropMask + (size_t)n * LS, LS);
    for (int l = 0; l < L; l++) {
      const float *pr = P + (size_t)l * S;
      float *dr = dS + (size_t)l * S;
      v8 acc = _mm256_setzero_ps();
      for (int j = 0; j < S; j += 8) {
        int w = imin(8, S - j);
        acc = add(acc, mul(ld(pr + j, w), ld(dr + j, w)));
      }
      v8 dot = splat(hsum8(acc));
      for (int j = 0; j < S; j += 8) {
        int w = imin(8, S - j);
        st(dr + j, mul(ld(pr + j, w), sub(ld(dr + j, w), dot)), w); // dS = P ⊙ (dP - Σ P dP)
      }
    }
    if (dq != NULL) gemm(0, 0, L, D, S, scale, dS, S, k + ko, kst, 1, dq + qo, qst, scratch); // dq += scale·dS k
    if (dk != NULL) gemm(1, 0, S, D, L, scale, dS, S, q + qo, qst, 1, dk + ko, kst, scratch); // dk += scale·dSᵀ q
  }
}

static K void layerNormForward(int rows, int n, const float *x, const float *weight, const float *bias, float eps, float *y, float *mean, float *rstd) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * n;
    float *yr = y + (size_t)r * n;
    v8 s = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) s = add(s, ld(xr + j, imin(8, n - j)));
    float mu = hsum8(s) / (float)n;
    v8 muv = splat(mu), vv = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
      int w = imin(8, n - j);
      v8 c = tailKeep(sub(ld(xr + j, w), muv), w, _mm256_setzero_ps());
      vv = add(vv, mul(c, c));
    }
    float rs = 1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(hsum8(vv) / (float)n + eps)));
    mean[r] = mu;
    rstd[r] = rs;
    v8 rsv = splat(rs);
    for (int j = 0; j < n; j += 8) {
      int w = imin(8, n - j);
      v8 t = mul(sub(ld(xr + j, w), muv), rsv);
      if (weight != NULL) t = mul(t, ld(weight + j, w));
      if (bias != NULL) t = add(t, ld(bias + j, w));
      st(yr + j, t, w);
    }
  }
}

static K void layerNormBackward(int rows, int n, const float *x, const float *weight, const float *mean, const float *rstd,
                                const float *dy, float *dx, float *dWeight, float *dBias) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * n, *gr = dy + (size_t)r * n;
    v8 muv = splat(mean[r]), rsv = splat(rstd[r]);
    v8 sg = _mm256_setzero_ps(), sgx = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
      int w = imin(8, n - j);
      v8 xh = tailKeep(mul(sub(ld(xr + j, w), muv), rsv), w, _mm256_setzero_ps());
      v8 d = ld(gr + j, w);
      v8 g = weight != NULL ? mul(d, ld(weight + j, w)) : d;
      sg = add(sg, g);
      sgx = add(sgx, mul(g, xh));
      if (dWeight != NULL) st(dWeight + j, add(ld(dWeight + j, w), mul(d, xh)), w);
      if (dBias != NULL) st(dBias + j, add(ld(dBias + j, w), d), w);
    }
    if (dx == NULL) continue;
    v8 m1 = splat(hsum8(sg) / (float)n), m2 = splat(hsum8(sgx) / (float)n);
    float *dxr = dx + (size_t)r * n;
    for (int j = 0; j < n; j += 8) {
      int w = imin(8, n - j);
      v8 xh = mul(sub(ld(xr + j, w), muv), rsv);
      v8 d = ld(gr + j, w);
      v8 g = weight != NULL ? mul(d, ld(weight + j, w)) : d;
      st(dxr + j, add(ld(dxr + j, w), mul(rsv, sub(sub(g, m1), mul(xh, m2)))), w);
    }
  }
}

/** erf as assembly/transformer.ts's erfv: x·P(x²)/Q(x²) on x clamped to [-4, 4]. */
KI v8 erfv(v8 x0) {
  v8 x = _mm256_min_ps(splat(4.0f), _mm256_max_ps(splat(-4.0f), x0));
  v8 x2 = mul(x, x);
  v8 p = splat(-2.72614225801306e-10f);
  p = add(mul(p, x2), splat(2.77068142495902e-08f));
  p = add(mul(p, x2), splat(-2.10102402082508e-06f));
  p = add(mul(p, x2), splat(-5.69250639462346e-05f));
  p = add(mul(p, x2), splat(-7.34990630326855e-04f));
  p = add(mul(p, x2), splat(-2.95459980854025e-03f));
  p = add(mul(p, x2), splat(-1.60960333262415e-02f));
  v8 qq = splat(-1.45660718464996e-05f);
  qq = add(mul(qq, x2), splat(-2.13374055278905e-04f));
  qq = add(mul(qq, x2), splat(-1.68282697438203e-03f));
  qq = add(mul(qq, x2), splat(-7.37332916720468e-03f));
  qq = add(mul(qq, x2), splat(-1.42647390514189e-02f));
  return _mm256_div_ps(mul(x, p), qq);
}
KI v8 geluTanhArg(v8 x) { return mul(splat(0.7978845608028654f), add(x, mul(splat(0.044715f), mul(x, mul(x, x))))); }

// GELU on 512-bit vectors: the same operations on each lane as the 256-bit code above (an elementwise
// function does not depend on the vector's width), so its results equal it bit for bit, at twice the lanes.
KI5 v16 splat16(float x) { return _mm512_set1_ps(x); }
KI5 v16 add16(v16 a, v16 b) { return _mm512_add_ps(a, b); }
KI5 v16 sub16(v16 a, v16 b) { return _mm512_sub_ps(a, b); }
KI5 v16 mul16(v16 a, v16 b) { return _mm512_mul_ps(a, b); }
KI5 v16 expv16(v16 x) {
  v16 xc = _mm512_min_ps(splat16(89.0f), _mm512_max_ps(splat16(-104.0f), x));
  v16 shifted = add16(mul16(xc, splat16(1.44269504088896341f)), splat16(SHIFTER));
  v16 fx = sub16(shifted, splat16(SHIFTER));
  v16 r = sub16(sub16(xc, mul16(fx, splat16(0.693359375f))), mul16(fx, splat16(-2.12194440e-4f)));
  v16 r2 = mul16(r, r);
  v16 p01 = add16(mul16(splat16(1.9875691500e-4f), r), splat16(1.3981999507e-3f));
  v16 p23 = add16(mul16(splat16(8.3334519073e-3f), r), splat16(4.1665795894e-2f));
  v16 p45 = add16(mul16(splat16(1.6666665459e-1f), r), splat16(5.0000001201e-1f));
  v16 q = add16(mul16(add16(mul16(p01, r2), p23), r2), p45);
  v16 p = add16(add16(mul16(q, r2), r), splat16(1.0f));
  __m512i n = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(SHIFTER_BITS));
  __m512i n1 = _mm512_srai_epi32(n, 1);
  __m512i n2 = _mm512_sub_epi32(n, n1);
  __m512i bias = _mm512_set1_epi32(127);
  v16 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  v16 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return mul16(mul16(p, s1), s2);
}
KI5 v16 sigmoidv16(v16 x) {
  v16 nx = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int32_t)0x80000000)));
  return _mm512_div_ps(splat16(1.0f), add16(splat16(1.0f), expv16(nx)));
}
KI5 v16 erfv16(v16 x0) {
  v16 x = _mm512_min_ps(splat16(4.0f), _mm512_max_ps(splat16(-4.0f), x0));
  v16 x2 = mul16(x, x);
  v16 p = splat16(-2.72614225801306e-10f);
  p = add16(mul16(p, x2), splat16(2.77068142495902e-08f));
  p = add16(mul16(p, x2), splat16(-2.10102402082508e-06f));
  p = add16(mul16(p, x2), splat16(-5.69250639462346e-05f));
  p = add16(mul16(p, x2), splat16(-7.34990630326855e-04f));
  p = add16(mul16(p, x2), splat16(-2.95459980854025e-03f));
  p = add16(mul16(p, x2), splat16(-1.60960333262415e-02f));
  v16 qq = splat16(-1.45660718464996e-05f);
  qq = add16(mul16(qq, x2), splat16(-2.13374055278905e-04f));
  qq = add16(mul16(qq, x2), splat16(-1.68282697438203e-03f));
  qq = add16(mul16(qq, x2), splat16(-7.37332916720468e-03f));
  qq = add16(mul16(qq, x2), splat16(-1.42647390514189e-02f));
  return _mm512_div_ps(mul16(x, p), qq);
}
KI5 v16 geluTanhArg16(v16 x) { return mul16(splat16(0.7978845608028654f), add16(x, mul16(splat16(0.044715f), mul16(x, mul16(x, x))))); }

static K5 void gelu5(int approximate, const float *x, float *out, int n) {
  for (int i = 0; i < n; i += 16) {
    __mmask16 m = lanes(n - i);
    v16 v = _mm512_maskz_loadu_ps(m, x + i), y;
    if (approximate == 0) {
      v16 half = mul16(splat16(0.5f), v);
      y = add16(half, mul16(half, erfv16(mul16(v, splat16(0.7071067811865476f)))));
    } else {
      v16 u = geluTanhArg16(v);
      y = mul16(v, sigmoidv16(add16(u, u)));
    }
    _mm512_mask_storeu_ps(out + i, m, y);
  }
}

static K5 void geluBackwardAcc5(int approximate, const float *x, const float *dy, float *dx, int n) {
  for (int i = 0; i < n; i += 16) {
    __mmask16 m = lanes(n - i);
    v16 v = _mm512_maskz_loadu_ps(m, x + i), g;
    if (approximate == 0) {
      v16 cdf = mul16(splat16(0.5f), add16(splat16(1.0f), erfv16(mul16(v, splat16(0.7071067811865476f)))));
      v16 pdf = mul16(splat16(0.3989422804014327f), expv16(mul16(splat16(-0.5f), mul16(v, v))));
      g = add16(cdf, mul16(v, pdf));
    } else {
      v16 u = geluTanhArg16(v), u2 = add16(u, u);
      v16 nu2 = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(u2), _mm512_set1_epi32((int32_t)0x80000000)));
      v16 sp = sigmoidv16(u2), sn = sigmoidv16(nu2);
      v16 du = mul16(splat16(0.7978845608028654f), add16(splat16(1.0f), mul16(splat16(3 * 0.044715f), mul16(v, v))));
      g = add16(sp, mul16(add16(v, v), mul16(mul16(sp, sn), du)));
    }
    _mm512_mask_storeu_ps(dx + i, m, add16(_mm512_maskz_loadu_ps(m, dx + i), mul16(_mm512_maskz_loadu_ps(m, dy + i), g)));
  }
}

static K void gelu(int approximate, const float *x, float *out, int n) {
  if (isa == ISA_AVX512) return gelu5(approximate, x, out, n);
  for (int i = 0; i < n; i += 8) {
    int w = imin(8, n - i);
    v8 v = ld(x + i, w);
    if (approximate == 0) {
      v8 half = mul(splat(0.5f), v);
      st(out + i, add(half, mul(half, erfv(mul(v, splat(0.7071067811865476f))))), w);
    } else {
      v8 u = geluTanhArg(v);
      st(out + i, mul(v, sigmoidv(add(u, u))), w); // ½(1 + tanh u) = σ(2u)
    }
  }
}

static K void geluBackwardAcc(int approximate, const float *x, const float *dy, float *dx, int n) {
  if (isa == ISA_AVX512) return geluBackwardAcc5(approximate, x, dy, dx, n);
  for (int i = 0; i < n; i += 8) {
    int w = imin(8, n - i);
    v8 v = ld(x + i, w), g;
    if (approximate == 0) {
      v8 cdf = mul(splat(0.5f), add(splat(1.0f), erfv(mul(v, splat(0.7071067811865476f)))));
      v8 pdf = mul(splat(0.3989422804014327f), expv(mul(splat(-0.5f), mul(v, v))));
      g = add(cdf, mul(v, pdf)); // Φ(x) + x·φ(x)
    } else {
      v8 u = geluTanhArg(v), u2 = add(u, u);
      v8 sp = sigmoidv(u2), sn = sigmoidv(neg(u2));
      v8 du = mul(splat(0.7978845608028654f), add(splat(1.0f), mul(splat(3 * 0.044715f), mul(v, v))));
      g = add(sp, mul(add(v, v), mul(mul(sp, sn), du)));
    }
    st(dx + i, add(ld(dx + i, w), mul(ld(dy + i, w), g)), w);
  }
}

// ---- image layers: im2col / col2im (the convolution's gemm is gemm above) and max pooling ----
// Plain loops: they move data (the gemm does the arithmetic), and the compiler vectorises the copies.

static int ceilDiv(int a, int b) { return a <= 0 ? -(-a / b) : (a + b - 1) / b; }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static K void im2col(int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int OH, int OW, const float *x, float *cols, int ldc) {
  float *row = cols;
  for (int c = 0; c < C; c++)
    for (int i = 0; i < kh; i++)
      for (int j = 0; j < kw; j++, row += ldc) {
        int lo = clampi(ceilDiv(pw - j, sw), 0, OW), hi = clampi(ceilDiv(W + pw - j, sw), lo, OW);
        for (int oy = 0; oy < OH; oy++) {
          float *o = row + (size_t)oy * OW;
          int y = oy * sh - ph + i;
          if (y < 0 || y >= H) {
            memset(o, 0, sizeof(float) * OW);
            continue;
          }
          memset(o, 0, sizeof(float) * lo);
          if (hi > lo) {
            const float *src = x + ((size_t)c * H + y) * W + (lo * sw - pw + j);
            if (sw == 1) memcpy(o + lo, src, sizeof(float) * (hi - lo));
            else for (int ox = lo; ox < hi; ox++) o[ox] = src[(size_t)(ox - lo) * sw];
          }
          memset(o + hi, 0, sizeof(float) * (OW - hi));
        }
      }
}

static K void col2imAcc(int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int OH, int OW, const float *cols, int ldc, float *dx) {
  const float *row = cols;
  for (int c = 0; c < C; c++)
    for (int i = 0; i < kh; i++)
      for (int j = 0; j < kw; j++, row += ldc) {
        int lo = clampi(ceilDiv(pw - j, sw), 0, OW), hi = clampi(ceilDiv(W + pw - j, sw), lo, OW);
        for (int oy = 0; oy < OH; oy++) {
          int y = oy * sh - ph + i;
          if (y < 0 || y >= H || hi <= lo) continue;
          const float *o = row + (size_t)oy * OW + lo;
          float *dst = dx + ((size_t)c * H + y) * W + (lo * sw - pw + j);
          for (int ox = 0; ox < hi - lo; ox++) dst[(size_t)ox * sw] += o[ox];
        }
      }
}

/** Outputs [ox0, ox1) of output row oy, any window: the definition, one pixel at a time. */
static K void poolRow(const float *plane, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int oy, int ox0, int ox1, float *yr, int32_t *ar) {
  int y0 = oy * sh - ph > 0 ? oy * sh - ph : 0, y1 = imin(oy * sh - ph + kh, H);
  for (int ox = ox0; ox < ox1; ox++) {
    int x0 = ox * sw - pw > 0 ? ox * sw - pw : 0, x1 = imin(ox * sw - pw + kw, W);
    float best = -__builtin_inff();
    int at = y0 * W + x0;
    for (int yy = y0; yy < y1; yy++)
      for (int xx = x0; xx < x1; xx++) {
        float v = plane[yy * W + xx];
        int take = (v > best) | (v != v); // a NaN always replaces the maximum, as in PyTorch's kernel
        best = take ? v : best;
        at = take ? yy * W + xx : at;
      }
    yr[ox] = best;
    ar[ox] = at;
  }
}

/** poolRow's comparisons lane-wise: v replaces (best, at) where v > best or v is NaN. */
KI void poolTake(__m128 v, __m128i iv, __m128 *best, __m128i *at) {
  __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, *best), _mm_cmpunord_ps(v, v));
  *best = _mm_blendv_ps(*best, v, take);
  *at = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(*at), _mm_castsi128_ps(iv), take));
}

/** The encoder's pool (2×2, stride 2, no padding) four outputs at a time, as assembly/image.ts's pool2x2Row. */
static K int pool2x2Row(const float *plane, int W, int oy, int OW, float *yr, int32_t *ar) {
  const float *r0 = plane + (size_t)2 * oy * W, *r1 = r0 + W;
  __m128i i0 = _mm_add_epi32(_mm_setr_epi32(0, 2, 4, 6), _mm_set1_epi32(2 * oy * W));
  int ox = 0;
  for (; ox + 4 <= OW; ox += 4) {
    __m128 a0 = _mm_loadu_ps(r0 + 2 * ox), b0 = _mm_loadu_ps(r0 + 2 * ox + 4);
    __m128 a1 = _mm_loadu_ps(r1 + 2 * ox), b1 = _mm_loadu_ps(r1 + 2 * ox + 4);
    __m128 best = _mm_shuffle_ps(a0, b0, _MM_SHUFFLE(2, 0, 2, 0));
    __m128i at = i0;
    poolTake(_mm_shuffle_ps(a0, b0, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_epi32(i0, _mm_set1_epi32(1)), &best, &at);
    poolTake(_mm_shuffle_ps(a1, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_add_epi32(i0, _mm_set1_epi32(W)), &best, &at);
    poolTake(_mm_shuffle_ps(a1, b1, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_epi32(i0, _mm_set1_epi32(W + 1)), &best, &at);
    _mm_storeu_ps(yr + ox, best);
    _mm_storeu_si128((__m128i *)(ar + ox), at);
    i0 = _mm_add_epi32(i0, _mm_set1_epi32(8));
  }
  return ox;
}

static K void maxPool2dForward(int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int OH, int OW, const float *x, float *y, int32_t *argmax) {
  int tiled = kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0;
  for (int c = 0; c < C; c++) {
    const float *plane = x + (size_t)c * H * W;
    for (int oy = 0; oy < OH; oy++) {
      size_t o = ((size_t)c * OH + oy) * OW;
      int ox = tiled ? pool2x2Row(plane, W, oy, OW, y + o, argmax + o) : 0;
      poolRow(plane, H, W, kh, kw, sh, sw, ph, pw, oy, ox, OW, y + o, argmax + o);
    }
  }
}

/** -1, or (writing nothing) the position of the first index outside its plane. */
static K int maxPool2dBackwardAcc(int C, int H, int W, int OH, int OW, const float *dy, const int32_t *argmax, float *dx) {
  size_t P = (size_t)OH * OW, n = (size_t)C * P, plane = (size_t)H * W;
  for (size_t o = 0; o < n; o++)
    if (argmax[o] < 0 || (size_t)argmax[o] >= plane) return (int)o;
  for (size_t o = 0; o < n; o++) dx[(o / P) * plane + argmax[o]] += dy[o];
  return -1;
}
#endif

#ifndef KERNELS_NO_NAPI
// ---- N-API: `bind(heapView)` returns the kernels bound to that heap's base address ----

#define MAX_ARGS 32

/** Reads argc numbers; throws (and returns 0) when there are fewer than n or one is not a number. */
static int readArgs(napi_env env, napi_callback_info info, double *a, size_t n, char **base) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return 0;
  if (argc < n) {
    napi_throw_type_error(env, NULL, "native kernel: too few arguments");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_double(env, argv[i], &a[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "native kernel: arguments must be numbers");
      return 0;
    }
  }
  *base = (char *)data;
  return 1;
}

#ifdef HAVE_KERNELS
#define I(x) ((int)(x))
#define F(x) ((float *)(base + (size_t)(x)))
#define FN(x) ((x) == 0 ? NULL : (float *)(base + (size_t)(x)))

static napi_value jsGemm(napi_env env, napi_callback_info info) {
  double a[14];
  char *base;
  if (readArgs(env, info, a, 14, &base))
    gemm(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), (float)a[5], F(a[6]), I(a[7]), F(a[8]), I(a[9]), (float)a[10], F(a[11]), I(a[12]), F(a[13]));
  return NULL;
}

static napi_value jsGemmPacked(napi_env env, napi_callback_info info) {
  double a[12];
  char *base;
  if (readArgs(env, info, a, 12, &base))
    gemmPacked(I(a[0]), I(a[1]), I(a[2]), I(a[3]), (float)a[4], F(a[5]), I(a[6]), F(a[7]), (float)a[8], F(a[9]), I(a[10]), F(a[11]));
  return NULL;
}

static int oneStage(napi_env env, int kind) {
  if (kind >= RNN_TANH && kind <= GRU) return 1;
  napi_throw_range_error(env, NULL, "native kernel: recurrent loops take the one-stage cells (rnn_tanh, rnn_relu, lstm, gru)");
  return 0;
}

static napi_value jsRecurrentForward(napi_env env, napi_callback_info info) {
  double a[22];
  char *base;
  if (readArgs(env, info, a, 22, &base) && oneStage(env, I(a[0])))
    recurrentForward(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), I(a[6]), I(a[7]), I(a[8]), I(a[9]), F(a[10]), F(a[11]), FN(a[12]),
                     F(a[13]), F(a[14]), FN(a[15]), F(a[16]), FN(a[17]), F(a[18]), I(a[19]), I(a[20]), F(a[21]));
  return NULL;
}

static napi_value jsRecurrentBackward(napi_env env, napi_callback_info info) {
  double a[22];
  char *base;
  if (readArgs(env, info, a, 22, &base) && oneStage(env, I(a[0])))
    recurrentBackward(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), I(a[6]), I(a[7]), I(a[8]), F(a[9]), FN(a[10]), F(a[11]), FN(a[12]),
                      FN(a[13]), I(a[14]), I(a[15]), F(a[16]), FN(a[17]), F(a[18]), F(a[19]), F(a[20]), F(a[21]));
  return NULL;
}

static napi_value jsAttentionForward(napi_env env, napi_callback_info info) {
  double a[27];
  char *base;
  if (readArgs(env, info, a, 27, &base))
    attentionForward(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), (float)a[6], F(a[7]), I(a[8]), I(a[9]), F(a[10]), I(a[11]), I(a[12]),
                     F(a[13]), I(a[14]), I(a[15]), FN(a[16]), I(a[17]), FN(a[18]), I(a[19]), F(a[20]), FN(a[21]), FN(a[22]), F(a[23]), I(a[24]),
                     I(a[25]), F(a[26]));
  return NULL;
}

static napi_value jsAttentionBackward(napi_env env, napi_callback_info info) {
  double a[28];
  char *base;
  if (readArgs(env, info, a, 28, &base))
    attentionBackward(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), (float)a[6], F(a[7]), I(a[8]), I(a[9]), F(a[10]), I(a[11]), I(a[12]),
                      F(a[13]), I(a[14]), I(a[15]), F(a[16]), FN(a[17]), FN(a[18]), F(a[19]), I(a[20]), I(a[21]), FN(a[22]), F(a[23]), FN(a[24]),
                      FN(a[25]), FN(a[26]), F(a[27]));
  return NULL;
}

static napi_value jsLayerNormForward(napi_env env, napi_callback_info info) {
  double a[9];
  char *base;
  if (readArgs(env, info, a, 9, &base)) layerNormForward(I(a[0]), I(a[1]), F(a[2]), FN(a[3]), FN(a[4]), (float)a[5], F(a[6]), F(a[7]), F(a[8]));
  return NULL;
}

static napi_value jsLayerNormBackward(napi_env env, napi_callback_info info) {
  double a[10];
  char *base;
  if (readArgs(env, info, a, 10, &base))
    layerNormBackward(I(a[0]), I(a[1]), F(a[2]), FN(a[3]), F(a[4]), F(a[5]), F(a[6]), FN(a[7]), FN(a[8]), FN(a[9]));
  return NULL;
}

static napi_value jsGelu(napi_env env, napi_callback_info info) {
  double a[4];
  char *base;
  if (readArgs(env, info, a, 4, &base)) gelu(I(a[0]), F(a[1]), F(a[2]), I(a[3]));
  return NULL;
}

static napi_value jsGeluBackwardAcc(napi_env env, napi_callback_info info) {
  double a[5];
  char *base;
  if (readArgs(env, info, a, 5, &base)) geluBackwardAcc(I(a[0]), F(a[1]), F(a[2]), F(a[3]), I(a[4]));
  return NULL;
}

static napi_value jsIm2col(napi_env env, napi_callback_info info) {
  double a[14];
  char *base;
  if (readArgs(env, info, a, 14, &base))
    im2col(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), I(a[6]), I(a[7]), I(a[8]), I(a[9]), I(a[10]), F(a[11]), F(a[12]), I(a[13]));
  return NULL;
}

static napi_value jsCol2imAcc(napi_env env, napi_callback_info info) {
  double a[14];
  char *base;
  if (readArgs(env, info, a, 14, &base))
    col2imAcc(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), I(a[6]), I(a[7]), I(a[8]), I(a[9]), I(a[10]), F(a[11]), I(a[12]), F(a[13]));
  return NULL;
}

static napi_value jsMaxPool2dForward(napi_env env, napi_callback_info info) {
  double a[14];
  char *base;
  if (readArgs(env, info, a, 14, &base))
    maxPool2dForward(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), I(a[5]), I(a[6]), I(a[7]), I(a[8]), I(a[9]), I(a[10]), F(a[11]), F(a[12]),
                     (int32_t *)(base + (size_t)a[13]));
  return NULL;
}

static napi_value jsMaxPool2dBackwardAcc(napi_env env, napi_callback_info info) {
  double a[8];
  char *base;
  napi_value r = NULL;
  if (readArgs(env, info, a, 8, &base))
    napi_create_int32(env, maxPool2dBackwardAcc(I(a[0]), I(a[1]), I(a[2]), I(a[3]), I(a[4]), F(a[5]), (const int32_t *)(base + (size_t)a[6]), F(a[7])), &r);
  return r;
}

static napi_value jsBind(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, fn;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value buffer;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "native kernels: bind takes a Float32Array over the whole tensor heap");
    return NULL;
  }
  char *base = (char *)data - offset;
  napi_create_object(env, &out);
  const struct { const char *name; napi_callback cb; } fns[] = {
    {"gemm", jsGemm}, {"gemmPacked", jsGemmPacked}, {"recurrentForward", jsRecurrentForward}, {"recurrentBackward", jsRecurrentBackward},
    {"attentionForward", jsAttentionForward}, {"attentionBackward", jsAttentionBackward}, {"layerNormForward", jsLayerNormForward},
    {"layerNormBackward", jsLayerNormBackward}, {"gelu", jsGelu}, {"geluBackwardAcc", jsGeluBackwardAcc}, {"im2col", jsIm2col},
    {"col2imAcc", jsCol2imAcc}, {"maxPool2dForward", jsMaxPool2dForward}, {"maxPool2dBackwardAcc", jsMaxPool2dBackwardAcc},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, base, &fn);
    napi_set_named_property(env, out, fns[i].name, fn);
  }
  return out;
}
#endif

NAPI_MODULE_INIT() {
  napi_value v;
#ifdef HAVE_KERNELS
  __builtin_cpu_init();
  int ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  napi_get_boolean(env, ok, &v);
  napi_set_named_property(env, exports, "cpuSupported", v);
  if (ok) {
    if (isa < 0) isa = chooseIsa(); // once: a kernel worker loading later (after a change to process.env) keeps the first choice
    napi_create_string_utf8(env, isa == ISA_AVX512 ? "avx512" : "avx2", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, exports, "isa", v);
    napi_create_function(env, "bind", NAPI_AUTO_LENGTH, jsBind, NULL, &v);
    napi_set_named_property(env, exports, "bind", v);
  }
#else
  napi_get_boolean(env, 0, &v);
  napi_set_named_property(env, exports, "cpuSupported", v);
#endif
  return exports;
}
#endif
