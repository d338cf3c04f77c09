// The job slot a GEMM worker thread reads: one small SharedArrayBuffer per worker, written by the main
// thread, run by gemm-worker.ts. Posting a message per call is far too slow, so the main thread fills
// the slot, bumps SEQ and notifies; the worker runs the job and stores SEQ into DONE. Pointers are byte
// offsets into the shared heap, stored as int32 bit patterns (the heap may pass 2 GiB). Not here: the
// pool and the split (gemm-pool.ts).

export const SEQ = 0; // job number, bumped by the main thread per job
export const DONE = 1; // the last job number finished, stored by the worker
export const READY = 2; // 1 once the worker has instantiated the kernels
export const KIND = 3; // JOB_GEMM | JOB_PACKED
export const TRANS_A = 4;
export const TRANS_B = 5;
export const M = 6;
export const N = 7;
export const K = 8;
export const A = 9;
export const LDA = 10;
export const B = 11; // B for gemm, the packed Bp for gemmPacked
export const LDB = 12;
export const C = 13;
export const LDC = 14;
export const ALPHA = 15; // float32, read through a Float32Array over the same buffer
export const BETA = 16; // float32
export const FAILED = 17; // set by a worker whose kernel threw (the main thread then throws)
export const SLOT_INTS = 32; // 128 bytes: keeps the slots of different workers off one cache line pair

export const JOB_GEMM = 0;
export const JOB_PACKED = 1;

/** The two kernels a worker runs (a subset of wasm-backend.ts's Kernels). */
export interface GemmKernels {
  gemm(
    transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: number, lda: number, B: number, ldb: number, beta: number, C: number, ldc: number, scratch: number,
  ): void;
  gemmPacked(
    transA: number, M: number, N: number, K: number, alpha: number, A: number, lda: number, Bp: number,
    beta: number, C: number, ldc: number, scratch: number,
  ): void;
}

/** What a worker is started with (Node workerData, or a browser Worker's first message). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: SharedArrayBuffer;
  scratch: number;
}
