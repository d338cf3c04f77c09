// GEMM throughput of the wasm kernels: GFLOP/s per shape, optionally A/B across several builds of
// kernels.wasm loaded side by side in this one process and run interleaved (so machine noise hits every
// build alike; thread counts are interleaved the same way). Prints median and min–max over rounds.
//
//   node dist/scripts/bench-gemm.js [--wasm a.wasm,b.wasm] [--rounds 7] [--ms 300] [--threads 1,2]
//        [--shapes 256x256x256:NN,512x512x512:NN,50x512x128:NT,50x512x128:NTP]   (a trailing P: packB once, then gemmPacked)
//
// The default build is the one the library loads (load-kernels.ts: kernels-relaxed*.wasm, with FMA, where
// the engine has relaxed SIMD). Node 20 needs --experimental-wasm-relaxed-simd for those, e.g. to compare
// the plain and FMA builds of this checkout:
//   node --experimental-wasm-relaxed-simd dist/scripts/bench-gemm.js \
//        --wasm dist/src/backend/wasm/kernels-shared.wasm,dist/src/backend/wasm/kernels-relaxed-shared.wasm
//
// Not here: the peers (bench/).

import { readFileSync } from 'node:fs';
import { Rng, Tensor, untracked, type Backend } from '../src/index.js';
import type { PackedMatrix } from '../src/backend/backend.js';
import { kernelsUrl, relaxedSimd } from '../src/backend/wasm/load-kernels.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const builds = (args.get('wasm') ?? kernelsUrl.pathname).split(',');
const rounds = Number(args.get('rounds') ?? 7);
const ms = Number(args.get('ms') ?? 300);
const threadCounts = (args.get('threads') ?? '1').split(',').map(Number);
const shapes = (args.get('shapes') ?? '256x256x256:NN,256x256x256:NT,512x512x512:NN,50x512x128:NT,50x512x128:NTP,50x128x512:NN,50x128x512:NNP,2500x512x128:NT,512x128x2500:TN,1x512x128:NT,1x512x128:NTP')
  .split(',')
  .map((s) => {
    const [dims, layout] = s.split(':');
    const [M, N, K] = dims.split('x').map(Number);
    return { M, N, K, tA: layout[0] === 'T', tB: layout[1] === 'T', packed: layout[2] === 'P', name: s };
  });

type Threaded = Backend & { setThreads?(n: number): void };
const compile = (p: string): WebAssembly.Module => {
  try {
    return new WebAssembly.Module(readFileSync(p));
  } catch (e) {
    const hint = relaxedSimd ? '' : ' (a relaxed-SIMD build needs Node >= 22 or node --experimental-wasm-relaxed-simd)';
    throw new Error(`bench-gemm: cannot compile ${p}${hint}: ${(e as Error).message}`);
  }
};
const backends: Threaded[] = builds.map((p) => createWasmBackend(compile(p)));
const rng = new Rng(3);
const rand = (n: number): Tensor => untracked(() => Tensor.from(Array.from({ length: n }, () => rng.normal()), [n]));

console.log(`builds: ${builds.join(', ')}; ${rounds} rounds of ${ms} ms each, interleaved`);
for (const s of shapes) {
  const a = rand(s.M * s.K);
  const b = rand(s.K * s.N);
  const c = rand(s.M * s.N);
  // Thread counts are interleaved within each round too, like the builds.
  const results: number[][][] = threadCounts.map(() => backends.map(() => []));
  for (let r = 0; r < rounds; r++) {
    threadCounts.forEach((th, ti) => {
      backends.forEach((be, i) => {
        if (th !== 1 && be.setThreads === undefined) return;
        be.setThreads?.(th);
        let P: PackedMatrix | null = null;
        try {
          if (s.packed) P = be.packB(s.tB, s.K, s.N, b.data, s.tB ? s.K : s.N);
        } catch {
          return; // an older build without packB
        }
        const call = P !== null
          ? (): void => be.gemmPacked(s.tA, s.M, 1, a.data, s.tA ? s.M : s.K, P, 1, c.data, s.N)
          : (): void => be.gemm(s.tA, s.tB, s.M, s.N, s.K, 1, a.data, s.tA ? s.M : s.K, b.data, s.tB ? s.K : s.N, 1, c.data, s.N);
        call();
        let n = 0;
        const t0 = performance.now();
        let t = t0;
        while (t - t0 < ms) {
          call();
          n++;
          t = performance.now();
        }
        results[ti][i].push((2 * s.M * s.N * s.K * n) / ((t - t0) / 1000) / 1e9);
        P?.dispose();
        be.setThreads?.(1);
      });
    });
  }
  threadCounts.forEach((th, ti) => {
    const cells = results[ti].map((xs) => {
      if (xs.length === 0) return 'n/a';
      const sorted = [...xs].sort((x, y) => x - y);
      return `${sorted[sorted.length >> 1].toFixed(1)} (${sorted[0].toFixed(1)}–${sorted[sorted.length - 1].toFixed(1)})`;
    });
    console.log(`${s.name.padEnd(18)} threads ${th}: ${cells.map((x) => x.padEnd(20)).join(' ')} GFLOP/s`);
  });
  for (const t of [a, b, c]) t.dispose();
}
