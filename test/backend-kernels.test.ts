// Every kernel of every fast backend against the reference backend (the definition), on random shapes
// with odd sizes (1, primes, sizes that cross the GEMM blocking), all GEMM transposes, alpha/beta and
// strides, every cell kind and stage with masks, the optimizer updates and cross-entropy with an
// ignore index. Also the accuracy of the float32 exp/tanh/sigmoid against Math. Runs whatever
// RECURRENT_BACKEND says: it compares backends directly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CELL_LAYOUTS, type Backend, type CellKind, type UnaryOp } from '../src/backend/backend.js';
import { referenceBackend as ref } from '../src/backend/reference.js';
import { availableBackends, backend, setBackend } from '../src/backend/registry.js';
import { FN_GEMM } from '../src/backend/wasm/job-slot.js';
import { MIN_THREADED_WORK, createThreadPool } from '../src/backend/wasm/thread-pool.js';
import { addonUrl } from '../src/backend/native/load-native.js';
import { compileKernels, relaxedSimd } from '../src/backend/wasm/load-kernels.js';
import { heap } from '../src/tensor/heap.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { fastBackends, named } from './util/backends.js';


test('the wasm backend is available', () => {
  assert.ok(availableBackends().includes('wasm'), `available: ${availableBackends().join(', ')}`);
});

test('the native backend loads wherever its addon was built (on a CPU with AVX2 and FMA)', async () => {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const built = existsSync(fileURLToPath(addonUrl));
  if (!built) return; // `npm run build:native` found no compiler: the backend is absent, which is allowed
  if (availableBackends().includes('native')) return;
  const saved = backend().name;
  assert.throws(() => setBackend('native'), /AVX2/, 'built, not loaded, and not for want of AVX2');
  setBackend(saved);
});

test('a kernel worker that cannot load the native addon fails the first threaded call at once, naming the addon', async () => {
  if (!heap.shared) return; // no worker threads without a shared heap
  const pool = createThreadPool(await compileKernels(), 1 << 16, '/nonexistent/recurrent_native.node');
  pool.setThreads(2);
  const t0 = performance.now();
  let ran = false;
  const call = (): void => pool.run(FN_GEMM, [[0], [0]], () => { ran = true; });
  assert.throws(call, /a kernel worker thread failed to start: the native addon \/nonexistent\/recurrent_native\.node did not load: /);
  assert.ok(performance.now() - t0 < 5000, 'not the start timeout');
  assert.throws(call, /failed to start/, 'and again on the next call');
  assert.equal(ran, false, 'no part ran');
});

test('a thread-pool part with too many arguments is refused, naming the count, and nothing runs here', async (t) => {
  // (That no part is posted before the check is the code's order, in thread-pool.ts; a test cannot watch a worker.)
  if (!heap.shared) return t.skip('no worker threads without a shared heap');
  const pool = createThreadPool(await compileKernels(), 1 << 16);
  pool.setThreads(2);
  let ran = false;
  assert.throws(() => pool.run(FN_GEMM, [[0], new Array(33).fill(0)], () => { ran = true; }), /thread pool: 33 arguments, at most 32/);
  assert.equal(ran, false, 'no part ran');
});

const fast = fastBackends();
const rng = new Rng(2024);

/** A heap tensor of n uniform values in [lo, hi). */
function rand(n: number, lo = -1, hi = 1): Tensor {
  return Tensor.from(Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()));
}
const copy = (t: Tensor): Tensor => Tensor.from(t.data);

/** Random GEMM operands for op(A) (M×K), op(B) (K×N) and C (M×N), each with a row stride padded by 0–2. */
function gemmOperands(M: number, N: number, K: number, transA: boolean, transB: boolean) {
  const [ar, ac] = transA ? [K, M] : [M, K];
  const [br, bc] = transB ? [N, K] : [K, N];
  const lda = ac + rng.int(3);
  const ldb = bc + rng.int(3);
  const ldc = N + rng.int(3);
  return { lda, ldb, ldc, A: rand(ar * lda), B: rand(br * ldb), C0: rand(M * ldc) };
}

/** |got - want| <= atol + rtol·|want| everywhere (NaN matches NaN, ±Inf must match exactly). */
function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) && g === w) continue;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.fail(`${what}: element ${i} is ${g}, reference ${w}`);
  }
}

