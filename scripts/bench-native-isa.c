// The native kernels' two GEMM paths side by side in one process: kernels.c compiled on its own (without
// its Node-API glue), each native kernel of one Transformer training step — every GEMM of a layer times
// the layers, the logits' three, fused attention forward and backward, GELU and LayerNorm — and the packed
// GEMM of the recurrent loops, timed on the 256-bit path and on the 512-bit one, interleaved, best of R
// rounds, in this thread's CPU time (so another process's turns on the core are not counted; its effect
// on the caches still is: the best round is the least disturbed). On a CPU without AVX-512F only the first column
// is real (the second then runs the same 256-bit code). Not the library's timers (scripts/profile-train.ts)
// nor a peer comparison (bench/).
//
//   gcc -O3 -ffp-contract=off scripts/bench-native-isa.c -o /tmp/bench-native-isa
//   /tmp/bench-native-isa [E L heads B T [rounds]]      (default 128 4 4 12 64 15: the bench's config T)

#define KERNELS_NO_NAPI
#include "../src/backend/native/kernels.c"
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *rnd(size_t n) {
  float *p = aligned_alloc(64, (n * 4 + 127) / 64 * 64);
  for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
  return p;
}

static float *scratch;
static int rounds = 15;

/** Best of `rounds` runs of f(arg) on each path: best[0] the 256-bit, best[1] the 512-bit, interleaved. */
static void timeBoth(void (*f)(void *), void *arg, double best[2]) {
  best[0] = best[1] = 1e30;
  for (int r = 0; r < rounds; r++)
    for (int which = 0; which < 2; which++) {
      isa = which == 1 && __builtin_cpu_supports("avx512f") ? ISA_AVX512 : ISA_AVX2;
      double t0 = now();
      f(arg);
      double d = now() - t0;
      if (d < best[which]) best[which] = d;
    }
}

typedef struct { int tA, tB, M, N, Kd, packed; float *A, *B, *C; } Gemm;
static void runGemm(void *p) {
  Gemm *g = p;
  if (g->packed) gemmPacked(g->tA, g->M, g->N, g->Kd, 1, g->A, g->tA ? g->M : g->Kd, g->B, 1, g->C, g->N, scratch);
  else gemm(g->tA, g->tB, g->M, g->N, g->Kd, 1, g->A, g->tA ? g->M : g->Kd, g->B, g->tB ? g->Kd : g->N, 1, g->C, g->N, scratch);
}

/** Times C (M×N) += op(A)·op(B) on both paths (B packed as the wasm packB lays it out when `packed`), adding `times`× to sum. */
static void timeGemm(int tA, int tB, int M, int N, int Kd, int packed, int times, double sum[2], int print) {
  int Np = (N + PW - 1) & ~(PW - 1);
  Gemm g = {tA, tB, M, N, Kd, packed, rnd((size_t)M * Kd), rnd((size_t)Kd * Np), rnd((size_t)M * N)};
  if (packed) {
    float *B = rnd((size_t)Kd * N);
    for (int pc = 0; pc < Kd; pc += KC) packB(tB, B, tB ? Kd : N, pc, 0, imin(KC, Kd - pc), N, PW, g.B + (size_t)pc * Np);
    free(B);
  }
  double best[2];
  timeBoth(runGemm, &g, best);
  for (int i = 0; i < 2; i++) sum[i] += best[i] * times;
  if (print) {
    double gf = 2.0 * M * N * Kd / 1e9;
    printf("  %s %c%c %5d×%5d×%5d  %7.1f %7.1f GFLOP/s  %.2f×\n", packed ? "gemmPacked" : "gemm      ", tA ? 'T' : 'N', packed ? 'P' : tB ? 'T' : 'N', M, N, Kd,
           gf / best[0], gf / best[1], best[0] / best[1]);
  }
  free(g.A), free(g.B), free(g.C);
}

