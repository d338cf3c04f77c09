// The WebAssembly backend: kernels written in AssemblyScript with 128-bit SIMD (./assembly/), compiled
// to kernels.wasm by the package build, importing the tensor heap's WebAssembly.Memory so that every
// kernel runs in place on tensor storage — a Float32Array view's byteOffset is the kernel's pointer and
// nothing is copied per call (but Int32 targets and ids when they are not on the heap).
// Large GEMMs and the time loops of recurrent layers are split across worker threads when the heap is
// shared (thread-pool.ts).
// This file is the thin typed wrapper: pointer and bounds checks, op codes, scratch. Not here: loading
// the bytes (load-kernels.ts) or choosing a backend (registry.ts).

import type {
  AdamScalars, AttentionProblem, Backend, BinaryOp, CellBackwardStep, CellForwardStep, CellKind, GeluApproximate, PackedMatrix,
  RecurrentBackwardLoop, RecurrentForwardLoop, RmspropScalars, RowStrides, SgdScalars, UnaryOp, WindowGeometry,
} from '../backend.js';
import { CELL_LAYOUTS, checkPool, checkRowIds, checkRows, checkWindow, colsFloats } from '../backend.js';
import { HEAP_BASE, heap } from '../../tensor/heap.js';
import { createThreadPool, MIN_THREADED_WORK, splitRange } from './thread-pool.js';
import { FN_ATTENTION_BACKWARD, FN_ATTENTION_FORWARD, FN_GEMM, FN_GEMM_PACKED, FN_RECURRENT_BACKWARD, FN_RECURRENT_FORWARD } from './job-slot.js';
import type { NativeAddon, NativeIsa } from '../native/load-native.js';

/** A kernel's arguments but its last (the scratch): what a thread pool part carries. */
type WithoutScratch<F extends (...args: number[]) => unknown> = Parameters<F> extends [...infer A, number] ? A : never;

/** The exports of assembly/index.ts (pointers are byte offsets into the heap; 0 is null). */
interface Kernels {
  dataEnd(): number;
  gemmScratchBytes(): number;
  packedBFloats(K: number, N: number): number;
  packB(transB: number, K: number, N: number, B: number, ldb: number, Bp: number): void;
  gemmPacked(
    transA: number, M: number, N: number, K: number, alpha: number, A: number, lda: number, Bp: number,
    beta: number, C: number, ldc: number, scratch: number,
  ): void;
  gemm(
    transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: number, lda: number, B: number, ldb: number, beta: number, C: number, ldc: number, scratch: number,
  ): void;
  unary(op: number, x: number, out: number, n: number): void;
  unaryBackwardAcc(op: number, y: number, dy: number, dx: number, n: number): void;
  binary(op: number, a: number, b: number, out: number, n: number, m: number): void;
  axpy(alpha: number, x: number, out: number, n: number): void;
  copyRows(rows: number, cols: number, x: number, ldx: number, out: number, ldo: number, accumulate: number): void;
  sumRowsAcc(x: number, rows: number, n: number, out: number): void;
  indexAddRows(x: number, ids: number, rows: number, n: number, out: number): void;
  gatherRows(table: number, ids: number, rows: number, n: number, out: number): void;
  softmaxCrossEntropy(logits: number, targets: number, rows: number, V: number, ignoreIndex: number, smoothing: number, scale: number, dLogits: number): number;
  crossEntropyCount(): number;
  crossEntropyBadRow(): number;
  sumSquares(x: number, n: number): number;
  maxAbs(x: number, n: number): number;
  scal(alpha: number, x: number, n: number): void;
  clamp(x: number, n: number, lo: number, hi: number): void;
  dropoutMask(state: number, threshold: number, keep: number, out: number, n: number): void;
  sgdUpdate(
    param: number, grad: number, buf: number, n: number, firstStep: number,
    lr: number, momentum: number, oneMinusDampening: number, weightDecay: number, nesterov: number,
  ): void;
  adagradUpdate(param: number, grad: number, sum: number, n: number, clr: number, weightDecay: number, eps: number): void;
  rmspropUpdate(
    param: number, grad: number, squareAvg: number, gradAvg: number, buf: number, n: number,
    lr: number, alpha: number, oneMinusAlpha: number, eps: number, weightDecay: number, momentum: number,
  ): void;
  adamUpdate(
    param: number, grad: number, expAvg: number, expAvgSq: number, n: number, stepSize: number, beta1: number,
    oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, eps: number, biasCorrection2Sqrt: number,
    weightDecay: number, keep: number,
  ): void;
  cellForward(
    kind: number, stage: number, B: number, H: number, xg: number, hg: number, x: number, hPrev: number, cPrev: number,
    mask: number, cache: number, u: number, h: number, c: number,
  ): void;
  cellBackward(
    kind: number, stage: number, B: number, H: number, hPrev: number, cPrev: number, mask: number, cache: number,
    dh: number, dc: number, du: number, dxg: number, dhg: number, dhPrev: number, dcPrev: number, dx: number,
  ): void;
  recurrentForward(
    kind: number, T: number, B: number, b0: number, b1: number, H: number, G: number, C: number, reverse: number, recording: number,
    xg: number, hg: number, bhh: number, whhP: number, hs: number, cs: number, gates: number, mask: number,
    y: number, ldy: number, yOff: number, scratch: number,
  ): void;
  recurrentBackward(
    kind: number, T: number, B: number, b0: number, b1: number, H: number, G: number, C: number, reverse: number,
    hs: number, cs: number, gates: number, mask: number, dy: number, ldy: number, yOff: number,
    dh: number, dc: number, dxg: number, dhg: number, whhP: number, scratch: number,
  ): void;
  attentionForward(
    n0: number, n1: number, heads: number, L: number, S: number, D: number, scale: number,
    q: number, qsb: number, qst: number, k: number, ksb: number, kst: number, v: number, vsb: number, vst: number,
    attnMask: number, maskStride: number, keyPadding: number, causal: number,
    probs: number, dropMask: number, dropped: number, out: number, osb: number, ost: number, scratch: number,
  ): void;
  attentionBackward(
    n0: number, n1: number, heads: number, L: number, S: number, D: number, scale: number,
    q: number, qsb: number, qst: number, k: number, ksb: number, kst: number, v: number, vsb: number, vst: number,
    probs: number, dropMask: number, dropped: number, dOut: number, osb: number, ost: number,
    dWeights: number, dScores: number, dq: number, dk: number, dv: number, scratch: number,
  ): void;
  layerNormForward(rows: number, n: number, x: number, weight: number, bias: number, eps: number, y: number, mean: number, rstd: number): void;
  layerNormBackward(rows: number, n: number, x: number, weight: number, mean: number, rstd: number, dy: number, dx: number, dWeight: number, dBias: number): void;
  gelu(approximate: number, x: number, out: number, n: number): void;
  geluBackwardAcc(approximate: number, x: number, dy: number, dx: number, n: number): void;
  im2col(C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, OH: number, OW: number, x: number, cols: number, ldc: number): void;
  col2imAcc(C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, OH: number, OW: number, cols: number, ldc: number, dx: number): void;
  maxPool2dForward(
    C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, OH: number, OW: number,
    x: number, y: number, argmax: number,
  ): void;
  maxPool2dBackwardAcc(C: number, H: number, W: number, OH: number, OW: number, dy: number, argmax: number, dx: number): number;
}

