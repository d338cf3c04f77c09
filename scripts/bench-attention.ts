// The fused attention kernel against the same attention composed from the tape's primitives, forward and
// backward, on one backend, interleaved round by round (machine noise hits both alike). Prints the median
// and min–max over rounds, in ms per forward + backward.
//
//   node --experimental-wasm-relaxed-simd dist/scripts/bench-attention.js [--backend native] [--rounds 9]
//        [--batch 12] [--heads 4] [--steps 64] [--width 128] [--threads 1]
//
// Fused: scaledDotProductAttention over (B, T, E) batch-first q, k, v, causal, one kernel call each way.
// Composed: q, k, v as (B·heads, T, D); bmm(q, kᵀ) · 1/√D, maskedSoftmax with the causal mask, bmm with v
// (the head split is left out, so the composed figure is a lower bound on what it costs).

import { Rng, Tensor, backend, backward, setBackend, tidy, untracked } from '../src/index.js';
import { bmm, maskedSoftmax, scale, sum } from '../src/autograd/ops.js';
import { scaledDotProductAttention } from '../src/autograd/transformer-ops.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const num = (k: string, d: number): number => Number(args.get(k) ?? d);
const rounds = num('rounds', 9);
const [B, H, T, E] = [num('batch', 12), num('heads', 4), num('steps', 64), num('width', 128)];
const D = E / H;
const threads = num('threads', 1);

const rng = new Rng(5);
const randn = (shape: number[]): Tensor =>
  untracked(() => Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape, true));
const causal = new Uint8Array(B * H * T * T);
for (let n = 0; n < B * H; n++) for (let l = 0; l < T; l++) for (let s = 0; s <= l; s++) causal[(n * T + l) * T + s] = 1;

const variants = {
  fused: (): (() => void) => {
    const [q, k, v] = [randn([B, T, E]), randn([B, T, E]), randn([B, T, E])];
    return () => tidy(() => {
      const o = (t: Tensor) => ({ tensor: t, batchFirst: true });
      const { output } = scaledDotProductAttention(o(q), o(k), o(v), { heads: H, embedDim: E, causal: true });
      backward(sum(output));
    });
  },
  composed: (): (() => void) => {
    const [q, k, v] = [randn([B * H, T, D]), randn([B * H, T, D]), randn([B * H, T, D])];
    return () => tidy(() => {
      const p = maskedSoftmax(scale(bmm(q, k, true), 1 / Math.sqrt(D)), causal);
      backward(sum(bmm(p, v)));
    });
  },
};

if (args.has('backend')) setBackend(args.get('backend')!);
const be = backend();
(be as { setThreads?(n: number): void }).setThreads?.(threads);
const runs = Object.entries(variants).map(([label, make]) => ({ label, run: make(), ms: [] as number[] }));
const timeOnce = (r: (typeof runs)[number]): number => {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 200) { r.run(); n++; }
  return (performance.now() - t0) / n;
};
for (const r of runs) timeOnce(r); // warm-up
for (let i = 0; i < rounds; i++) for (const r of runs) r.ms.push(timeOnce(r));
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${be.name}: attention, causal, B ${B}, heads ${H}, T ${T}, E ${E} (D ${D}), ${threads} thread(s): ms per forward + backward, median (min–max) of ${rounds} rounds`);
for (const r of runs) console.log(`${r.label.padEnd(9)} ${median(r.ms).toFixed(2)} (${Math.min(...r.ms).toFixed(2)}–${Math.max(...r.ms).toFixed(2)})`);
