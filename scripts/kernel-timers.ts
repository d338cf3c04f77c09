// Per-kernel timers for the profiling scripts: every method of a backend object wrapped in place with a
// timer (here, not in the library), gemm calls split by shape and the cell/elementwise kernels by kind.
// The timers cost ~0.1 µs per call. Used by profile-train.ts and profile-seq2seq.ts.

import type { Backend } from '../src/index.js';

export interface KernelTimers {
  /** ms spent in kernels since the last reset. */
  readonly inKernel: number;
  reset(): void;
  /** The kernels by time, per step over `steps` steps of `totalMs` in all, those under 0.2% left out. */
  table(steps: number, totalMs: number): string;
  /** The `n` costliest kernels, per unit (e.g. per sampled character) over `units`. */
  top(n: number, units: number, unit: string): string;
}

/** Wraps every method of `be` (but setThreads) with a timer. */
export function timeKernels(be: Backend): KernelTimers {
  const kernelMs = new Map<string, { ms: number; calls: number; flops: number }>();
  let inKernel = 0;
  const obj = be as unknown as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const f = obj[key];
    if (typeof f !== 'function' || key === 'setThreads') continue;
    const orig = f as (...a: unknown[]) => unknown;
    obj[key] = function (this: unknown, ...a: unknown[]): unknown {
      let name = key;
      let flops = 0;
      if (key === 'gemm') {
        const [tA, tB, M, N, K] = a as [boolean, boolean, number, number, number];
        name = `gemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K}`;
        flops = 2 * M * N * K;
      } else if (key === 'cellForward' || key === 'cellBackward' || key === 'unary' || key === 'binary') {
        name = `${key}(${String(a[0])}${key.startsWith('cell') ? `, ${String(a[1])}` : ''})`;
      }
      const t0 = performance.now();
      const r = orig.apply(this, a);
      const dt = performance.now() - t0;
      inKernel += dt;
      const e = kernelMs.get(name);
      if (e === undefined) kernelMs.set(name, { ms: dt, calls: 1, flops });
      else {
        e.ms += dt;
        e.calls++;
        e.flops += flops;
      }
      return r;
    };
  }
  const sorted = (): [string, { ms: number; calls: number; flops: number }][] => [...kernelMs.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const sum = (k: 'ms' | 'calls' | 'flops'): number => [...kernelMs.values()].reduce((s, e) => s + e[k], 0);
  return {
    get inKernel() {
      return inKernel;
    },
    reset() {
      kernelMs.clear();
      inKernel = 0;
    },
    table(steps, totalMs) {
      const line = (name: string, ms: number, calls: number, flops: number, pct: number): string =>
        `${name.padEnd(34)} ${(ms / steps).toFixed(2).padStart(9)} ${(calls / steps).toFixed(1).padStart(8)} ${pct.toFixed(1).padStart(6)}%` +
        (flops > 0 ? ` ${(flops / ms / 1e6).toFixed(1).padStart(7)} GFLOP/s` : '');
      const rows = ['kernel                               ms/step  calls/st  of total'];
      for (const [name, { ms, calls, flops }] of sorted()) if (ms / totalMs >= 0.002) rows.push(line(name, ms, calls, flops, (100 * ms) / totalMs));
      const gemms = [...kernelMs.entries()].filter(([n]) => n.startsWith('gemm '));
      const g = (k: 'ms' | 'calls' | 'flops'): number => gemms.reduce((s, [, e]) => s + e[k], 0);
      rows.push(line('all gemm calls', g('ms'), g('calls'), g('flops'), (100 * g('ms')) / totalMs));
      rows.push(line('all kernels', sum('ms'), sum('calls'), 0, (100 * sum('ms')) / totalMs));
      return rows.join('\n');
    },
    top(n, units, unit) {
      const rows = sorted().slice(0, n).map(([name, { ms, calls }]) =>
        `  ${name.padEnd(32)} ${((1000 * ms) / units).toFixed(1).padStart(7)} µs/${unit}  ${(calls / units).toFixed(1)} calls/${unit}`);
      return rows.join('\n');
    },
  };
}
