// Finds and compiles kernels.wasm, the build output of ./assembly/ that sits next to this file's
// compiled JS (dist/src/backend/wasm/). Node reads it from disk; a browser fetches it (streaming
// compile), or the caller passes the bytes or a URL. Not here: instantiation (wasm-backend.ts).
//
// The build makes two: kernels.wasm imports a plain memory, kernels-shared.wasm a shared one (the flag
// must match the heap's, or instantiation fails); `kernelsUrl` is the one that fits this heap.

import { heap } from '../../tensor/heap.js';

/** Where the build puts the kernels that fit the heap (shared or not), relative to this module. */
export const kernelsUrl = new URL(heap.shared ? './kernels-shared.wasm' : './kernels.wasm', import.meta.url);

/** Compiles the kernels from `source` (bytes, a URL or a fetch Response), or from `kernelsUrl`. */
export async function compileKernels(source?: BufferSource | URL | Response): Promise<WebAssembly.Module> {
  if (source instanceof Response) return WebAssembly.compileStreaming(source);
  if (source !== undefined && !(source instanceof URL)) return new WebAssembly.Module(source);
  const url = source ?? kernelsUrl;
  if (url.protocol === 'file:') {
    const { readFileSync } = await import('node:fs');
    return new WebAssembly.Module(readFileSync(url));
  }
  return WebAssembly.compileStreaming(fetch(url));
}
