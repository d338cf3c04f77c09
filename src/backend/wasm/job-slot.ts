// The job slot a kernel worker thread reads: one small SharedArrayBuffer per worker, written by the
// main thread, run by kernel-worker.ts. Posting a message per call is far too slow, so the main thread
// writes the kernel's number and arguments, bumps SEQ and notifies; the worker claims the job (CLAIM from
// SEQ - 1 to SEQ, compare-and-swap), calls the kernel with its own scratch appended and stores SEQ into
// DONE. The main thread, done with its own part, claims a job no worker has claimed yet and runs it itself
// (then it stores DONE): on a loaded machine a worker the system has not scheduled never holds up the call.
// Both sides spin a little before they sleep (spinUntilChanged). Not here: the pool and the splits
// (thread-pool.ts, wasm-backend.ts).

// Int32 words of the header.
export const SEQ = 0; // job number, bumped by the main thread per job
export const DONE = 1; // the last job number finished, stored by the worker
export const READY = 2; // 1 once the worker has instantiated the kernels, START_FAILED if it could not
export const FAILED = 3; // set by a worker whose kernel threw (the main thread then throws)
export const FN = 4; // which kernel (FN_*)
export const NARGS = 5; // how many arguments, before the worker's scratch
export const CLAIM = 6; // the last job number claimed, by the worker or taken back by the main thread

/** Claims job `seq` (posted as SEQ = seq): true for the one thread, worker or main, that gets to run it. */
export function claim(s: Int32Array, seq: number): boolean {
  return Atomics.compareExchange(s, CLAIM, seq - 1, seq) === seq - 1;
}

/** The arguments: float64 from this byte on (pointers, sizes and float32 scalars are all exact in it). */
const ARGS_BYTE = 64;
export const MAX_ARGS = 32;
export const SLOT_BYTES = ARGS_BYTE + MAX_ARGS * 8; // 320: also keeps different workers' slots apart

/** The kernels a worker runs, by FN number; each takes its arguments then the worker's gemm scratch. */
export const FN_GEMM = 0;
export const FN_GEMM_PACKED = 1;
export const FN_RECURRENT_FORWARD = 2;
export const FN_RECURRENT_BACKWARD = 3;
export const FN_ATTENTION_FORWARD = 4;
export const FN_ATTENTION_BACKWARD = 5;
export const WORKER_KERNELS = ['gemm', 'gemmPacked', 'recurrentForward', 'recurrentBackward', 'attentionForward', 'attentionBackward'] as const;
export type WorkerKernels = { [K in (typeof WORKER_KERNELS)[number]]: (...args: number[]) => void };

/** READY's value from a worker that could not start: its error message is in the arguments' bytes. */
export const START_FAILED = 2;

export class JobSlot {
  readonly ints: Int32Array;
  readonly args: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer, 0, ARGS_BYTE / 4);
    this.args = new Float64Array(buffer, ARGS_BYTE, MAX_ARGS);
  }
}

/**
 * How long a thread spins on a slot word before it sleeps in Atomics.wait. Spinning costs a core for
 * that long after the last job; sleeping costs ~50–100 µs to wake, longer than a recurrent step takes.
 */
export const SPIN_MS = 2;

/** Spins while s[i] === value, for at most SPIN_MS; true if it changed. */
export function spinUntilChanged(s: Int32Array, i: number, value: number): boolean {
  const end = performance.now() + SPIN_MS;
  for (;;) {
    for (let n = 0; n < 256; n++) if (Atomics.load(s, i) !== value) return true;
    if (performance.now() > end) return false;
  }
}

/** A worker that cannot start (its kernels or the native addon failed to load) says why in its slot. */
export function reportStartFailure(slot: SharedArrayBuffer, e: unknown): void {
  const bytes = new TextEncoder().encode(e instanceof Error ? e.message : String(e)).subarray(0, MAX_ARGS * 8 - 1);
  const area = new Uint8Array(slot, ARGS_BYTE, MAX_ARGS * 8);
  area.fill(0);
  area.set(bytes);
  const s = new Int32Array(slot, 0, ARGS_BYTE / 4);
  Atomics.store(s, READY, START_FAILED);
  Atomics.notify(s, READY);
}

/** The message reportStartFailure left in the slot (cut to 255 bytes). */
export function startFailure(slot: JobSlot): string {
  const area = new Uint8Array(slot.buffer, ARGS_BYTE, MAX_ARGS * 8).slice(); // TextDecoder refuses shared memory
  const end = area.indexOf(0);
  return new TextDecoder().decode(area.subarray(0, end < 0 ? area.length : end));
}

/** What a worker is started with (Node workerData, or a browser Worker's first message). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: SharedArrayBuffer;
  scratch: number;
  /** The native addon's path when the backend runs native kernels (native/load-native.ts): the worker loads it too. */
  native?: string;
}