// Op codes: the constants at the top of assembly/elementwise.ts and assembly/cells.ts.
const UNARY: { readonly [K in UnaryOp]: number } = { tanh: 0, sigmoid: 1, relu: 2, exp: 3, neg: 4 };
const BINARY: { readonly [K in BinaryOp]: number } = { add: 0, sub: 1, mul: 2 };
const GELU: { readonly [K in GeluApproximate]: number } = { none: 0, tanh: 1 };
const CELL: { readonly [K in CellKind]: number } = {
  rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3, gru_cho: 4, mut1: 5, mut2: 6, mut3: 7,
};

/** Int32 ids (softmaxCrossEntropy's targets, indexAddRows' ids) copied into the scratch block per call, when not on the heap. */
const ID_ROWS = 16384;

/** The wasm backend: a Backend with a thread count for large GEMMs. */
export type WasmBackend = Backend & {
  /** Threads a large GEMM is split across, the calling thread included. */
  readonly threads: number;
  /**
   * Of those, how many can take work now. In a browser the workers start once the calling code has
   * yielded to the event loop; until then their parts run on the calling thread (same results).
   */
  readonly readyThreads: number;
  /** Sets `threads` (>= 1; more than 1 needs a shared heap and worker threads). */
  setThreads(n: number): void;
  /** The native backend's GEMM instruction set (load-native.ts); null on wasm. */
  readonly nativeIsa: NativeIsa | null;
};

/**
 * Instantiates the compiled kernels against the tensor heap's memory and returns the backend.
 * Throws when the module's static data would overlap the heap (see HEAP_BASE in tensor/heap.ts).
 * Large GEMMs use `threads` threads: RECURRENT_THREADS, else the available cores (1 without a shared heap).
 * With `native`, the backend is "native": the same, but GEMMs and the recurrent time loops run the
 * native addon's AVX2 (and, for GEMM and GELU, AVX-512) kernels (native/kernels.c), on this thread and in the workers.
 */
