// A kernel worker thread: instantiates the same compiled kernels against the shared heap, with its own
// gemm scratch, then loops forever: wait for a job on its slot (job-slot.ts: spin, then sleep), claim it
// (unless the main thread took it back first), call the kernel, report DONE. With the native backend it loads the native addon and runs its kernels
// instead (same arguments, same heap). Started by thread-pool.ts (Node: node:worker_threads with workerData; a
// browser Web Worker would get the same WorkerInit as its first message). Not here: choosing or
// splitting jobs.

import * as J from './job-slot.js';

/** `native`: the native addon's versions of the kernels, which replace the wasm ones. */
function run(init: J.WorkerInit, native: Partial<J.WorkerKernels> | null): void {
  let k: J.WorkerKernels;
  try {
    k = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports as unknown as J.WorkerKernels;
  } catch (e) {
    J.reportStartFailure(init.slot, e);
    return;
  }
  const kernels = J.WORKER_KERNELS.map((name) => native?.[name] ?? k[name]); // the addon's where it has one
  const slot = new J.JobSlot(init.slot);
  const s = slot.ints;
  let seen = Atomics.load(s, J.SEQ); // before READY: the main thread posts the first job once it sees READY
  Atomics.store(s, J.READY, 1);
  Atomics.notify(s, J.READY);
  for (;;) {
    if (!J.spinUntilChanged(s, J.SEQ, seen)) Atomics.wait(s, J.SEQ, seen);
    seen = Atomics.load(s, J.SEQ);
    if (!J.claim(s, seen)) continue; // the main thread took the job back and reports it done itself
    try {
      const args = Array.from(slot.args.subarray(0, s[J.NARGS]));
      args.push(init.scratch);
      kernels[s[J.FN]](...args);
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
  const init = workerData as J.WorkerInit;
  let native: Partial<J.WorkerKernels> | null = null;
  let loaded = true;
  try {
    if (init.native !== undefined) native = await (await import('../native/load-native.js')).bindAddon(init.native, init.memory);
  } catch (e) {
    J.reportStartFailure(init.slot, new Error(`the native addon ${init.native} did not load: ${e instanceof Error ? e.message : String(e)}`));
    loaded = false;
  }
  if (loaded) run(init, native);
} else {
  // A browser Web Worker: the init arrives as the first message.
  const scope = globalThis as unknown as { onmessage: ((e: { data: J.WorkerInit }) => void) | null };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    run(e.data, null);
  };
}
