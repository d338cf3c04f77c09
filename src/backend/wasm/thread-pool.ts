// Worker threads for the wasm backend's big kernels: large GEMMs (split into blocks of rows or columns
// of C) and the time loops of recurrent layers (split into blocks of batch rows). The caller splits the
// work (wasm-backend.ts); the pool hands one part to each worker through its job slot (job-slot.ts:
// shared memory and Atomics, no message per call), runs the first part itself, then runs any part no
// worker has claimed yet (a worker the system has not scheduled, on a loaded machine, would otherwise
// hold the call up: threaded small products ran 8× slower than one thread with the machine's load at 14)
// and waits until every claimed part is DONE. Each part is an ordinary kernel call on disjoint rows or columns, so results
// equal the one-thread results bit for bit. Workers need a shared heap (tensor/heap.ts).
// - Node: node:worker_threads, started on first use (the first call waits for them), unref'ed so they
//   never keep a process alive.
// - Browsers: module Web Workers, only where the page is cross-origin isolated (SharedArrayBuffer) and
//   the library itself runs in a Web Worker — a page's main thread may not block in Atomics.wait, so
//   there it stays on one thread. A Web Worker starts only once its creator yields to the event loop, so
//   they are started when the thread count is set and a part whose worker has not started yet runs on
//   the calling thread (`readyThreads` tells how many can take work now).

import { heap } from '../../tensor/heap.js';
import * as J from './job-slot.js';

interface WorkerHandle {
  terminate(): unknown;
}
type NodeWorkerCtor = new (url: URL, options: { workerData: J.WorkerInit }) => WorkerHandle & { unref(): void };
type WebWorkerCtor = new (url: URL, options: { type: 'module' }) => WorkerHandle & { postMessage(m: J.WorkerInit): void };

const g = globalThis as {
  process?: { versions?: { node?: string }; env?: Record<string, string | undefined> };
  Worker?: WebWorkerCtor;
  WorkerGlobalScope?: abstract new () => unknown;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
};
const nodeProcess = g.process;
const isNode = nodeProcess?.versions?.node !== undefined;
const NodeWorker: NodeWorkerCtor | null = isNode ? ((await import('node:worker_threads')).Worker as unknown as NodeWorkerCtor) : null;
/** A browser Web Worker that may block (Atomics.wait) and start workers of its own, on an isolated page. */
const inWebWorker = !isNode && g.WorkerGlobalScope !== undefined && globalThis instanceof g.WorkerGlobalScope;
const WebWorker: WebWorkerCtor | null = inWebWorker && g.crossOriginIsolated === true && g.Worker !== undefined ? g.Worker : null;
const canThread = NodeWorker !== null || WebWorker !== null;
const cores = isNode ? (await import('node:os')).availableParallelism() : Math.max(1, g.navigator?.hardwareConcurrency ?? 1);

/**
 * Multiply-adds (M·N·K for a GEMM, T·B·G·H² for a recurrent loop) from which work is split. Measured on
 * 2 cores when workers slept between jobs (scripts/bench-gemm.ts, 2 threads vs 1): 64³ dropped from 28 to
 * 4 GFLOP/s, 50×512×128 (3.3M) was even, 100×512×128 (6.6M) went 23 → 41. With the spinning hand-off,
 * training at 1M and at 4M measured the same (npm run bench, S/CR/M, within noise), so it stays at 4M.
 */
export const MIN_THREADED_WORK = 1 << 22;
/** How long the first threaded call waits for a worker to start before giving up. */
const START_TIMEOUT_MS = 10_000;

interface PoolWorker {
  readonly slot: J.JobSlot;
  readonly handle: WorkerHandle;
}

export interface ThreadPool {
  /** Threads work is split across, the calling thread included. */
  readonly threads: number;
  /** Of those, how many can take work now: in a browser the calling thread and the workers that have started; in Node all. */
  readonly readyThreads: number;
  setThreads(n: number): void;
  /**
   * Calls kernel `fn` (J.FN_*) once per part, parts[0] on this thread through `self`, parts[p] on worker
   * p - 1 with that worker's scratch appended; returns when all are done. At most `threads` parts.
   */
  run(fn: number, parts: number[][], self: (args: number[]) => void): void;
}

/** Splits [0, n) into at most `threads` blocks whose sizes are multiples of `align` (but the last). */
export function splitRange(n: number, threads: number, align: number): [number, number][] {
  const step = Math.ceil(n / threads / align) * align;
  const blocks: [number, number][] = [];
  for (let lo = 0; lo < n; lo += step) blocks.push([lo, Math.min(n, lo + step)]);
  return blocks;
}

/** The default thread count: RECURRENT_THREADS if set, else the available cores; 1 where workers cannot run. */
function defaultThreads(): number {
  if (!heap.shared || !canThread) return 1;
  const env = nodeProcess?.env?.RECURRENT_THREADS;
  if (env !== undefined && env !== '') return checkThreads(Number(env), 'RECURRENT_THREADS');
  return Math.max(1, cores);
}

