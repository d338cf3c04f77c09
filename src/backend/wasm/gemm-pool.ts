// Worker threads for large GEMMs on the wasm backend. The main thread splits C into blocks of rows (M)
// or columns (N), hands one block to each worker through its job slot (gemm-job.ts: shared memory and
// Atomics, no message per call), runs the first block itself, then sleeps in Atomics.wait until every
// worker reports DONE. Each block is an ordinary gemm on sub-views, so the result equals the one-thread
// result bit for bit. Small GEMMs (a recurrent layer's per-step products) stay on one thread: waking a
// worker costs tens of µs. Workers start on first use, are unref'ed (they never keep a process alive)
// and need a shared heap (tensor/heap.ts). Only Node starts workers here; a browser would start
// gemm-worker.js as a module Web Worker and could not block its main thread in Atomics.wait.

import { heap } from '../../tensor/heap.js';
import * as J from './gemm-job.js';

type NodeWorker = { unref(): void; terminate(): Promise<number> };
type WorkerCtor = new (url: URL, options: { workerData: J.WorkerInit }) => NodeWorker;

const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; env?: Record<string, string | undefined> } }).process;
const isNode = nodeProcess?.versions?.node !== undefined;
const WorkerClass: WorkerCtor | null = isNode ? ((await import('node:worker_threads')).Worker as unknown as WorkerCtor) : null;
const cores = isNode ? (await import('node:os')).availableParallelism() : 1;

/**
 * M·N·K from which a GEMM is split. Measured on 2 cores (scripts/bench-gemm.ts, 2 threads vs 1): 64³ drops
 * from 28 to 4 GFLOP/s, 50×512×128 (a CR per-step product, 3.3M) is even, 100×512×128 (6.6M) goes 23 → 41;
 * below it the wake-up (~100 µs) and the duplicated packing cost more than the second core saves.
 */
export const MIN_THREADED_WORK = 1 << 22;
/** How long the first threaded call waits for a worker to start before giving up. */
const START_TIMEOUT_MS = 10_000;

interface PoolWorker {
  readonly slot: Int32Array;
  readonly slotF: Float32Array;
  readonly handle: NodeWorker;
}

export interface GemmPool {
  /** Threads a large GEMM is split across, the main thread included. */
  readonly threads: number;
  setThreads(n: number): void;
  /**
   * Runs the gemm (kind JOB_GEMM; B is B) or gemmPacked (JOB_PACKED; B is the packed Bp, split by rows
   * only) split across the threads and returns true, or returns false when it is too small to split.
   * Pointers are heap byte offsets, already bounds-checked; `self` runs the main thread's block.
   */
  run(
    kind: number, transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: number, lda: number, B: number, ldb: number, beta: number, C: number, ldc: number,
    self: (M: number, N: number, A: number, B: number, C: number) => void,
  ): boolean;
}

/** The default thread count: RECURRENT_THREADS if set, else the available cores; 1 without a shared heap. */
function defaultThreads(): number {
  if (!heap.shared || WorkerClass === null) return 1;
  const env = nodeProcess?.env?.RECURRENT_THREADS;
  if (env !== undefined && env !== '') return checkThreads(Number(env), 'RECURRENT_THREADS');
  return Math.max(1, cores);
}

function checkThreads(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a whole number of threads >= 1, got ${n}`);
  if (n > 1 && (!heap.shared || WorkerClass === null)) {
    throw new Error(`${name}: ${n} threads need a shared heap (SharedArrayBuffer) and node:worker_threads, which this environment lacks`);
  }
  return n;
}

export function createGemmPool(module: WebAssembly.Module, scratchBytes: number): GemmPool {
  const workers: PoolWorker[] = [];
  // NOTE: each worker's scratch is reserved when the thread count is set, never inside a kernel call:
  // growing the heap there would leave the caller holding views of the old buffer for its next call.
  const scratch: number[] = [];
  const reserveScratch = (n: number): void => {
    while (scratch.length < n - 1) scratch.push(heap.reserve(scratchBytes));
  };
  let threads = defaultThreads();
  reserveScratch(threads);

  const spawn = (): PoolWorker => {
    const buf = new SharedArrayBuffer(J.SLOT_INTS * 4);
    const init: J.WorkerInit = { module, memory: heap.memory, slot: buf, scratch: scratch[workers.length] };
    const handle = new WorkerClass!(new URL('./gemm-worker.js', import.meta.url), { workerData: init });
    handle.unref();
    return { slot: new Int32Array(buf), slotF: new Float32Array(buf), handle };
  };
  const ready = (w: PoolWorker): void => {
    if (Atomics.load(w.slot, J.READY) === 1) return;
    if (Atomics.wait(w.slot, J.READY, 0, START_TIMEOUT_MS) === 'timed-out' && Atomics.load(w.slot, J.READY) !== 1) {
      throw new Error(`wasm backend: a GEMM worker thread did not start within ${START_TIMEOUT_MS} ms`);
    }
  };

  return {
    get threads() {
      return threads;
    },

    setThreads(n) {
      threads = checkThreads(n, 'setThreads');
      reserveScratch(threads);
    },

    run(kind, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, self) {
      if (threads < 2 || M * N * K < MIN_THREADED_WORK) return false;
      const byRows = kind === J.JOB_PACKED || M > N;
      const dim = byRows ? M : N;
      const align = byRows ? 4 : 8; // the micro-kernel's MR and NR, so only the last block has edge tiles
      const step = Math.ceil(dim / threads / align) * align;
      const parts = Math.ceil(dim / step);
      if (parts < 2) return false;
      while (workers.length < parts - 1) workers.push(spawn());
      for (let p = 1; p < parts; p++) ready(workers[p - 1]);
      // The block [lo, hi) of rows or columns: its sub-problem's size and pointers.
      const block = (lo: number, hi: number): [number, number, number, number, number] =>
        byRows
          ? [hi - lo, N, A + (transA ? lo : lo * lda) * 4, B, C + lo * ldc * 4]
          : [M, hi - lo, A, B + (transB ? lo * ldb : lo) * 4, C + lo * 4];
      for (let p = 1; p < parts; p++) {
        const [m, n, a, b, c] = block(p * step, Math.min(dim, (p + 1) * step));
        const { slot: s, slotF: f } = workers[p - 1];
        s[J.KIND] = kind;
        s[J.TRANS_A] = transA;
        s[J.TRANS_B] = transB;
        s[J.M] = m;
        s[J.N] = n;
        s[J.K] = K;
        s[J.A] = a;
        s[J.LDA] = lda;
        s[J.B] = b;
        s[J.LDB] = ldb;
        s[J.C] = c;
        s[J.LDC] = ldc;
        f[J.ALPHA] = alpha;
        f[J.BETA] = beta;
        Atomics.add(s, J.SEQ, 1);
        Atomics.notify(s, J.SEQ);
      }
      const [m, n, a, b, c] = block(0, step);
      self(m, n, a, b, c);
      let failed = false;
      for (let p = 1; p < parts; p++) {
        const s = workers[p - 1].slot;
        const seq = Atomics.load(s, J.SEQ);
        for (let done = Atomics.load(s, J.DONE); done !== seq; done = Atomics.load(s, J.DONE)) Atomics.wait(s, J.DONE, done);
        if (s[J.FAILED] !== 0) {
          s[J.FAILED] = 0;
          failed = true;
        }
      }
      if (failed) throw new Error('wasm backend: a GEMM worker thread failed (a kernel trapped)');
      return true;
    },
  };
}
