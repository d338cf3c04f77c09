// The Transformer kernels of every fast backend against the reference (the definition): fused attention
// forward and backward on random and odd shapes (time-major, batch-first, packed q/k/v columns, S ≠ L,
// every kind of mask, a row with every key masked, dropout, 2 threads), LayerNorm with and without its
// affine parameters, GELU exact and tanh. Also the reference's erf and GELU against published values.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttentionBackward, AttentionForward, Backend, RowStrides } from '../src/backend/backend.js';
import { referenceBackend as ref } from '../src/backend/reference.js';
import { erf } from '../src/backend/reference-transformer.js';
import { MIN_THREADED_WORK } from '../src/backend/wasm/thread-pool.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { fastBackends } from './util/backends.js';

const fast = fastBackends();
const rng = new Rng(515);

function rand(n: number, lo = -1, hi = 1): Tensor {
  return Tensor.from(Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()));
}
const copy = (t: Tensor): Tensor => Tensor.from(t.data);

/** |got - want| <= atol + rtol·|want| everywhere. */
function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.fail(`${what}: element ${i} is ${g}, reference ${w}`);
  }
}

test('reference erf and GELU match published values', () => {
  // erf: Abramowitz & Stegun table 7.1 and erfc tails (to 1e-15 relative)
  const table: Array<[number, number]> = [[0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [2, 0.9953222650189527], [2.9, 0.9999589021219005], [3, 0.9999779095030014], [4, 0.9999999845827421], [-1.5, -0.9661051464753108]];
  for (const [x, want] of table) assert.ok(Math.abs(erf(x) - want) <= 2e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
  tidy(() => {
    const x = Tensor.from([1, -1, 3, -3, -10, 0.5]);
    const y = new Tensor([6]);
    ref.gelu('none', x.data, y.data);
    // x·Φ(x): Φ(1) = 0.841344746068543, Φ(-3) = 0.00134989803163009, Φ(-10) = 7.61985302416047e-24
    close('gelu', y.data, [0.841344746068543, -0.158655253931457, 2.99595030590511, -0.00404969409489027, -7.61985302416047e-23, 0.345731039492872], 1e-6, 0);
    ref.gelu('tanh', x.data, y.data);
    close('gelu tanh', y.data.subarray(0, 2), [0.8411919906082768, -0.15880800939172324], 1e-6, 0);
  });
});

test('reference GELU backward is the derivative of its forward (central differences in float64)', () => {
  for (const approximate of ['none', 'tanh'] as const) {
    tidy(() => {
      const xs = [-6, -2.5, -0.7, -1e-3, 0, 0.3, 1.1, 4];
      const x = Tensor.from(xs);
      const dx = new Tensor([xs.length]);
      ref.geluBackwardAcc(approximate, x.data, Tensor.from(xs.map(() => 1)).data, dx.data);
      const h = 1e-2; // the forward is stored as float32: a smaller step drowns in its rounding
      const f = (v: number): number => {
        const a = Tensor.from([v]);
        const b = new Tensor([1]);
        ref.gelu(approximate, a.data, b.data);
        return b.data[0];
      };
      xs.forEach((v, i) => {
        const num = (f(v + h) - f(v - h)) / (2 * h);
        assert.ok(Math.abs(dx.data[i] - num) < 2e-4, `${approximate}: GELU'(${v}) = ${dx.data[i]}, numeric ${num}`);
      });
    });
  }
});

interface Case {
  B: number; heads: number; L: number; S: number; D: number;
  batchFirst: boolean; packed: boolean; mask: 'none' | '2d' | '3d'; padding: boolean; causal: boolean; dropout: boolean; weightsGrad: boolean;
}

/** Random operands for a case: q/k/v either separate (width E) or the columns of one (·, 3E) tensor (packed, L = S). */
function problem(c: Case) {
  const { B, heads, L, S, D, batchFirst, packed } = c;
  const E = heads * D;
  const strides = (T: number, W: number): RowStrides => (batchFirst ? { batch: T * W, time: W } : { batch: W, time: B * W });
  const N = B * heads;
  const qkv = packed ? rand(B * L * 3 * E, -1.5, 1.5) : null;
  const q = qkv ?? rand(B * L * E, -1.5, 1.5);
  const k = qkv ?? rand(B * S * E, -1.5, 1.5);
  const v = qkv ?? rand(B * S * E);
  const W = packed ? 3 * E : E;
  const attnMask = c.mask === 'none' ? null : rand((c.mask === '3d' ? N : 1) * L * S, -2, 2);
  if (attnMask !== null) for (let i = 0; i < attnMask.size; i++) if (rng.uniform() < 0.2) attnMask.data[i] = -Infinity;
  const keyPadding = c.padding ? Tensor.from(Array.from({ length: B * S }, (_, i) => (i % S >= S - (i / S | 0) % 3 ? -Infinity : 0))) : null;
  if (keyPadding !== null && attnMask !== null && c.mask === '2d' && S > 0) {
    // One row of batch 0 with every key masked: its probabilities are exactly 0.
    attnMask.data.fill(-Infinity, 0, S);
  }
  const dropMask = c.dropout ? Tensor.from(Array.from({ length: N * L * S }, () => (rng.uniform() < 0.3 ? 0 : 1 / 0.7))) : null;
  return {
    B, heads, L, S, D, scale: 1 / Math.sqrt(D),
    q: q.data, qs: strides(L, W), k: packed ? k.data.subarray(E) : k.data, ks: strides(S, W), v: packed ? v.data.subarray(2 * E) : v.data, vs: strides(S, W),
    attnMask: attnMask?.data ?? null, maskStride: c.mask === '3d' ? L * S : 0, keyPadding: keyPadding?.data ?? null, causal: c.causal,
    dropMask: dropMask?.data ?? null, os: strides(L, E), N, E, tensors: { q, k, v },
  };
}

function runAttention(be: Backend, c: Case, p: ReturnType<typeof problem>, dOut: Tensor, dWeights: Tensor | null) {
  const { N, L, S } = p;
  const probs = new Tensor([N * L * S]);
  const dropped = p.dropMask !== null ? new Tensor([N * L * S]) : null;
  const out = rand(p.B * L * p.E); // garbage: the kernel writes every element
  const f: AttentionForward = { ...p, probs: probs.data, dropped: dropped?.data ?? null, out: out.data };
  be.attentionForward(f);
  const grads = [p.tensors.q, p.tensors.k, p.tensors.v].map((t) => Tensor.from(Array.from({ length: t.size }, (_, i) => Math.sin(i)))); // start nonzero: +=
  const packed = c.packed;
  const view = (g: Tensor, col: number): Float32Array => (packed ? g.data.subarray(col) : g.data);
  const dq = view(grads[0], 0);
  const dk = packed ? grads[0].data.subarray(p.E) : grads[1].data;
  const dv = packed ? grads[0].data.subarray(2 * p.E) : grads[2].data;
  const dScores = rand(N * L * S);
  const g: AttentionBackward = { ...p, probs: probs.data, dropped: dropped?.data ?? null, dOut: dOut.data, dWeights: dWeights?.data ?? null, dScores: dScores.data, dq, dk, dv };
  be.attentionBackward(g);
  return { probs, dropped, out, grads: packed ? [grads[0]] : grads };
}

const cases: Case[] = [];
const base: Case = { B: 2, heads: 3, L: 5, S: 7, D: 4, batchFirst: false, packed: false, mask: 'none', padding: false, causal: false, dropout: false, weightsGrad: false };
for (const [B, heads, L, S, D] of [[1, 1, 1, 1, 1], [2, 3, 5, 7, 4], [3, 2, 9, 4, 5], [1, 4, 13, 13, 8], [2, 1, 6, 33, 3], [2, 2, 37, 37, 16]]) {
  cases.push({ ...base, B, heads, L, S, D });
}
cases.push({ ...base, batchFirst: true }, { ...base, L: 6, S: 6, packed: true }, { ...base, L: 6, S: 6, packed: true, batchFirst: true, causal: true });
cases.push({ ...base, mask: '2d' }, { ...base, mask: '3d', batchFirst: true }, { ...base, padding: true }, { ...base, mask: '2d', padding: true });
cases.push({ ...base, causal: true }, { ...base, causal: true, mask: '3d', padding: true }, { ...base, L: 1, S: 9, causal: true });
cases.push({ ...base, dropout: true, weightsGrad: true }, { ...base, weightsGrad: true, mask: '3d' }, { ...base, L: 6, S: 6, packed: true, dropout: true, padding: true });

const label = (c: Case): string => `B=${c.B} heads=${c.heads} L=${c.L} S=${c.S} D=${c.D}${c.batchFirst ? ' batch-first' : ''}${c.packed ? ' packed' : ''}` +
  `${c.mask !== 'none' ? ` mask ${c.mask}` : ''}${c.padding ? ' padding' : ''}${c.causal ? ' causal' : ''}${c.dropout ? ' dropout' : ''}${c.weightsGrad ? ' dWeights' : ''}`;

test('reference attention: masked keys get probability exactly 0, a row with every key masked is all 0, rows sum to 1', () => {
  tidy(() => {
    const c: Case = { ...base, mask: '2d', padding: true, causal: true };
    const p = problem(c);
    const { probs } = runAttention(ref, c, p, rand(p.B * p.L * p.E), null);
    for (let n = 0; n < p.N; n++) {
      const b = Math.floor(n / p.heads);
      for (let l = 0; l < p.L; l++) {
        let sum = 0;
        let kept = 0;
        for (let s = 0; s < p.S; s++) {
          const masked = p.attnMask![l * p.S + s] === -Infinity || p.keyPadding![b * p.S + s] === -Infinity || s > l + p.S - p.L;
          const w = probs.data[(n * p.L + l) * p.S + s];
          if (masked) assert.equal(w, 0, `n=${n} l=${l} s=${s} is masked`);
          else kept++;
          sum += w;
        }
        if (kept > 0) assert.ok(Math.abs(sum - 1) < 1e-6, `row n=${n} l=${l} sums to ${sum}`);
        else assert.equal(sum, 0);
      }
    }
  });
});

for (const be of fast) {
  test(`${be.name}: attention forward and backward against the reference (layouts, masks, causal, dropout, odd sizes)`, () => {
    for (const c of cases) {
      tidy(() => {
        const p = problem(c);
        const dOut = rand(p.B * p.L * p.E);
        const dWeights = c.weightsGrad ? rand(p.N * p.L * p.S) : null;
        const want = runAttention(ref, c, p, dOut, dWeights);
        const got = runAttention(be, c, p, dOut, dWeights);
        const what = `${be.name} ${label(c)}`;
        close(`${what}: probs`, got.probs.data, want.probs.data, 2e-5, 1e-6);
        want.probs.data.forEach((w, i) => { if (w === 0) assert.equal(got.probs.data[i], 0, `${what}: probs[${i}] must be exactly 0`); });
        if (want.dropped !== null) close(`${what}: dropped`, got.dropped!.data, want.dropped.data, 2e-5, 1e-6);
        close(`${what}: out`, got.out.data, want.out.data, 1e-4, 2e-6);
        want.grads.forEach((g, i) => close(`${what}: grad ${'qkv'[i]}`, got.grads[i].data, g.data, 1e-4, 1e-5));
      });
    }
  });

  if (be.setThreads !== undefined) {
    test(`${be.name}: attention on 2 threads equals the reference (problems split across threads)`, () => {
      const setThreads = be.setThreads!.bind(be);
      const saved = be.threads ?? 1;
      try {
        for (const c of [{ ...base, B: 3, heads: 3, L: 64, S: 67, D: 64, mask: '3d', padding: true } as Case, { ...base, B: 2, heads: 5, L: 70, S: 70, D: 48, packed: true, causal: true, dropout: true, weightsGrad: true } as Case]) {
          assert.ok(2 * c.B * c.heads * c.L * c.S * c.D >= MIN_THREADED_WORK, 'big enough to split');
          tidy(() => {
            const p = problem(c);
            const dOut = rand(p.B * p.L * p.E);
            const dWeights = c.weightsGrad ? rand(p.N * p.L * p.S) : null;
            const want = runAttention(ref, c, p, dOut, dWeights);
            setThreads(2);
            const got = runAttention(be, c, p, dOut, dWeights);
            setThreads(saved);
            const what = `${be.name} 2 threads ${label(c)}`;
            close(`${what}: out`, got.out.data, want.out.data, 1e-4, 2e-6);
            want.grads.forEach((g, i) => close(`${what}: grad ${'qkv'[i]}`, got.grads[i].data, g.data, 1e-4, 2e-5));
          });
        }
      } finally {
        setThreads(saved);
      }
    });
  }

  test(`${be.name}: layerNorm forward and backward against the reference (affine or not, odd widths)`, () => {
    for (const [rows, n] of [[1, 1], [3, 5], [7, 12], [4, 64], [9, 37], [2, 1000]]) {
      for (const affine of [true, false]) {
        tidy(() => {
          const x = rand(rows * n, -3, 5);
          const w = affine ? rand(n) : null;
          const b = affine ? rand(n) : null;
          const dy = rand(rows * n);
          const start = [rand(rows * n), rand(n), rand(n)]; // dx, dWeight, dBias accumulate (+=) from the same values
          const sides = [ref, be].map((k) => {
            const y = rand(rows * n);
            const mean = rand(rows);
            const rstd = rand(rows);
            k.layerNormForward(rows, n, x.data, w?.data ?? null, b?.data ?? null, 1e-5, y.data, mean.data, rstd.data);
            const dx = copy(start[0]);
            const dw = affine ? copy(start[1]) : null;
            const db = affine ? copy(start[2]) : null;
            k.layerNormBackward(rows, n, x.data, w?.data ?? null, mean.data, rstd.data, dy.data, dx.data, dw?.data ?? null, db?.data ?? null);
            k.layerNormBackward(rows, n, x.data, w?.data ?? null, mean.data, rstd.data, dy.data, null, null, null); // no outputs: a no-op
            return { y, mean, rstd, dx, dw, db };
          });
          const what = `${be.name} layerNorm rows=${rows} n=${n}${affine ? '' : ' no affine'}`;
          for (const key of ['y', 'mean', 'rstd', 'dx', 'dw', 'db'] as const) {
            const [r, g] = [sides[0][key], sides[1][key]];
            if (r !== null && g !== null) close(`${what}: ${key}`, g.data, r.data, 2e-5, n === 1 ? 1e-3 : 2e-5);
          }
        });
      }
    }
  });

  test(`${be.name}: GELU (exact erf and tanh) and its backward against the reference`, () => {
    for (const approximate of ['none', 'tanh'] as const) {
      for (const n of [0, 1, 3, 4, 5, 17, 4001]) {
        tidy(() => {
          const x = n === 4001 ? Tensor.from(Array.from({ length: n }, (_, i) => -10 + (20 * i) / (n - 1))) : rand(n, -6, 6);
          const yr = rand(n);
          const yw = copy(yr);
          ref.gelu(approximate, x.data, yr.data);
          be.gelu(approximate, x.data, yw.data);
          close(`${be.name} gelu ${approximate} n=${n}`, yw.data, yr.data, 2e-6, 1e-6);
          const dy = rand(n);
          const dr = rand(n);
          const dw = copy(dr);
          ref.geluBackwardAcc(approximate, x.data, dy.data, dr.data);
          be.geluBackwardAcc(approximate, x.data, dy.data, dw.data);
          close(`${be.name} geluBackwardAcc ${approximate} n=${n}`, dw.data, dr.data, 2e-6, 1e-6);
        });
      }
    }
  });
}