function checkThreads(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a whole number of threads >= 1, got ${n}`);
  if (n > 1 && (!heap.shared || !canThread)) {
    const where = isNode
      ? 'node:worker_threads'
      : 'a Web Worker to run in (a page\'s main thread may not wait on other threads) on a cross-origin isolated page';
    throw new Error(`${name}: ${n} threads need a shared heap (SharedArrayBuffer) and ${where}, which this environment lacks`);
  }
  return n;
}

/** `native`: the native addon's path, when the workers run its kernels instead of the module's. */
export function createThreadPool(module: WebAssembly.Module, scratchBytes: number, native?: string): ThreadPool {
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
    const buf = new SharedArrayBuffer(J.SLOT_BYTES);
    const init: J.WorkerInit = { module, memory: heap.memory, slot: buf, scratch: scratch[workers.length], ...(native === undefined ? {} : { native }) };
    const url = new URL('./kernel-worker.js', import.meta.url);
    if (NodeWorker !== null) {
      const handle = new NodeWorker(url, { workerData: init });
      handle.unref();
      return { slot: new J.JobSlot(buf), handle };
    }
    const handle = new WebWorker!(url, { type: 'module' });
    handle.postMessage(init);
    return { slot: new J.JobSlot(buf), handle };
  };
  const isReady = (w: PoolWorker): boolean => Atomics.load(w.slot.ints, J.READY) === 1;
  /** Node: blocks until the worker has started, or throws its reason. (A Web Worker cannot start while its creator blocks.) */
  const awaitReady = (w: PoolWorker): void => {
    const s = w.slot.ints;
    if (isReady(w)) return;
    Atomics.wait(s, J.READY, 0, START_TIMEOUT_MS);
    if (Atomics.load(s, J.READY) === J.START_FAILED) throw new Error(`wasm backend: a kernel worker thread failed to start: ${J.startFailure(w.slot)}`);
    if (!isReady(w)) throw new Error(`wasm backend: a kernel worker thread did not start within ${START_TIMEOUT_MS} ms`);
  };
  // Browsers: start the workers now, so that they are up by the time the caller has yielded once.
  const spawnUpTo = (n: number): void => {
    while (workers.length < n - 1) workers.push(spawn());
  };
  if (WebWorker !== null) spawnUpTo(threads);

  return {
    get threads() {
      return threads;
    },

    get readyThreads() {
      if (NodeWorker !== null) return threads; // Node's first threaded call waits for its workers
      return 1 + workers.slice(0, threads - 1).filter(isReady).length;
    },

    setThreads(n) {
      threads = checkThreads(n, 'setThreads');
      reserveScratch(threads);
      if (WebWorker !== null) spawnUpTo(threads);
    },

    run(fn, parts, self) {
      if (parts.length > threads) throw new Error(`thread pool: ${parts.length} parts for ${threads} threads`);
      // Checked before any part is posted: a throw after would leave workers writing the caller's buffers.
      for (const a of parts) if (a.length > J.MAX_ARGS) throw new Error(`thread pool: ${a.length} arguments, at most ${J.MAX_ARGS}`);
      spawnUpTo(parts.length);
      if (NodeWorker !== null) for (let p = 1; p < parts.length; p++) awaitReady(workers[p - 1]);
      // Parts whose worker has not started (a browser's, before the caller yields) run here after parts[0].
      const mine = [parts[0]];
      const posted: number[] = [];
      for (let p = 1; p < parts.length; p++) {
        if (!isReady(workers[p - 1])) {
          mine.push(parts[p]);
          continue;
        }
        posted.push(p);
        const { ints: s, args } = workers[p - 1].slot;
        const a = parts[p];
        args.set(a);
        s[J.FN] = fn;
        s[J.NARGS] = a.length;
        Atomics.add(s, J.SEQ, 1);
        Atomics.notify(s, J.SEQ);
      }
      // Every worker finishes before this returns or throws: they write the caller's buffers.
      let thrown: { e: unknown } | null = null;
      try {
        for (const part of mine) self(part);
      } catch (e) {
        thrown = { e };
      }
      // A part no worker has claimed yet runs here, now (after an error, it is only marked done).
      for (const p of posted) {
        const s = workers[p - 1].slot.ints;
        const seq = Atomics.load(s, J.SEQ);
        if (!J.claim(s, seq)) continue;
        if (thrown === null) {
          try {
            self(parts[p]);
          } catch (e) {
            thrown = { e };
          }
        }
        Atomics.store(s, J.DONE, seq);
      }
      let failed = false;
      for (const p of posted) {
        const s = workers[p - 1].slot.ints;
        const seq = Atomics.load(s, J.SEQ);
        for (let done = Atomics.load(s, J.DONE); done !== seq; done = Atomics.load(s, J.DONE)) {
          if (!J.spinUntilChanged(s, J.DONE, done)) Atomics.wait(s, J.DONE, done);
        }
        if (s[J.FAILED] !== 0) {
          s[J.FAILED] = 0;
          failed = true;
        }
      }
      if (thrown !== null) throw thrown.e;
      if (failed) throw new Error('wasm backend: a kernel worker thread failed (a kernel trapped)');
    },
  };
}
