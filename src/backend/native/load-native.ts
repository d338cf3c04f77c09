// Finds and loads the native kernels (kernels.c, built by `npm run build:native` into
// build/Release/recurrent_native.node at the package root): Node only, x86-64 CPUs with AVX2 and FMA
// (and their GEMM and GELU on 512-bit registers where the CPU has AVX-512F, unless RECURRENT_NO_AVX512 is set).
// Returns what wasm-backend.ts needs to run them on the main thread and in its worker threads, or throws
// saying why they cannot run here. Not here: the kernels (kernels.c) or choosing a backend (registry.ts).

/**
 * The native versions of wasm kernels (same arguments): the four a worker thread runs that the addon has
 * always had, and others it may have; the wasm kernel runs wherever the addon has none.
 */
export interface NativeKernels {
  gemm(...args: number[]): void;
  gemmPacked(...args: number[]): void;
  recurrentForward(...args: number[]): void;
  recurrentBackward(...args: number[]): void;
  attentionForward?(...args: number[]): void;
  attentionBackward?(...args: number[]): void;
  layerNormForward?(...args: number[]): void;
  layerNormBackward?(...args: number[]): void;
  gelu?(...args: number[]): void;
  geluBackwardAcc?(...args: number[]): void;
  im2col?(...args: number[]): void;
  col2imAcc?(...args: number[]): void;
  maxPool2dForward?(...args: number[]): void;
  maxPool2dBackwardAcc?(...args: number[]): number;
}

/** The instruction set of the addon's GEMM and GELU: chosen when it loads, from the CPU and RECURRENT_NO_AVX512 (kernels.c, chooseIsa). */
export type NativeIsa = 'avx512' | 'avx2';

interface Addon {
  cpuSupported: boolean;
  isa?: NativeIsa;
  bind?(heapView: Float32Array): NativeKernels;
}

export interface NativeAddon {
  /** Where the addon is, for the worker threads to load it too. */
  readonly path: string;
  /** The kernels bound to the tensor heap of this thread (the heap is shared, so its address is the same in every thread). */
  readonly kernels: NativeKernels;
  /** Which GEMM (and GELU) kernels run: 512-bit (AVX-512F, unless RECURRENT_NO_AVX512 is set) or 256-bit. */
  readonly isa: NativeIsa;
}

/** Where the build puts the addon, relative to this module's compiled file (dist/src/backend/native/). */
export const addonUrl = new URL('../../../../build/Release/recurrent_native.node', import.meta.url);

const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== undefined;

async function requireAddon(path: string): Promise<Addon> {
  const { createRequire } = await import('node:module');
  const addon = createRequire(import.meta.url)(path) as Addon;
  if (!addon.cpuSupported || addon.bind === undefined) throw new Error('this CPU lacks AVX2 and FMA (or is not x86-64)');
  return addon;
}

/** Loads the addon at `path` (in this thread: the main one, or a kernel worker) and binds its kernels to `memory`. */
export async function bindAddon(path: string, memory: WebAssembly.Memory): Promise<NativeKernels> {
  return (await requireAddon(path)).bind!(new Float32Array(memory.buffer));
}

/** Loads the addon and binds it to the tensor heap's `memory`, which must be shared. */
export async function loadNative(memory: WebAssembly.Memory, shared: boolean): Promise<NativeAddon> {
  if (!node) throw new Error('native kernels run in Node only');
  // NOTE: the address the kernels are bound to must never move: a shared memory keeps its address when it
  // grows, a plain one may not.
  if (!shared) throw new Error('native kernels need the shared tensor heap (SharedArrayBuffer)');
  const { fileURLToPath } = await import('node:url');
  const { existsSync } = await import('node:fs');
  const path = fileURLToPath(addonUrl);
  if (!existsSync(path)) throw new Error(`not built (no ${path}; \`npm run build:native\` builds it, with a C compiler and Node's headers)`);
  const addon = await requireAddon(path);
  return { path, kernels: addon.bind!(new Float32Array(memory.buffer)), isa: addon.isa ?? 'avx2' };
}