export function createWasmBackend(module: WebAssembly.Module, native?: NativeAddon): WasmBackend {
  const memory = heap.memory;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels;
  const k: Kernels = native === undefined ? exports : { ...exports, ...native.kernels };
  if (k.dataEnd() > HEAP_BASE) {
    throw new Error(`wasm backend: the module's static data ends at byte ${k.dataEnd()}, above HEAP_BASE (${HEAP_BASE})`);
  }
  const gemmScratch = heap.reserve(k.gemmScratchBytes());
  const idScratch = heap.reserve(ID_ROWS * 4);
  const rngScratch = heap.reserve(16); // a generator's 4 state words, in and out of dropoutMask
  /** Calls fn per chunk of at most ID_ROWS ids with the chunk's heap pointer (ids off the heap are copied to idScratch). */
  const forIdChunks = (ids: Int32Array, fn: (ip: number, r0: number, m: number) => void): void => {
    const onHeap = ids.buffer === memory.buffer;
    for (let r0 = 0; r0 < ids.length; r0 += ID_ROWS) {
      const m = Math.min(ID_ROWS, ids.length - r0);
      if (onHeap) fn(ids.byteOffset + r0 * 4, r0, m);
      else {
        new Int32Array(memory.buffer, idScratch, m).set(ids.subarray(r0, r0 + m));
        fn(idScratch, r0, m);
      }
    }
  };
  const pool = createThreadPool(module, k.gemmScratchBytes(), native?.path);

  let buffer = memory.buffer;
  /** The pointer of a view over the heap; a clear error for anything else (a copy, a detached view). */
  const ptr = (v: Float32Array | Int32Array, name: string): number => {
    if (v.buffer !== buffer) {
      buffer = memory.buffer;
      if (v.buffer !== buffer) {
        throw new Error(
          `wasm backend: ${name} is not a view over the tensor heap (a copy, or a view taken before the heap grew); ` +
            'kernels read and write tensor storage in place',
        );
      }
    }
    return v.byteOffset;
  };
  const opt = (v: Float32Array | null, name: string): number => (v === null ? 0 : ptr(v, name));
  const need = (v: Float32Array | null, n: number, name: string, what: string): void => {
    if (v !== null && v.length < n) throw new Error(`wasm backend: ${what}: ${name} has ${v.length} elements, needs ${n}`);
  };
  const same = (a: Float32Array, b: Float32Array, an: string, bn: string, what: string): number => {
    if (b.length < a.length) throw new Error(`wasm backend: ${what}: ${bn} has ${b.length} elements, ${an} has ${a.length}`);
    return a.length;
  };
  /** Elements a row-major rows×cols operand with row stride ld spans. */
  const extent = (rows: number, cols: number, ld: number, name: string): number => {
    if (rows === 0 || cols === 0) return 0;
    if (ld < cols) throw new Error(`wasm backend: gemm: ld${name} = ${ld} is less than the ${cols} columns ${name} has as stored`);
    return (rows - 1) * ld + cols;
  };

  /** A wasm-packed operand of shape K×N, not disposed. */
  const packedShape = (p: PackedMatrix, K: number, N: number, name: string, what: string): WasmPacked => {
    if (!(p instanceof WasmPacked)) throw new Error(`wasm backend: ${what}: ${name} was packed by the ${p.backend} backend`);
    if (p.disposed) throw new Error(`wasm backend: ${what}: ${name} was disposed`);
    if (p.K !== K || p.N !== N) throw new Error(`wasm backend: ${what}: ${name} is packed ${p.K}×${p.N}, needs ${K}×${N}`);
    return p;
  };
  /**
   * Runs a recurrent time loop whose arguments 3 and 4 are its batch rows [b0, b1): on blocks of rows
   * across the threads when there are enough rows and work (`macs` multiply-adds), else on all rows here.
   */
  const runRows = (args: number[], B: number, macs: number, fn: number, run: (p: number[]) => void): void => {
    if (pool.threads > 1 && B >= 8 && macs >= MIN_THREADED_WORK) {
      const parts = splitRange(B, pool.threads, 4).map(([lo, hi]) => args.map((v, i) => (i === 3 ? lo : i === 4 ? hi : v)));
      if (parts.length > 1) return pool.run(fn, parts, run);
    }
    run(args);
  };
  /** Checks an attention problem's buffers; its operands' pointers and strides, [q, qsb, qst, k, ..., vst]. */
  const attentionOperands = (p: AttentionProblem, what: string): number[] => {
    const { B, heads, L, S, D } = p;
    const span = (st: RowStrides, T: number): number => (B > 0 && T > 0 ? (B - 1) * st.batch + (T - 1) * st.time + heads * D : 0);
    need(p.q, span(p.qs, L), 'q', what);
    need(p.k, span(p.ks, S), 'k', what);
    need(p.v, span(p.vs, S), 'v', what);
    return [ptr(p.q, 'q'), p.qs.batch, p.qs.time, ptr(p.k, 'k'), p.ks.batch, p.ks.time, ptr(p.v, 'v'), p.vs.batch, p.vs.time];
  };
  /** Runs an attention kernel over problems [0, N) (arguments 0 and 1), split across the threads when it is big enough. */
  const runProblems = (args: number[], N: number, macs: number, fn: number, run: (p: number[]) => void): void => {
    if (pool.threads > 1 && N >= 2 && macs >= MIN_THREADED_WORK) {
      const parts = splitRange(N, pool.threads, 1).map(([lo, hi]) => [lo, hi, ...args.slice(2)]);
      if (parts.length > 1) return pool.run(fn, parts, run);
    }
    run(args);
  };

  return {
    name: native === undefined ? 'wasm' : 'native',
    nativeIsa: native?.isa ?? null,

    get threads() {
      return pool.threads;
    },

    get readyThreads() {
      return pool.readyThreads;
    },

    setThreads(n) {
      pool.setThreads(n);
    },

    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M === 0 || N === 0) return;
      need(C, extent(M, N, ldc, 'c'), 'C', 'gemm');
      if (K > 0 && alpha !== 0) {
        need(A, transA ? extent(K, M, lda, 'a') : extent(M, K, lda, 'a'), 'A', 'gemm');
        need(B, transB ? extent(N, K, ldb, 'b') : extent(K, N, ldb, 'b'), 'B', 'gemm');
      }
      const tA = transA ? 1 : 0;
      const tB = transB ? 1 : 0;
      const a = ptr(A, 'A');
      const b = ptr(B, 'B');
      const c = ptr(C, 'C');
      if (pool.threads > 1 && M * N * K >= MIN_THREADED_WORK) {
        // Blocks of rows of C (and A) or of columns of C (and B), whichever is longer; each block is
        // aligned to the micro-kernel's MR = 4 rows or NR = 8 columns, so only the last has edge tiles.
        const parts = M > N
          ? splitRange(M, pool.threads, 4).map(([lo, hi]) => [tA, tB, hi - lo, N, K, alpha, a + (tA ? lo : lo * lda) * 4, lda, b, ldb, beta, c + lo * ldc * 4, ldc])
          : splitRange(N, pool.threads, 8).map(([lo, hi]) => [tA, tB, M, hi - lo, K, alpha, a, lda, b + (tB ? lo * ldb : lo) * 4, ldb, beta, c + lo * 4, ldc]);
        if (parts.length > 1) return pool.run(FN_GEMM, parts, (p) => k.gemm(...(p as WithoutScratch<Kernels['gemm']>), gemmScratch));
      }
      k.gemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, gemmScratch);
    },

    packB(transB, K, N, B, ldb) {
      const floats = K > 0 && N > 0 ? k.packedBFloats(K, N) : 0;
      if (floats > 0) need(B, transB ? extent(N, K, ldb, 'b') : extent(K, N, ldb, 'b'), 'B', 'packB');
      const src = ptr(B, 'B'); // before the allocation, which may grow the heap and detach B
      const p = new WasmPacked(K, N, floats);
      if (floats > 0) k.packB(transB ? 1 : 0, K, N, src, ldb, p.offset);
      return p;
    },

    gemmPacked(transA, M, alpha, A, lda, packed, beta, C, ldc) {
      if (!(packed instanceof WasmPacked)) throw new Error(`wasm backend: gemmPacked: the operand was packed by the ${packed.backend} backend`);
      if (packed.disposed) throw new Error('wasm backend: gemmPacked: the packed operand was disposed');
      const { K, N } = packed;
      if (M === 0 || N === 0) return;
      need(C, extent(M, N, ldc, 'c'), 'C', 'gemmPacked');
      if (K > 0 && alpha !== 0) need(A, transA ? extent(K, M, lda, 'a') : extent(M, K, lda, 'a'), 'A', 'gemmPacked');
      const tA = transA ? 1 : 0;
      const a = ptr(A, 'A');
      const c = ptr(C, 'C');
      const bp = packed.offset;
      if (pool.threads > 1 && M * N * K >= MIN_THREADED_WORK) {
        // Blocks of rows (B is packed whole).
        const parts = splitRange(M, pool.threads, 4).map(([lo, hi]) => [tA, hi - lo, N, K, alpha, a + (tA ? lo : lo * lda) * 4, lda, bp, beta, c + lo * ldc * 4, ldc]);
        if (parts.length > 1) return pool.run(FN_GEMM_PACKED, parts, (p) => k.gemmPacked(...(p as WithoutScratch<Kernels['gemmPacked']>), gemmScratch));
      }
      k.gemmPacked(tA, M, N, K, alpha, a, lda, bp, beta, c, ldc, gemmScratch);
    },

    unary(op, x, out) {
      k.unary(UNARY[op], ptr(x, 'x'), ptr(out, 'out'), same(x, out, 'x', 'out', 'unary'));
    },

    unaryBackwardAcc(op, y, dy, dx) {
      const n = same(y, dy, 'y', 'dy', 'unaryBackwardAcc');
      same(y, dx, 'y', 'dx', 'unaryBackwardAcc');
      k.unaryBackwardAcc(UNARY[op], ptr(y, 'y'), ptr(dy, 'dy'), ptr(dx, 'dx'), n);
    },

    binary(op, a, b, out) {
      const n = same(a, out, 'a', 'out', 'binary');
      if (n > 0 && b.length === 0) throw new Error('wasm backend: binary: b is empty');
      k.binary(BINARY[op], ptr(a, 'a'), ptr(b, 'b'), ptr(out, 'out'), n, Math.min(b.length, n));
    },

    axpy(alpha, x, out) {
      k.axpy(alpha, ptr(x, 'x'), ptr(out, 'out'), same(x, out, 'x', 'out', 'axpy'));
    },

    copyRows(rows, cols, x, ldx, out, ldo, accumulate) {
      checkRows(rows, cols, x.length, ldx, out.length, ldo, 'wasm');
      if (rows > 0 && cols > 0) k.copyRows(rows, cols, ptr(x, 'x'), ldx, ptr(out, 'out'), ldo, accumulate ? 1 : 0);
    },

    sumRowsAcc(x, n, out) {
      need(out, n, 'out', 'sumRowsAcc');
      k.sumRowsAcc(ptr(x, 'x'), n === 0 ? 0 : Math.floor(x.length / n), n, ptr(out, 'out'));
    },

    indexAddRows(x, ids, n, out) {
      checkRowIds(ids, n, x.length, out.length, 'wasm');
      const xp = ptr(x, 'x');
      const op = ptr(out, 'out');
      forIdChunks(ids, (ip, r0, m) => k.indexAddRows(xp + r0 * n * 4, ip, m, n, op));
    },

    gatherRows(table, ids, n, out) {
      checkRowIds(ids, n, out.length, table.length, 'wasm', 'gatherRows', 'out', 'table');
      const tp = ptr(table, 'table');
      const op = ptr(out, 'out');
      forIdChunks(ids, (ip, r0, m) => k.gatherRows(tp, ip, m, n, op + r0 * n * 4));
    },

    softmaxCrossEntropy(logits, targets, V, ignoreIndex, smoothing, scale, dLogits) {
      const rows = targets.length;
      need(logits, rows * V, 'logits', 'softmaxCrossEntropy');
      need(dLogits, rows * V, 'dLogits', 'softmaxCrossEntropy');
      const lp = ptr(logits, 'logits');
      const dp = opt(dLogits, 'dLogits');
      let lossSum = 0;
      let count = 0;
      forIdChunks(targets, (tp, r0, n) => {
        lossSum += k.softmaxCrossEntropy(lp + r0 * V * 4, tp, n, V, ignoreIndex, smoothing, scale, dp === 0 ? 0 : dp + r0 * V * 4);
        const bad = k.crossEntropyBadRow();
        if (bad >= 0) {
          const r = r0 + bad;
          throw new Error(`cross-entropy: target ${targets[r]} at row ${r} is outside [0, ${V})`);
        }
        count += k.crossEntropyCount();
      });
      return { lossSum, count };
    },

    sumSquares(x) {
      return k.sumSquares(ptr(x, 'x'), x.length);
    },

    maxAbs(x) {
      return k.maxAbs(ptr(x, 'x'), x.length);
    },

    scal(alpha, x) {
      k.scal(alpha, ptr(x, 'x'), x.length);
    },

    clamp(x, lo, hi) {
      k.clamp(ptr(x, 'x'), x.length, lo, hi);
    },

    dropoutMask(state, p, keep, out) {
      if (state.length !== 4) throw new Error(`wasm backend: dropoutMask needs a state of 4 words, got ${state.length}`);
      const words = new Uint32Array(memory.buffer, rngScratch, 4);
      words.set(state);
      // (bits >>> 8) < p·2²⁴ is (bits >>> 8) < ⌈p·2²⁴⌉ on integers: exact, as xoshiroDropoutMask compares.
      k.dropoutMask(rngScratch, Math.ceil(p * 16777216), keep, ptr(out, 'out'), out.length);
      state.set(new Uint32Array(memory.buffer, rngScratch, 4));
    },

    sgdUpdate(param, grad, buf, firstStep, s: SgdScalars) {
      const n = same(param, grad, 'param', 'grad', 'sgdUpdate');
      if (buf !== null) same(param, buf, 'param', 'momentumBuffer', 'sgdUpdate');
      k.sgdUpdate(
        ptr(param, 'param'), ptr(grad, 'grad'), opt(buf, 'momentumBuffer'), n, firstStep ? 1 : 0,
        s.lr, s.momentum, 1 - s.dampening, s.weightDecay, s.nesterov ? 1 : 0,
      );
    },

    adagradUpdate(param, grad, sum, clr, weightDecay, eps) {
      const n = same(param, grad, 'param', 'grad', 'adagradUpdate');
      same(param, sum, 'param', 'sum', 'adagradUpdate');
      k.adagradUpdate(ptr(param, 'param'), ptr(grad, 'grad'), ptr(sum, 'sum'), n, clr, weightDecay, eps);
    },

    rmspropUpdate(param, grad, squareAvg, gradAvg, buf, s: RmspropScalars) {
      const n = same(param, grad, 'param', 'grad', 'rmspropUpdate');
      same(param, squareAvg, 'param', 'squareAvg', 'rmspropUpdate');
      if (gradAvg !== null) same(param, gradAvg, 'param', 'gradAvg', 'rmspropUpdate');
      if (buf !== null) same(param, buf, 'param', 'momentumBuffer', 'rmspropUpdate');
      k.rmspropUpdate(
        ptr(param, 'param'), ptr(grad, 'grad'), ptr(squareAvg, 'squareAvg'), opt(gradAvg, 'gradAvg'), opt(buf, 'momentumBuffer'), n,
        s.lr, s.alpha, 1 - s.alpha, s.eps, s.weightDecay, s.momentum,
      );
    },

    adamUpdate(param, grad, expAvg, expAvgSq, s: AdamScalars) {
      const n = same(param, grad, 'param', 'grad', 'adamUpdate');
      same(param, expAvg, 'param', 'expAvg', 'adamUpdate');
      same(param, expAvgSq, 'param', 'expAvgSq', 'adamUpdate');
      k.adamUpdate(
        ptr(param, 'param'), ptr(grad, 'grad'), ptr(expAvg, 'expAvg'), ptr(expAvgSq, 'expAvgSq'), n,
        s.stepSize, s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.eps, s.biasCorrection2Sqrt, s.weightDecay, 1 - s.decoupledDecay,
      );
    },

    cellForward(kind, stage, s: CellForwardStep) {
      const L = CELL_LAYOUTS[kind];
      if (stage === 0 && L.stage0Gate === null) throw new Error(`cellForward: cell ${kind} has no stage 0 (it is a one-stage cell)`);
      const { B, H } = s;
      const what = `cellForward(${kind}, ${stage})`;
      need(s.xg, B * L.gates * H, 'xg', what);
      need(s.hg, B * L.gates * H, 'hg', what);
      need(s.cache, B * L.cache * H, 'cache', what);
      need(s.hPrev, B * H, 'hPrev', what);
      need(s.h, B * H, 'h', what);
      need(s.mask, B, 'mask', what);
      if (L.readsX) need(nonNull(s.x, 'x', what), B * H, 'x', what);
      if (L.hasCell) {
        need(nonNull(s.cPrev, 'cPrev', what), B * H, 'cPrev', what);
        need(nonNull(s.c, 'c', what), B * H, 'c', what);
      }
      if (L.stage0Gate !== null) need(nonNull(s.u, 'u', what), B * H, 'u', what);
      k.cellForward(
        CELL[kind], stage, B, H, ptr(s.xg, 'xg'), ptr(s.hg, 'hg'), opt(L.readsX ? s.x : null, 'x'), ptr(s.hPrev, 'hPrev'),
        opt(L.hasCell ? s.cPrev : null, 'cPrev'), opt(s.mask, 'mask'), ptr(s.cache, 'cache'),
        opt(L.stage0Gate !== null ? s.u : null, 'u'), ptr(s.h, 'h'), opt(L.hasCell ? s.c : null, 'c'),
      );
    },

    cellBackward(kind, stage, s: CellBackwardStep) {
      const L = CELL_LAYOUTS[kind];
      if (stage === 0 && L.stage0Gate === null) throw new Error(`cellBackward: cell ${kind} has no stage 0 (it is a one-stage cell)`);
      const { B, H } = s;
      const what = `cellBackward(${kind}, ${stage})`;
      need(s.dxg, B * L.gates * H, 'dxg', what);
      need(s.dhg, B * L.gates * H, 'dhg', what);
      need(s.cache, B * L.cache * H, 'cache', what);
      need(s.hPrev, B * H, 'hPrev', what);
      need(s.dh, B * H, 'dh', what);
      need(s.dhPrev, B * H, 'dhPrev', what);
      need(s.mask, B, 'mask', what);
      if (L.readsX) need(nonNull(s.dx, 'dx', what), B * H, 'dx', what);
      if (L.hasCell) {
        need(nonNull(s.cPrev, 'cPrev', what), B * H, 'cPrev', what);
        need(nonNull(s.dc, 'dc', what), B * H, 'dc', what);
        need(nonNull(s.dcPrev, 'dcPrev', what), B * H, 'dcPrev', what);
      }
      if (stage === 0) need(nonNull(s.du, 'du', what), B * H, 'du', what);
      k.cellBackward(
        CELL[kind], stage, B, H, ptr(s.hPrev, 'hPrev'), opt(L.hasCell ? s.cPrev : null, 'cPrev'), opt(s.mask, 'mask'),
        ptr(s.cache, 'cache'), ptr(s.dh, 'dh'), opt(L.hasCell ? s.dc : null, 'dc'), opt(stage === 0 ? s.du : null, 'du'),
        ptr(s.dxg, 'dxg'), ptr(s.dhg, 'dhg'), ptr(s.dhPrev, 'dhPrev'), opt(L.hasCell ? s.dcPrev : null, 'dcPrev'),
        opt(L.readsX ? s.dx : null, 'dx'),
      );
    },

    recurrentForward(kind, s: RecurrentForwardLoop) {
      const L = CELL_LAYOUTS[kind];
      const { T, B, H } = s;
      const GH = L.gates * H;
      const what = `recurrentForward(${kind})`;
      const S = s.recording ? T + 1 : 2;
      const whh = packedShape(s.whh, H, GH, 'whh', what);
      need(s.xg, T * B * GH, 'xg', what);
      need(s.hg, B * GH, 'hg', what);
      need(s.bhh, GH, 'bhh', what);
      need(s.hs, S * B * H, 'hs', what);
      if (L.hasCell) need(nonNull(s.cs, 'cs', what), S * B * H, 'cs', what);
      need(s.gates, (s.recording ? T : 1) * B * L.cache * H, 'gates', what);
      need(s.mask, T * B, 'mask', what);
      need(s.y, T > 0 && B > 0 ? ((T * B - 1) * s.ldy + s.yOffset + H) : 0, 'y', what);
      const args = [
        CELL[kind], T, B, 0, B, H, L.gates, L.cache, s.reverse ? 1 : 0, s.recording ? 1 : 0, ptr(s.xg, 'xg'), ptr(s.hg, 'hg'),
        opt(s.bhh, 'bhh'), whh.offset, ptr(s.hs, 'hs'), opt(L.hasCell ? s.cs : null, 'cs'), ptr(s.gates, 'gates'),
        opt(s.mask, 'mask'), ptr(s.y, 'y'), s.ldy, s.yOffset,
      ];
      const run = (p: number[]): void => k.recurrentForward(...(p as WithoutScratch<Kernels['recurrentForward']>), gemmScratch);
      runRows(args, B, T * B * GH * H, FN_RECURRENT_FORWARD, run);
    },

    attentionForward(f) {
      const { B, heads, L, S, D } = f;
      const N = B * heads;
      const what = 'attentionForward';
      const ops = attentionOperands(f, what);
      need(f.probs, N * L * S, 'probs', what);
      need(f.dropMask, N * L * S, 'dropMask', what);
      if (f.dropMask !== null) need(nonNull(f.dropped, 'dropped', what), N * L * S, 'dropped', what);
      need(f.attnMask, N > 0 ? (N - 1) * f.maskStride + L * S : 0, 'attnMask', what);
      need(f.keyPadding, B * S, 'keyPadding', what);
      need(f.out, B > 0 && L > 0 ? (B - 1) * f.os.batch + (L - 1) * f.os.time + heads * D : 0, 'out', what);
      if (N === 0 || L === 0) return;
      const args = [
        0, N, heads, L, S, D, f.scale, ...ops, opt(f.attnMask, 'attnMask'), f.maskStride, opt(f.keyPadding, 'keyPadding'), f.causal ? 1 : 0,
        ptr(f.probs, 'probs'), opt(f.dropMask, 'dropMask'), opt(f.dropMask !== null ? f.dropped : null, 'dropped'), ptr(f.out, 'out'), f.os.batch, f.os.time,
      ];
      const run = (p: number[]): void => k.attentionForward(...(p as WithoutScratch<Kernels['attentionForward']>), gemmScratch);
      runProblems(args, N, 2 * N * L * S * D, FN_ATTENTION_FORWARD, run);
    },

    attentionBackward(g) {
      const { B, heads, L, S, D } = g;
      const N = B * heads;
      const what = 'attentionBackward';
      const ops = attentionOperands(g, what);
      for (const [name, t] of [['probs', g.probs], ['dScores', g.dScores], ['dropMask', g.dropMask], ['dWeights', g.dWeights]] as const) need(t, N * L * S, name, what);
      if (g.dropMask !== null) need(nonNull(g.dropped, 'dropped', what), N * L * S, 'dropped', what);
      need(g.dOut, B > 0 && L > 0 ? (B - 1) * g.os.batch + (L - 1) * g.os.time + heads * D : 0, 'dOut', what);
      for (const [name, t, len] of [['dq', g.dq, g.q.length], ['dk', g.dk, g.k.length], ['dv', g.dv, g.v.length]] as const) need(t, len, name, what);
      if (N === 0 || L === 0) return;
      const args = [
        0, N, heads, L, S, D, g.scale, ...ops, ptr(g.probs, 'probs'), opt(g.dropMask, 'dropMask'), opt(g.dropMask !== null ? g.dropped : null, 'dropped'),
        ptr(g.dOut, 'dOut'), g.os.batch, g.os.time, opt(g.dWeights, 'dWeights'), ptr(g.dScores, 'dScores'), opt(g.dq, 'dq'), opt(g.dk, 'dk'), opt(g.dv, 'dv'),
      ];
      const run = (p: number[]): void => k.attentionBackward(...(p as WithoutScratch<Kernels['attentionBackward']>), gemmScratch);
      runProblems(args, N, 4 * N * L * S * D, FN_ATTENTION_BACKWARD, run);
    },

    layerNormForward(rows, n, x, weight, bias, eps, y, mean, rstd) {
      const what = 'layerNormForward';
      need(x, rows * n, 'x', what);
      need(y, rows * n, 'y', what);
      need(weight, n, 'weight', what);
      need(bias, n, 'bias', what);
      need(mean, rows, 'mean', what);
      need(rstd, rows, 'rstd', what);
      if (rows === 0 || n === 0) return;
      k.layerNormForward(rows, n, ptr(x, 'x'), opt(weight, 'weight'), opt(bias, 'bias'), eps, ptr(y, 'y'), ptr(mean, 'mean'), ptr(rstd, 'rstd'));
    },

    layerNormBackward(rows, n, x, weight, mean, rstd, dy, dx, dWeight, dBias) {
      const what = 'layerNormBackward';
      for (const [name, t, len] of [['x', x, rows * n], ['dy', dy, rows * n], ['dx', dx, rows * n], ['weight', weight, n], ['dWeight', dWeight, n],
        ['dBias', dBias, n], ['mean', mean, rows], ['rstd', rstd, rows]] as const) need(t, len, name, what);
      if (rows === 0 || n === 0) return;
      k.layerNormBackward(rows, n, ptr(x, 'x'), opt(weight, 'weight'), ptr(mean, 'mean'), ptr(rstd, 'rstd'), ptr(dy, 'dy'), opt(dx, 'dx'), opt(dWeight, 'dWeight'), opt(dBias, 'dBias'));
    },

    gelu(approximate, x, out) {
      k.gelu(GELU[approximate], ptr(x, 'x'), ptr(out, 'out'), same(x, out, 'x', 'out', 'gelu'));
    },

    geluBackwardAcc(approximate, x, dy, dx) {
      const n = same(x, dy, 'x', 'dy', 'geluBackwardAcc');
      same(x, dx, 'x', 'dx', 'geluBackwardAcc');
      k.geluBackwardAcc(GELU[approximate], ptr(x, 'x'), ptr(dy, 'dy'), ptr(dx, 'dx'), n);
    },

    im2col(g, x, cols, ldc) {
      const n = colsFloats(g, ldc, 'wasm', 'im2col');
      checkWindow(g, x.length, cols.length, n, 'wasm', 'im2col', 'x', 'cols');
      if (n > 0) k.im2col(...windowArgs(g), ptr(x, 'x'), ptr(cols, 'cols'), ldc);
    },

    col2imAcc(g, cols, ldc, dx) {
      const n = colsFloats(g, ldc, 'wasm', 'col2imAcc');
      checkWindow(g, dx.length, cols.length, n, 'wasm', 'col2imAcc', 'dx', 'cols');
      if (n > 0) k.col2imAcc(...windowArgs(g), ptr(cols, 'cols'), ldc, ptr(dx, 'dx'));
    },

    maxPool2dForward(g, x, y, argmax) {
      checkWindow(g, x.length, y.length, g.C * g.OH * g.OW, 'wasm', 'maxPool2dForward', 'x', 'y');
      checkPool(g, argmax.length, 'wasm', 'maxPool2dForward');
      if (g.C * g.OH * g.OW > 0) k.maxPool2dForward(...windowArgs(g), ptr(x, 'x'), ptr(y, 'y'), ptr(argmax, 'argmax'));
    },

    maxPool2dBackwardAcc(g, dy, argmax, dx) {
      checkWindow(g, dx.length, dy.length, g.C * g.OH * g.OW, 'wasm', 'maxPool2dBackwardAcc', 'dx', 'dy');
      checkPool(g, argmax.length, 'wasm', 'maxPool2dBackwardAcc');
      if (g.C * g.OH * g.OW === 0) return;
      const bad = k.maxPool2dBackwardAcc(g.C, g.H, g.W, g.OH, g.OW, ptr(dy, 'dy'), ptr(argmax, 'argmax'), ptr(dx, 'dx'));
      if (bad >= 0) throw new Error(`wasm backend: maxPool2dBackwardAcc: argmax ${argmax[bad]} at ${bad} is outside its plane of ${g.H}×${g.W}`);
    },

    recurrentBackward(kind, s: RecurrentBackwardLoop) {
      const L = CELL_LAYOUTS[kind];
      const { T, B, H } = s;
      const GH = L.gates * H;
      const what = `recurrentBackward(${kind})`;
      const whh = packedShape(s.whh, GH, H, 'whh', what);
      need(s.hs, (T + 1) * B * H, 'hs', what);
      if (L.hasCell) {
        need(nonNull(s.cs, 'cs', what), (T + 1) * B * H, 'cs', what);
        need(nonNull(s.dc, 'dc', what), 2 * B * H, 'dc', what);
      }
      need(s.gates, T * B * L.cache * H, 'gates', what);
      need(s.mask, T * B, 'mask', what);
      need(s.dy, T > 0 && B > 0 ? ((T * B - 1) * s.ldy + s.yOffset + H) : 0, 'dy', what);
      need(s.dh, 2 * B * H, 'dh', what);
      need(s.dxg, T * B * GH, 'dxg', what);
      need(s.dhg, T * B * GH, 'dhg', what);
      const args = [
        CELL[kind], T, B, 0, B, H, L.gates, L.cache, s.reverse ? 1 : 0, ptr(s.hs, 'hs'), opt(L.hasCell ? s.cs : null, 'cs'),
        ptr(s.gates, 'gates'), opt(s.mask, 'mask'), opt(s.dy, 'dy'), s.ldy, s.yOffset, ptr(s.dh, 'dh'),
        opt(L.hasCell ? s.dc : null, 'dc'), ptr(s.dxg, 'dxg'), ptr(s.dhg, 'dhg'), whh.offset,
      ];
      const run = (p: number[]): void => k.recurrentBackward(...(p as WithoutScratch<Kernels['recurrentBackward']>), gemmScratch);
      runRows(args, B, T * B * GH * H, FN_RECURRENT_BACKWARD, run);
    },
  };
}

/** A packed op(B) in the kernels' panel layout (assembly/gemm.ts, packedBFloats), in a heap block. */
class WasmPacked implements PackedMatrix {
  readonly backend = 'wasm';
  readonly offset: number;
  disposed = false;
  constructor(readonly K: number, readonly N: number, private readonly floats: number) {
    this.offset = floats > 0 ? heap.alloc(floats, false) : 0; // unzeroed: packB writes every float, the panels' padding included
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.floats > 0) heap.release(this.offset, this.floats);
  }
}

/** A window geometry as the kernels' first eleven arguments. */
function windowArgs(g: WindowGeometry): [number, number, number, number, number, number, number, number, number, number, number] {
  return [g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.OH, g.OW];
}

function nonNull(v: Float32Array | null, name: string, what: string): Float32Array {
  if (v === null) throw new Error(`wasm backend: ${what}: ${name} is null but the cell needs it`);
  return v;
}