typedef struct { int B, H, L, D; float *qkv, *probs, *out, *dOut, *dS, *dqkv; } Attn;
// q, k, v are column blocks of one (T, B, 3E) time-major projection, as MultiheadAttention's in_proj gives them.
static void attnFwd(void *p) {
  Attn *a = p;
  int E = a->H * a->D, st = a->B * 3 * E;
  attentionForward(0, a->B * a->H, a->H, a->L, a->L, a->D, 0.17f, a->qkv, 3 * E, st, a->qkv + E, 3 * E, st, a->qkv + 2 * E, 3 * E, st,
                   NULL, 0, NULL, 1, a->probs, NULL, NULL, a->out, E, a->B * E, scratch);
}
static void attnBwd(void *p) {
  Attn *a = p;
  int E = a->H * a->D, st = a->B * 3 * E;
  attentionBackward(0, a->B * a->H, a->H, a->L, a->L, a->D, 0.17f, a->qkv, 3 * E, st, a->qkv + E, 3 * E, st, a->qkv + 2 * E, 3 * E, st,
                    a->probs, NULL, NULL, a->dOut, E, a->B * E, NULL, a->dS, a->dqkv, a->dqkv + E, a->dqkv + 2 * E, scratch);
}

typedef struct { int rows, n; float *x, *w, *b, *y, *mean, *rstd, *dy, *dx, *dw, *db; } Elementwise;
static void geluFwdBwd(void *p) {
  Elementwise *e = p;
  gelu(0, e->x, e->y, e->rows * e->n);
  geluBackwardAcc(0, e->x, e->dy, e->dx, e->rows * e->n);
}
static void layerNormFwdBwd(void *p) {
  Elementwise *e = p;
  layerNormForward(e->rows, e->n, e->x, e->w, e->b, 1e-5f, e->y, e->mean, e->rstd);
  layerNormBackward(e->rows, e->n, e->x, e->w, e->mean, e->rstd, e->dy, e->dx, e->dw, e->db);
}

// The core's FMA ceiling: independent FMA chains (12 on 256-bit registers, 24 on 512-bit ones: more than
// the latency × issue width, fewer than the registers), nothing loaded or stored. What a GEMM's GFLOP/s is
// a fraction of; the other core's load lowers it.
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define INIT8(i) __m256 a##i = _mm256_set1_ps(1e-3f * i);
#define STEP8(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define SUM8(i) s = _mm256_add_ps(s, a##i);
static K double peak256(long n) {
  CHAINS(INIT8)
  __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f), s = _mm256_setzero_ps();
  double t0 = now();
  for (long k = 0; k < n; k++) { CHAINS(STEP8) __asm__ volatile("" ::: "memory"); }
  double t = now() - t0;
  CHAINS(SUM8)
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  return 2.0 * 8 * 12 * n / t / 1e9;
}
#define INIT16(i) __m512 a##i = _mm512_set1_ps(1e-3f * i), b##i = _mm512_set1_ps(2e-3f * i + 1e-5f);
#define STEP16(i) a##i = _mm512_fmadd_ps(a##i, m, c); b##i = _mm512_fmadd_ps(b##i, m, c);
#define SUM16(i) s = _mm512_add_ps(s, _mm512_add_ps(a##i, b##i));
static K5 double peak512(long n) {
  CHAINS(INIT16)
  __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f), s = _mm512_setzero_ps();
  double t0 = now();
  for (long k = 0; k < n; k++) { CHAINS(STEP16) __asm__ volatile("" ::: "memory"); }
  double t = now() - t0;
  CHAINS(SUM16)
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return 2.0 * 16 * 24 * n / t / 1e9;
}

