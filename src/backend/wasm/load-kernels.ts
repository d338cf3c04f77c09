// Finds and compiles kernels.wasm, the build output of ./assembly/ that sits next to this file's
// compiled JS (dist/src/backend/wasm/). Node reads it from disk; a browser fetches it (streaming
// compile), or the caller passes the bytes or a URL. Not here: instantiation (wasm-backend.ts).
//
// The build makes four from the same source: kernels.wasm imports a plain memory, kernels-shared.wasm a
// shared one (the flag must match the heap's, or instantiation fails), and kernels-relaxed*.wasm are the
// same two built with relaxed SIMD, whose GEMM micro-kernel uses f32x4.relaxed_madd (an FMA: ~1.4× the
// GEMM throughput on x64, see assembly/gemm.ts). `kernelsUrl` is the one that fits this heap and engine.

import { heap } from '../../tensor/heap.js';

/**
 * Whether this engine validates relaxed SIMD (Node >= 22, Chrome >= 114; Node 20 only with
 * --experimental-wasm-relaxed-simd): a 35-byte module whose one function is f32x4.relaxed_madd.
 */
export const relaxedSimd = WebAssembly.validate(
  new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11,
  ]),
);

/** Where the build puts the kernels that fit the heap (shared or not) and the engine, relative to this module. */
export const kernelsUrl = new URL(`./kernels${relaxedSimd ? '-relaxed' : ''}${heap.shared ? '-shared' : ''}.wasm`, import.meta.url);

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