// The native kernels follow the wasm ones operation for operation (the same blocking of K, the same
// accumulation order, FMAs where the wasm FMA build has relaxed_madd), so against that build they must be
// equal bit for bit: then a model trains to the same numbers on either, only faster on one.
const bothFma = relaxedSimd && availableBackends().includes('native');
test('native: gemm and packB + gemmPacked equal the wasm FMA build bit for bit (every transpose, M = 1, a last row alone in its block, K and N across the blocking and the micro-kernels\' tiles)', { skip: !bothFma && 'needs the native backend and relaxed SIMD (node --experimental-wasm-relaxed-simd on Node 20)' }, () => {
  const [wasm, native] = [named('wasm'), named('native')];
  for (const [M, N, K] of [[1, 77, 513], [5, 9, 3], [37, 53, 300], [64, 1024, 256], [130, 1030, 260], [300, 41, 1100], [121, 40, 300], [129, 33, 20], [25, 47, 129], [12, 32, 7]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        tidy(() => {
          const { lda, ldb, ldc, A, B, C0 } = gemmOperands(M, N, K, transA, transB);
          const run = (be: Backend, packed: boolean): Float32Array => {
            const C = copy(C0);
            if (!packed) be.gemm(transA, transB, M, N, K, 0.7, A.data, lda, B.data, ldb, 0.5, C.data, ldc);
            else {
              const p = be.packB(transB, K, N, B.data, ldb);
              be.gemmPacked(transA, M, 0.7, A.data, lda, p, 0.5, C.data, ldc);
              p.dispose();
            }
            return C.data.slice();
          };
          for (const packed of [false, true]) {
            const want = run(wasm, packed);
            const got = run(native, packed);
            const i = got.findIndex((v, j) => !Object.is(v, want[j]));
            assert.equal(i, -1, `${M}×${N}×${K} transA ${transA} transB ${transB}${packed ? ' packed' : ''}: element ${i} is ${got[i]}, wasm ${want[i]}`);
          }
        });
      }
    }
  }
});

// GELU runs on 512-bit vectors where the CPU has AVX-512F: an elementwise function, the same operations on
// each lane, so on either path it equals the wasm build bit for bit (tails of every length up to a vector).
test('native: GELU (erf and tanh) and its backward equal the wasm FMA build bit for bit (every tail length, |x| up to 12, ±0, ±Inf)', { skip: !bothFma && 'needs the native backend and relaxed SIMD (node --experimental-wasm-relaxed-simd on Node 20)' }, () => {
  const [wasm, native] = [named('wasm'), named('native')];
  for (const approximate of ['none', 'tanh'] as const) {
    for (const n of [1, 7, 8, 9, 15, 16, 17, 31, 33, 1000]) {
      tidy(() => {
        const x = rand(n, -12, 12);
        if (n >= 4) x.data.set([0, -0, Infinity, -Infinity]);
        const dy = rand(n);
        const dx0 = rand(n);
        const run = (be: Backend): [Float32Array, Float32Array] => {
          const y = rand(n);
          be.gelu(approximate, x.data, y.data);
          const dx = copy(dx0);
          be.geluBackwardAcc(approximate, x.data, dy.data, dx.data);
          return [y.data.slice(), dx.data.slice()];
        };
        const want = run(wasm);
        const got = run(native);
        for (const k of [0, 1]) {
          const i = got[k].findIndex((v, j) => !Object.is(v, want[k][j]));
          assert.equal(i, -1, `${approximate} n=${n} ${k === 0 ? 'gelu' : 'geluBackwardAcc'}: element ${i} (x ${x.data[i]}) is ${got[k][i]}, wasm ${want[k][i]}`);
        }
      });
    }
  }
});

for (const be of fast) {
  test(`${be.name}: dropoutMask draws Rng's masks and leaves its state, bit for bit (p with a whole p·2²⁴, n = 0 and odd)`, () => {
    for (const [seed, p, n] of [[1, 0.1, 1000], [7, 0.5, 17], [99, 0.25, 4099], [3, 0.9, 1], [5, 0.37, 0], [8, 1 / 3, 333]] as const) {
      tidy(() => {
        const a = new Rng(seed);
        const b = new Rng(seed);
        const keep = 1 / (1 - p);
        const want = new Float32Array(n);
        a.dropoutMask(want, p, keep); // the JS loop
        const got = new Tensor([n]);
        b.dropoutMask(got.data, p, keep, be);
        const i = got.data.findIndex((v, j) => !Object.is(v, want[j]));
        assert.equal(i, -1, `seed ${seed} p ${p}: element ${i} is ${got.data[i]}, the JS loop's ${want[i]}`);
        assert.deepEqual(b.getState(), a.getState(), `seed ${seed} p ${p} n ${n}: the state after`);
      });
    }
    // On the boundary: p equal to a draw's uniform() keeps it (uniform() < p is strict), half a step above drops it.
    for (const seed of [11, 12, 13]) {
      const u24 = new Rng(seed).nextUint32() >>> 8;
      for (const [p, kept] of [[u24 / 16777216, true], [(u24 + 0.5) / 16777216, false]] as const) {
        tidy(() => {
          const m = new Tensor([1]);
          new Rng(seed).dropoutMask(m.data, p, 2, be);
          assert.equal(m.data[0], kept ? 2 : 0, `seed ${seed}: a draw of ${u24}/2²⁴ at p ${p * 16777216}/2²⁴`);
        });
      }
    }
  });
}

