#!/usr/bin/env node
// The `recurrent` executable. Node 20's engine has WebAssembly relaxed SIMD (whose fused multiply-add
// makes the GEMM ~1.4× faster) behind a flag; this process is ours, so turn it on before any kernel is
// compiled, then run the command (main.ts). The library itself never changes engine flags: it loads
// the relaxed kernels only where the engine already validates them (src/backend/wasm/load-kernels.ts).

import { setFlagsFromString } from 'node:v8';

const major = Number(process.versions.node.split('.')[0]);
if (major === 20 || major === 21) setFlagsFromString('--experimental-wasm-relaxed-simd');
await import('./main.js');
