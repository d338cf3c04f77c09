// A GEMM worker thread: instantiates the same compiled kernels against the shared heap, with its own
// packing scratch, then loops forever: sleep on its job slot (Atomics.wait), run the job, report DONE.
// Started by gemm-pool.ts (Node: node:worker_threads with workerData; a browser Web Worker would get
// the same WorkerInit as its first message). Not here: choosing or splitting jobs.

import * as J from './gemm-job.js';

function run(init: J.WorkerInit): void {
  const k = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports as unknown as J.GemmKernels;
  const s = new Int32Array(init.slot);
  const f = new Float32Array(init.slot);
  let seen = Atomics.load(s, J.SEQ); // before READY: the main thread posts the first job once it sees READY
  Atomics.store(s, J.READY, 1);
  Atomics.notify(s, J.READY);
  for (;;) {
    Atomics.wait(s, J.SEQ, seen);
    seen = Atomics.load(s, J.SEQ);
    const kind = s[J.KIND];
    try {
      if (kind === J.JOB_GEMM) {
        k.gemm(
          s[J.TRANS_A], s[J.TRANS_B], s[J.M], s[J.N], s[J.K], f[J.ALPHA], s[J.A] >>> 0, s[J.LDA], s[J.B] >>> 0, s[J.LDB],
          f[J.BETA], s[J.C] >>> 0, s[J.LDC], init.scratch,
        );
      } else {
        k.gemmPacked(
          s[J.TRANS_A], s[J.M], s[J.N], s[J.K], f[J.ALPHA], s[J.A] >>> 0, s[J.LDA], s[J.B] >>> 0, f[J.BETA], s[J.C] >>> 0, s[J.LDC],
          init.scratch,
        );
      }
    } catch {
      s[J.FAILED] = 1;
    }
    Atomics.store(s, J.DONE, seen);
    Atomics.notify(s, J.DONE);
  }
}

const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== undefined;
if (node) {
  const { workerData } = await import('node:worker_threads');
  run(workerData as J.WorkerInit);
} else {
  // A browser Web Worker: the init arrives as the first message.
  const scope = globalThis as unknown as { onmessage: ((e: { data: J.WorkerInit }) => void) | null };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    run(e.data);
  };
}