for (const be of [ref, ...fast]) {
  test(`${be.name}: packB + gemmPacked equal gemm (transposes, alpha/beta, strides, M = 1, K across the blocking)`, () => {
    const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 512, 128], [1, 13, 300], [50, 512, 128], [7, 9, 3], [5, 130, 517], [4, 8, 256]];
    const scalars: Array<[number, number]> = [[1, 1], [1, 0], [-0.5, 0.7]];
    let n = 0;
    for (const [M, N, K] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const [alpha, beta] = scalars[n++ % scalars.length];
          tidy(() => {
            const { lda, ldb, ldc, A, B, C0 } = gemmOperands(M, N, K, transA, transB);
            const Cr = copy(C0);
            const Cw = copy(C0);
            const what = `gemmPacked(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta})`;
            const P = be.packB(transB, K, N, B.data, ldb);
            ref.gemm(transA, transB, M, N, K, alpha, A.data, lda, B.data, ldb, beta, Cr.data, ldc);
            B.data.fill(NaN); // a snapshot: later writes to B are not seen
            be.gemmPacked(transA, M, alpha, A.data, lda, P, beta, Cw.data, ldc);
            close(what, Cw.data, Cr.data, 1e-5, 2e-6 * K);
            P.dispose();
            assert.throws(() => be.gemmPacked(transA, M, alpha, A.data, lda, P, beta, Cw.data, ldc), /disposed/);
          });
        }
      }
    }
  });
}

