// Which backend runs the kernels. One is active at a time: RECURRENT_BACKEND if set (tests, CLI), else
// the fastest that loaded (native, then wasm, then reference). The reference backend is always there as
// the fallback; native (Node, AVX2) is the wasm backend with its heaviest kernels in a native addon.

import type { Backend } from './backend.js';
import { referenceBackend } from './reference.js';
import { loadNative } from './native/load-native.js';
import { heap } from '../tensor/heap.js';
import { compileKernels } from './wasm/load-kernels.js';
import { createWasmBackend } from './wasm/wasm-backend.js';

const available = new Map<string, Backend>([[referenceBackend.name, referenceBackend]]);
/** Why a backend that should exist did not load, by name. */
const failures = new Map<string, string>();

// NOTE: top-level await: in Node the compile is a synchronous read of a small file; in a browser it is
// a fetch, so the import of this module (and of the library) resolves once the kernels are ready.
const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));
let wasmModule: WebAssembly.Module | null = null;
try {
  wasmModule = await compileKernels();
  const wasm = createWasmBackend(wasmModule);
  available.set(wasm.name, wasm);
} catch (e) {
  failures.set('wasm', reason(e));
}
try {
  if (wasmModule === null) throw new Error(`it needs the wasm kernels, which failed to load: ${failures.get('wasm')}`);
  const native = createWasmBackend(wasmModule, await loadNative(heap.memory, heap.shared));
  available.set(native.name, native);
} catch (e) {
  failures.set('native', reason(e));
}

/** Preference order when nothing is requested: fastest first. */
const preference = ['native', 'wasm', 'reference'];
let active: Backend = available.get(preference.find((n) => available.has(n))!)!;

const requested = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.RECURRENT_BACKEND;
if (requested !== undefined && requested !== '') setBackend(requested);

export function backend(): Backend {
  return active;
}

/** Makes `name` the active backend; throws naming the available ones (and why one failed to load). */
export function setBackend(name: string): void {
  const b = available.get(name);
  if (b === undefined) {
    const why = failures.get(name);
    throw new Error(
      why !== undefined
        ? `backend "${name}" failed to load: ${why}`
        : `unknown backend "${name}" (available: ${[...available.keys()].join(', ')})`,
    );
  }
  active = b;
}

export function registerBackend(b: Backend): void {
  available.set(b.name, b);
}

export function availableBackends(): string[] {
  return [...available.keys()];
}