int main(int argc, char **argv) {
  __builtin_cpu_init();
  int E = 128, L = 4, heads = 4, B = 12, T = 64, V = 65;
  if (argc >= 6) E = atoi(argv[1]), L = atoi(argv[2]), heads = atoi(argv[3]), B = atoi(argv[4]), T = atoi(argv[5]);
  if (argc >= 7) rounds = atoi(argv[6]);
  int BT = B * T, F = 4 * E;
  scratch = aligned_alloc(64, (128 * KC + KC * NC + 64) * 4);
  printf("native kernels of one Transformer step, E %d, %d layers, %d heads, B %d, T %d; best of %d; CPU %s AVX-512F\n", E, L, heads, B, T, rounds,
         __builtin_cpu_supports("avx512f") ? "with" : "WITHOUT (both columns are the 256-bit path)");
  double pk[2] = {0, 0};
  for (int r = 0; r < 5; r++) {
    double p0 = peak256(20000000), p1 = __builtin_cpu_supports("avx512f") ? peak512(10000000) : p0;
    if (p0 > pk[0]) pk[0] = p0;
    if (p1 > pk[1]) pk[1] = p1;
  }
  printf("                                         256-bit 512-bit\n");
  printf("  peak: independent FMAs, no memory      %7.1f %7.1f GFLOP/s\n", pk[0], pk[1]);
  // Per layer: in_proj, out_proj, linear1, linear2 — forward x Wᵀ (NT), dX = dY W (NN), dW = dYᵀ X (TN).
  int shapes[4][2] = {{3 * E, E}, {E, E}, {F, E}, {E, F}}; // (out, in) of each weight
  double gemmSum[2] = {0, 0};
  for (int i = 0; i < 4; i++) {
    int o = shapes[i][0], in = shapes[i][1];
    timeGemm(0, 1, BT, o, in, 0, L, gemmSum, 1);
    timeGemm(0, 0, BT, in, o, 0, L, gemmSum, 1);
    timeGemm(1, 0, o, in, BT, 0, L, gemmSum, 1);
  }
  timeGemm(0, 1, BT, V, E, 0, 1, gemmSum, 1); // the logits
  timeGemm(0, 0, BT, E, V, 0, 1, gemmSum, 1);
  timeGemm(1, 0, V, E, BT, 0, 1, gemmSum, 1);
  Attn a = {B, heads, T, E / heads, rnd((size_t)BT * 3 * E), rnd((size_t)B * heads * T * T), rnd((size_t)BT * E), rnd((size_t)BT * E),
            rnd((size_t)B * heads * T * T), rnd((size_t)BT * 3 * E)};
  attnFwd(&a);
  double af[2], ab[2], ge[2], ln[2];
  timeBoth(attnFwd, &a, af);
  timeBoth(attnBwd, &a, ab);
  Elementwise g = {BT, F, rnd((size_t)BT * F), NULL, NULL, rnd((size_t)BT * F), NULL, NULL, rnd((size_t)BT * F), rnd((size_t)BT * F), NULL, NULL};
  timeBoth(geluFwdBwd, &g, ge);
  Elementwise n = {BT, E, rnd((size_t)BT * E), rnd(E), rnd(E), rnd((size_t)BT * E), rnd(BT), rnd(BT), rnd((size_t)BT * E), rnd((size_t)BT * E), rnd(E), rnd(E)};
  timeBoth(layerNormFwdBwd, &n, ln);
  printf("per step, ms                  256-bit 512-bit\n");
  printf("  every GEMM                  %7.2f %7.2f\n", gemmSum[0] * 1e3, gemmSum[1] * 1e3);
  printf("  attention forward           %7.2f %7.2f\n", af[0] * L * 1e3, af[1] * L * 1e3);
  printf("  attention backward          %7.2f %7.2f\n", ab[0] * L * 1e3, ab[1] * L * 1e3);
  printf("  GELU forward + backward     %7.2f %7.2f\n", ge[0] * L * 1e3, ge[1] * L * 1e3);
  printf("  LayerNorm forward + backward%7.2f %7.2f\n", ln[0] * (2 * L + 1) * 1e3, ln[1] * (2 * L + 1) * 1e3);
  for (int i = 0; i < 2; i++) gemmSum[i] += (af[i] + ab[i] + ge[i]) * L + ln[i] * (2 * L + 1);
  printf("  these kernels               %7.2f %7.2f\n", gemmSum[0] * 1e3, gemmSum[1] * 1e3);
  printf("the recurrent loops' packed GEMM (rows × 4H × H, LSTM H 128 and 256, B 50 and 32, and split over 2 threads):\n");
  double unused[2] = {0, 0};
  timeGemm(0, 0, 50, 512, 128, 1, 1, unused, 1);
  timeGemm(0, 0, 25, 512, 128, 1, 1, unused, 1);
  timeGemm(0, 0, 32, 1024, 256, 1, 1, unused, 1);
  timeGemm(0, 0, 16, 1024, 256, 1, 1, unused, 1);
  return 0;
}