for (const be of fast) {
  test(`${be.name}: gemm, every transpose, alpha/beta, strides and odd sizes against the reference`, () => {
    const shapes: Array<[number, number, number]> = [
      [1, 1, 1], [1, 7, 3], [5, 1, 9], [3, 5, 1], [4, 8, 16], [13, 17, 19], [2, 9, 300], [130, 6, 5], [3, 1030, 2], [37, 41, 263],
    ];
    const scalars: Array<[number, number]> = [[1, 0], [1, 1], [-0.5, 0.7], [2, 1], [0, 0.5]];
    let n = 0;
    for (const [M, N, K] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const [alpha, beta] = scalars[n++ % scalars.length];
          tidy(() => {
            const [ar, ac] = transA ? [K, M] : [M, K];
            const [br, bc] = transB ? [N, K] : [K, N];
            const lda = ac + rng.int(3);
            const ldb = bc + rng.int(3);
            const ldc = N + rng.int(3);
            const offA = rng.int(3);
            const A = rand(offA + ar * lda);
            const B = rand(br * ldb);
            const C0 = rand(M * ldc);
            if (beta === 0) C0.data.fill(NaN); // beta = 0 overwrites, NaN included
            const Cr = copy(C0);
            const Cw = copy(C0);
            const what = `gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta})`;
            ref.gemm(transA, transB, M, N, K, alpha, A.data.subarray(offA), lda, B.data, ldb, beta, Cr.data, ldc);
            be.gemm(transA, transB, M, N, K, alpha, A.data.subarray(offA), lda, B.data, ldb, beta, Cw.data, ldc);
            close(what, Cw.data, Cr.data, 1e-5, 2e-6 * K);
          });
        }
      }
    }
  });

  test(`${be.name}: gemm rejects views that are not over the heap, and short operands`, () => {
    tidy(() => {
      const A = rand(6);
      const C = rand(4);
      assert.throws(() => be.gemm(false, false, 2, 2, 3, 1, new Float32Array(6), 3, A.data, 2, 0, C.data, 2), /not a view over the tensor heap/);
      assert.throws(() => be.gemm(false, false, 2, 2, 3, 1, A.data.subarray(1), 3, A.data, 2, 0, C.data, 2), /A has 5 elements, needs 6/);
    });
  });

  if (be.setThreads !== undefined) {
    test(`${be.name}: multithreaded gemm and gemmPacked (2 threads and 1) against the reference, odd sizes, the split threshold`, () => {
      const setThreads = be.setThreads!.bind(be);
      const saved = (be as { threads?: number }).threads ?? 1;
      assert.throws(() => setThreads(0), /whole number of threads >= 1, got 0/);
      assert.throws(() => setThreads(1.5), /whole number of threads >= 1, got 1.5/);
      setThreads(2);
      assert.equal(be.readyThreads, 2, 'in Node the first threaded call waits for its workers: all count as ready');
      setThreads(saved);
      // M·N·K at, just below and above MIN_THREADED_WORK; split by columns (N >= M) or rows, M = 1, N = 3.
      const shapes: Array<[number, number, number]> = [
        [64, 256, 256], [63, 256, 256], [257, 129, 127], [1, 4099, 1031], [4099, 3, 345], [131, 523, 67],
      ];
      const packedShapes: Array<[number, number, number]> = [[300, 130, 111], [1033, 65, 63], [50, 512, 128], [64, 256, 256]];
      const scalars: Array<[number, number]> = [[1, 0], [1, 1], [-0.5, 0.7]];
      let n = 0;
      try {
        for (const [M, N, K] of [...shapes, ...packedShapes]) {
          const packed = n >= shapes.length * 4;
          assert.ok(M * N * K >= MIN_THREADED_WORK || M * N * K < MIN_THREADED_WORK / 1.01, 'shapes straddle the threshold');
          for (const transA of [false, true]) {
            for (const transB of [false, true]) {
              const [alpha, beta] = scalars[n++ % scalars.length];
              tidy(() => {
                const { lda, ldb, ldc, A, B, C0 } = gemmOperands(M, N, K, transA, transB);
                const Cr = copy(C0);
                ref.gemm(transA, transB, M, N, K, alpha, A.data, lda, B.data, ldb, beta, Cr.data, ldc);
                const P = packed ? be.packB(transB, K, N, B.data, ldb) : null;
                for (const threads of [2, 1]) {
                  setThreads(threads);
                  const Cw = copy(C0);
                  const what = `${packed ? 'gemmPacked' : 'gemm'}(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta}, threads=${threads})`;
                  if (P !== null) be.gemmPacked(transA, M, alpha, A.data, lda, P, beta, Cw.data, ldc);
                  else be.gemm(transA, transB, M, N, K, alpha, A.data, lda, B.data, ldb, beta, Cw.data, ldc);
                  close(what, Cw.data, Cr.data, 1e-5, 2e-6 * K);
                }
                P?.dispose();
              });
            }
          }
        }
      } finally {
        setThreads(saved);
      }
    });
  }

  test(`${be.name}: unary ops and their backward against the reference`, () => {
    const ops: UnaryOp[] = ['tanh', 'sigmoid', 'relu', 'exp', 'neg'];
    for (const op of ops) {
      for (const n of [0, 1, 3, 4, 5, 17, 1000]) {
        tidy(() => {
          const x = rand(n, -6, 6);
          if (n > 4) x.data.set([0, -0, 1e-7, -3e-5]);
          const yr = rand(n);
          const yw = copy(yr);
          ref.unary(op, x.data, yr.data);
          be.unary(op, x.data, yw.data);
          close(`unary ${op} n=${n}`, yw.data, yr.data, 2e-6, 1e-7);
          const dy = rand(n);
          const dxr = rand(n);
          const dxw = copy(dxr);
          ref.unaryBackwardAcc(op, yr.data, dy.data, dxr.data);
          be.unaryBackwardAcc(op, yr.data, dy.data, dxw.data);
          close(`unaryBackwardAcc ${op} n=${n}`, dxw.data, dxr.data, 1e-6, 1e-7);
        });
      }
    }
  });

  test(`${be.name}: exp, tanh and sigmoid are accurate to a few float32 ulp over their whole range`, () => {
    tidy(() => {
      const n = 200001;
      const x = Tensor.from(Float32Array.from({ length: n }, (_, i) => -110 + (220 * i) / (n - 1)));
      const xs = x.data;
      const y = new Tensor([n]);
      be.unary('exp', x.data, y.data);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const want = Math.fround(Math.exp(xs[i]));
        const got = y.data[i];
        if (want > 1.2e-38 && Number.isFinite(want)) worst = Math.max(worst, Math.abs(got - want) / want);
        else if (want === Infinity) assert.equal(got, Infinity, `exp(${xs[i]})`);
        else assert.ok(Math.abs(got - want) <= 2e-45 + 1e-6 * want, `exp(${xs[i]}) = ${got}, want ${want}`);
      }
      assert.ok(worst < 5e-7, `exp: worst relative error ${worst}`);
      for (const [op, f] of [['tanh', Math.tanh], ['sigmoid', (v: number) => 1 / (1 + Math.exp(-v))]] as const) {
        const small = Tensor.from(Float32Array.from({ length: 20001 }, (_, i) => (i - 10000) * 1e-3 * Math.pow(10, (i % 7) - 6)));
        const ys = new Tensor([small.size]);
        be.unary(op, small.data, ys.data);
        be.unary(op, x.data, y.data);
        for (const [inp, out] of [[small, ys], [x, y]]) {
          let w = 0;
          for (let i = 0; i < inp.size; i++) {
            const want = f(inp.data[i]);
            if (Math.abs(want) > 1e-30) w = Math.max(w, Math.abs(out.data[i] - want) / Math.abs(want));
            else assert.ok(Math.abs(out.data[i] - want) < 1e-37, `${op}(${inp.data[i]})`);
          }
          assert.ok(w < 1e-6, `${op}: worst relative error ${w}`);
        }
      }
      const special = Tensor.from([NaN, Infinity, -Infinity]);
      const out = new Tensor([3]);
      be.unary('exp', special.data, out.data);
      close('exp(NaN, Inf, -Inf)', out.data, [NaN, Infinity, 0]);
      be.unary('tanh', special.data, out.data);
      close('tanh(NaN, Inf, -Inf)', out.data, [NaN, 1, -1]);
    });
  });

  test(`${be.name}: copyRows copies and accumulates strided blocks as the reference does; bad sizes are errors`, () => {
    for (const [rows, cols, ldx, ldo] of [[0, 5, 5, 5], [3, 0, 1, 1], [1, 1, 1, 1], [4, 7, 9, 11], [5, 4, 4, 12], [33, 13, 13, 13], [2, 130, 131, 260]]) {
      tidy(() => {
        const x = rand(rows * ldx + 3);
        for (const accumulate of [false, true]) {
          const or = rand(rows * ldo + 5);
          const ow = copy(or);
          ref.copyRows(rows, cols, x.data.subarray(2), ldx, or.data.subarray(1), ldo, accumulate);
          be.copyRows(rows, cols, x.data.subarray(2), ldx, ow.data.subarray(1), ldo, accumulate);
          close(`copyRows ${rows}x${cols} ${ldx}/${ldo}${accumulate ? ' +=' : ''}`, ow.data, or.data, 0, 0); // outside the block untouched too
        }
      });
    }
    tidy(() => {
      const x = rand(20);
      const out = rand(20);
      assert.throws(() => be.copyRows(3, 7, x.data, 6, out.data, 7, false), /copyRows: the stride of x must be an integer >= cols \(7\), got 6/);
      assert.throws(() => be.copyRows(3, 7, x.data, 7, out.data, 7, false), /copyRows: x has 20 elements, 3 rows of 7 at stride 7 need 21/);
      assert.throws(() => be.copyRows(2, 7, x.data, 7, out.data.subarray(10), 7, true), /copyRows: out has 10 elements/);
      assert.throws(() => be.copyRows(-1, 7, x.data, 7, out.data, 7, true), /copyRows: rows must be a non-negative integer, got -1/);
    });
  });

  test(`${be.name}: binary (with broadcast), axpy, sumRowsAcc, scal, clamp, maxAbs, sumSquares`, () => {
    for (const [n, m] of [[0, 1], [1, 1], [7, 7], [12, 4], [15, 5], [10, 3], [1001, 13], [64, 1]]) {
      tidy(() => {
        const a = rand(n);
        const b = rand(m);
        for (const op of ['add', 'sub', 'mul'] as const) {
          const or = rand(n);
          const ow = copy(or);
          ref.binary(op, a.data, b.data, or.data);
          be.binary(op, a.data, b.data, ow.data);
          close(`binary ${op} ${n}/${m}`, ow.data, or.data);
        }
        const yr = rand(n);
        const yw = copy(yr);
        ref.axpy(-0.3, a.data, yr.data);
        be.axpy(-0.3, a.data, yw.data);
        close(`axpy n=${n}`, yw.data, yr.data);
        if (n % m === 0) {
          const sr = rand(m);
          const sw = copy(sr);
          ref.sumRowsAcc(a.data, m, sr.data);
          be.sumRowsAcc(a.data, m, sw.data);
          close(`sumRowsAcc ${n}/${m}`, sw.data, sr.data, 1e-5, 1e-5);
        }
        const xr = rand(n, -3, 3);
        if (n > 3) xr.data[2] = NaN;
        const xw = copy(xr);
        ref.scal(1.7, xr.data);
        be.scal(1.7, xw.data);
        close(`scal n=${n}`, xw.data, xr.data);
        ref.clamp(xr.data, -1, 0.5);
        be.clamp(xw.data, -1, 0.5);
        close(`clamp n=${n}`, xw.data, xr.data);
        close(`maxAbs n=${n}`, [be.maxAbs(xw.data)], [ref.maxAbs(xr.data)]);
        close(`maxAbs n=${n}`, [be.maxAbs(a.data)], [ref.maxAbs(a.data)]);
        close(`sumSquares n=${n}`, [be.sumSquares(a.data)], [ref.sumSquares(a.data)], 1e-12, 0);
      });
    }
  });

  test(`${be.name}: indexAddRows (repeated ids, odd widths, ids on and off the heap) and its id check`, () => {
    for (const [rows, n, outRows] of [[0, 3, 2], [1, 1, 1], [7, 5, 3], [2500, 13, 65], [40, 512, 9], [20000, 4, 7]]) {
      tidy(() => {
        const x = rand(rows * n);
        const ids = Int32Array.from({ length: rows }, () => rng.int(outRows));
        const or = rand(outRows * n);
        const ow = copy(or);
        ref.indexAddRows(x.data, ids, n, or.data);
        be.indexAddRows(x.data, ids, n, ow.data);
        close(`indexAddRows ${rows}×${n} into ${outRows} rows`, ow.data, or.data, 0, 0); // row order: the same sums
      });
    }
    tidy(() => {
      // ids that live on the heap (a tensor's storage read as int32) take the no-copy path
      const idsT = Tensor.from(new Float32Array(Int32Array.from([2, 0, 2, 1]).buffer)); // (4) int32 bits
      const ids = new Int32Array(idsT.data.buffer, idsT.data.byteOffset, 4);
      const x = rand(4 * 6);
      const or = rand(3 * 6);
      const ow = copy(or);
      ref.indexAddRows(x.data, ids, 6, or.data);
      be.indexAddRows(x.data, ids, 6, ow.data);
      close('indexAddRows with ids on the heap', ow.data, or.data, 0, 0);
      assert.throws(() => be.indexAddRows(x.data, Int32Array.from([0, 1, 3, 0]), 6, ow.data), /indexAddRows: id 3 at row 2 is outside the 3 rows of out/);
      assert.throws(() => be.indexAddRows(x.data, Int32Array.from([0, -1, 0, 0]), 6, ow.data), /id -1 at row 1/);
      assert.throws(() => be.indexAddRows(x.data, Int32Array.from([0, 1, 0]), 6, ow.data), /x holds 24 floats, not 3 rows of 6/);
    });
  });

  test(`${be.name}: gatherRows (repeated ids, odd widths, ids on and off the heap) and its id check`, () => {
    for (const [rows, n, tableRows] of [[0, 3, 2], [1, 1, 1], [7, 5, 3], [2500, 13, 65], [40, 512, 9], [20000, 4, 7]]) {
      tidy(() => {
        const table = rand(tableRows * n);
        const ids = Int32Array.from({ length: rows }, () => rng.int(tableRows));
        const or = rand(rows * n);
        const ow = copy(or);
        ref.gatherRows(table.data, ids, n, or.data);
        be.gatherRows(table.data, ids, n, ow.data);
        close(`gatherRows ${rows}×${n} from ${tableRows} rows`, ow.data, or.data, 0, 0);
        for (let r = 0; r < rows; r++) assert.equal(ow.data[r * n + n - 1], table.data[ids[r] * n + n - 1]);
      });
    }
    tidy(() => {
      const idsT = Tensor.from(new Float32Array(Int32Array.from([2, 0, 2, 1]).buffer)); // (4) int32 bits, on the heap
      const ids = new Int32Array(idsT.data.buffer, idsT.data.byteOffset, 4);
      const table = rand(3 * 6);
      const ow = rand(4 * 6);
      be.gatherRows(table.data, ids, 6, ow.data);
      close('gatherRows with ids on the heap', ow.data.subarray(6, 12), table.data.subarray(0, 6), 0, 0);
      assert.throws(() => be.gatherRows(table.data, Int32Array.from([0, 1, 3, 0]), 6, ow.data), /gatherRows: id 3 at row 2 is outside the 3 rows of table/);
      assert.throws(() => be.gatherRows(table.data, Int32Array.from([0, -1, 0, 0]), 6, ow.data), /id -1 at row 1/);
      assert.throws(() => be.gatherRows(table.data, Int32Array.from([0, 1, 0]), 6, ow.data), /out holds 24 floats, not 3 rows of 6/);
    });
  });

  test(`${be.name}: softmax cross-entropy with an ignore index and label smoothing, with and without dLogits`, () => {
    for (const [rows, V, smoothing] of [[1, 1, 0], [3, 5, 0], [17, 65, 0], [40, 4, 0], [7, 1000, 0], [3, 5, 0.1], [17, 65, 0.25], [5, 3, 1]]) {
      tidy(() => {
        const logits = rand(rows * V, -8, 8);
        const targets = Int32Array.from({ length: rows }, (_, r) => (r % 4 === 1 ? -100 : rng.int(V)));
        const scale = 1 / rows;
        const dr = rand(rows * V);
        const dw = copy(dr);
        const r = ref.softmaxCrossEntropy(logits.data, targets, V, -100, smoothing, scale, dr.data);
        const w = be.softmaxCrossEntropy(logits.data, targets, V, -100, smoothing, scale, dw.data);
        assert.equal(w.count, r.count);
        close(`CE loss ${rows}x${V} ε ${smoothing}`, [w.lossSum], [r.lossSum], 1e-5, 1e-5);
        close(`CE dLogits ${rows}x${V} ε ${smoothing}`, dw.data, dr.data, 1e-5, 1e-7);
        const n = be.softmaxCrossEntropy(logits.data, targets, V, -100, smoothing, scale, null);
        close(`CE loss without dLogits ${rows}x${V} ε ${smoothing}`, [n.lossSum, n.count], [r.lossSum, r.count], 1e-5, 1e-5);
      });
    }
    tidy(() => {
      const logits = rand(12);
      assert.throws(() => be.softmaxCrossEntropy(logits.data, Int32Array.from([0, 4, 1]), 4, -100, 0, 1, null), /target 4 at row 1 is outside \[0, 4\)/);
    });
  });

  test(`${be.name}: optimizer updates against the reference`, () => {
    const n = 37;
    const compare = (what: string, states: number, run: (b: Backend, t: Tensor[]) => void, positive: number[] = []): void => {
      tidy(() => {
        const init = Array.from({ length: states }, (_, i) => (positive.includes(i) ? rand(n, 0.01, 1) : rand(n)));
        const tr = init.map(copy);
        const tw = init.map(copy);
        for (let step = 0; step < 3; step++) {
          run(ref, tr);
          run(be, tw);
        }
        tr.forEach((t, i) => close(`${what}: state ${i}`, tw[i].data, t.data, 2e-5, 1e-6));
      });
    };
    for (const momentum of [0, 0.9]) {
      for (const nesterov of momentum > 0 ? [false, true] : [false]) {
        for (const firstStep of [true, false]) {
          const s = { lr: 0.1, momentum, dampening: nesterov ? 0 : 0.1, weightDecay: 0.01, nesterov };
          compare(`sgd ${JSON.stringify(s)} first=${firstStep}`, 3, (b, [p, g, m]) =>
            b.sgdUpdate(p.data, g.data, momentum > 0 ? m.data : null, firstStep, s));
        }
      }
    }
    compare('adagrad', 3, (b, [p, g, sum]) => b.adagradUpdate(p.data, g.data, sum.data, 0.05, 0.01, 1e-10), [2]);
    for (const centered of [false, true]) {
      for (const momentum of [0, 0.5]) {
        const s = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0.02, momentum };
        compare(`rmsprop centered=${centered} momentum=${momentum}`, 5, (b, [p, g, sq, ga, m]) =>
          b.rmspropUpdate(p.data, g.data, sq.data, centered ? ga.data : null, momentum > 0 ? m.data : null, s), [2]);
      }
    }
    for (const [weightDecay, decoupledDecay] of [[0, 0], [0.1, 0], [0, 0.001]]) {
      const s = { stepSize: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, biasCorrection2Sqrt: 0.3, weightDecay, decoupledDecay };
      compare(`adam wd=${weightDecay} decoupled=${decoupledDecay}`, 4, (b, [p, g, m, v]) => b.adamUpdate(p.data, g.data, m.data, v.data, s), [3]);
    }
  });

  test(`${be.name}: every cell kind, both stages, forward and backward, with and without a mask`, () => {
    const kinds = Object.keys(CELL_LAYOUTS) as CellKind[];
    for (const kind of kinds) {
      const L = CELL_LAYOUTS[kind];
      for (const [B, H] of [[1, 1], [3, 5], [4, 8], [5, 13]]) {
        for (const masked of [false, true]) {
          tidy(() => {
            const GH = L.gates * H;
            const mask = masked ? Tensor.from(Array.from({ length: B }, (_, b) => (b % 2 === 1 ? 0 : 1))) : null;
            const xg = rand(B * GH, -3, 3);
            const hg = rand(B * GH, -3, 3);
            const x = rand(B * H, -2, 2);
            const hPrev = rand(B * H);
            const cPrev = rand(B * H, -2, 2);
            // Outputs start as the same garbage on both sides: masked rows must leave the cache alone.
            const outs = [rand(B * L.cache * H), rand(B * H), rand(B * H), rand(B * H)]; // cache, u, h, c
            const sides = [ref, be].map((b) => {
              const [cache, u, h, c] = outs.map(copy);
              const s = {
                B, H, xg: xg.data, hg: hg.data, x: L.readsX ? x.data : null, hPrev: hPrev.data, cPrev: L.hasCell ? cPrev.data : null,
                mask: mask?.data ?? null, cache: cache.data, u: L.stage0Gate !== null ? u.data : null, h: h.data, c: L.hasCell ? c.data : null,
              };
              if (L.stage0Gate !== null) b.cellForward(kind, 0, s);
              b.cellForward(kind, 1, s);
              return { cache, u, h, c };
            });
            const what = `${kind} B=${B} H=${H}${masked ? ' masked' : ''}`;
            for (const k of ['cache', 'u', 'h', 'c'] as const) close(`${what} forward ${k}`, sides[1][k].data, sides[0][k].data, 1e-5, 1e-6);

            const cache = sides[0].cache; // real activations from the reference forward
            const dh = rand(B * H);
            const dc = rand(B * H);
            const du = rand(B * H);
            const gouts = [rand(B * GH), rand(B * GH), rand(B * H), rand(B * H), rand(B * H)]; // dxg, dhg, dhPrev, dcPrev, dx
            const grads = [ref, be].map((b) => {
              const [dxg, dhg, dhPrev, dcPrev, dx] = gouts.map(copy);
              const s = {
                B, H, hPrev: hPrev.data, cPrev: L.hasCell ? cPrev.data : null, mask: mask?.data ?? null, cache: cache.data,
                dh: dh.data, dc: L.hasCell ? dc.data : null, du: L.stage0Gate !== null ? du.data : null,
                dxg: dxg.data, dhg: dhg.data, dhPrev: dhPrev.data, dcPrev: L.hasCell ? dcPrev.data : null, dx: L.readsX ? dx.data : null,
              };
              b.cellBackward(kind, 1, s);
              if (L.stage0Gate !== null) b.cellBackward(kind, 0, s);
              return { dxg, dhg, dhPrev, dcPrev, dx };
            });
            for (const k of ['dxg', 'dhg', 'dhPrev', 'dcPrev', 'dx'] as const) {
              close(`${what} backward ${k}`, grads[1][k].data, grads[0][k].data, 1e-5, 1e-6);
            }
          });
        }
      }
    }
  });
}

for (const name of ['wasm', 'native'].filter((n) => availableBackends().includes(n))) test(`${name}: the first threaded GEMM never grows the heap (callers keep valid views across kernel calls)`, async () => {
  // A fresh process, so the worker pool has not started yet.
  const { spawnSync } = await import('node:child_process');
  const registry = new URL('../src/backend/registry.js', import.meta.url).href;
  const heapUrl = new URL('../src/tensor/heap.js', import.meta.url).href;
  const script = `
    const { backend, setBackend } = await import(${JSON.stringify(registry)});
    const { heap } = await import(${JSON.stringify(heapUrl)});
    setBackend(${JSON.stringify(name)});
    const be = backend();
    if (be.setThreads) be.setThreads(2);
    const n = 256;
    const offs = [heap.alloc(n * n), heap.alloc(n * n), heap.alloc(n * n)];
    const view = (o) => new Float32Array(heap.memory.buffer, o, n * n);
    const [a, b, c] = offs.map(view);
    const before = heap.memory.buffer.byteLength;
    be.gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n);
    be.axpy(1, a, c); // the same, older views, on the next call
    console.log(JSON.stringify({ before, after: heap.memory.buffer.byteLength }));`;
  // A file, not `node -e`: worker threads started from an eval'd script do not come up.
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'recurrent-grow-')), 'grow.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, RECURRENT_BACKEND: name } });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout.trim());
  assert.equal(after, before, 'heap grew inside a kernel call');
});
