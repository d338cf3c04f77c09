// A backend's whole-loop kernels (Backend.recurrentForward/Backward) against the per-step loop of
// recurrent-stack.ts on the same backend: outputs and every gradient must be equal bit for bit, on one
// thread and with the batch rows split across two (sizes chosen above the threading threshold, odd
// batch and hidden sizes so that row blocks and SIMD lanes have edges), for every cell the kernels take.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import type { Backend } from '../src/backend/backend.js';
import { availableBackends, backend, registerBackend, setBackend } from '../src/backend/registry.js';
import { MIN_THREADED_WORK } from '../src/backend/wasm/thread-pool.js';
import { relaxedSimd } from '../src/backend/wasm/load-kernels.js';
import { createRecurrent, type CellKind } from '../src/nn/recurrent/index.js';
import { Rng } from '../src/random/rng.js';
import { heap } from '../src/tensor/heap.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { randomTensor } from './util/gradcheck.js';

type Threaded = Backend & { readonly threads?: number; setThreads?(n: number): void };

/** Every result of one forward and backward: output, h, c, the input's and every parameter's gradient. */
function runLayer(
  cell: CellKind, H: number, T: number, B: number, lengths: number[], recording: boolean, initialState = true,
): Map<string, Float32Array> {
  const layer = createRecurrent(cell, { inputSize: 11, hiddenSize: H, numLayers: 2, bidirectional: true }, new Rng(5));
  const rng = new Rng(6);
  const x = randomTensor(rng, [T, B, 11]);
  const h0 = randomTensor(rng, [4, B, H]);
  const c0 = cell === 'lstm' ? randomTensor(rng, [4, B, H]) : null;
  const upOut = randomTensor(rng, [T, B, 2 * H], 1, false);
  const upH = randomTensor(rng, [4, B, H], 1, false);
  const values = new Map<string, Float32Array>();
  tidy(() => {
    const forward = () => layer.forward(x, initialState ? { h0, c0: c0 ?? undefined, lengths } : { lengths });
    const r = recording ? forward() : noGrad(forward);
    values.set('output', r.output.data.slice());
    values.set('h', r.h.data.slice());
    if (r.c !== null) values.set('c', r.c.data.slice());
    if (!recording) return;
    backward(ops.add(ops.sum(ops.mul(r.output, upOut)), ops.sum(ops.mul(r.h, upH))));
    for (const [k, t] of Object.entries(initialState ? { x, h0, c0 } : { x })) if (t !== null) values.set(`grad ${k}`, t.grad!.data.slice());
    for (const [k, p] of layer.namedParameters()) values.set(`grad ${k}`, p.grad!.data.slice());
  });
  return values;
}

const active = backend().name;
const loopBackends = availableBackends().filter((n) => {
  setBackend(n);
  return backend().recurrentForward !== undefined;
});
setBackend(active);

for (const name of loopBackends) {
  setBackend(name);
  const be = backend() as Threaded;
  setBackend(active);
  // The same backend without the whole-loop kernels: recurrent-stack.ts then steps in JS.
  const stepped: Backend = { ...be, name: `${name}-stepped`, recurrentForward: undefined, recurrentBackward: undefined };
  registerBackend(stepped);

  // H per cell so that T·B·G·H² (the loop's multiply-adds) is above the threading threshold.
  const cells: Array<[CellKind, number]> = [['rnn_tanh', 131], ['rnn_relu', 131], ['lstm', 67], ['gru', 75]];
  for (const [cell, H] of cells) {
    test(`${name}: ${cell} whole loop equals the per-step loop, 1 and 2 threads, recording and not`, () => {
      const T = 9;
      const B = 37;
      const G = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 }[cell as 'lstm'];
      assert.ok(T * B * G * H * H >= MIN_THREADED_WORK, 'the loop is large enough to be split');
      const lengths = Array.from({ length: B }, (_, b) => 1 + ((b * 5) % T));
      const saved = be.threads ?? 1;
      try {
        for (const recording of [true, false]) {
          setBackend(`${name}-stepped`);
          be.setThreads?.(1);
          const want = runLayer(cell, H, T, B, lengths, recording);
          for (const threads of be.setThreads === undefined ? [1] : [1, 2]) {
            setBackend(name);
            be.setThreads?.(threads);
            const got = runLayer(cell, H, T, B, lengths, recording);
            assert.deepEqual([...got.keys()], [...want.keys()]);
            for (const [k, w] of want) {
              const g = got.get(k)!;
              const i = w.findIndex((v, j) => !Object.is(v, g[j]));
              assert.equal(i, -1, `${k} (threads ${threads}, recording ${recording}): element ${i} is ${g[i]}, the per-step loop gives ${w[i]}`);
            }
          }
        }
      } finally {
        be.setThreads?.(saved);
        setBackend(active);
      }
    });
  }
}

// The native loops run the wasm loops' operations in the same order (their GEMM and cells match the wasm
// FMA build bit for bit: backend-kernels.test.ts), so a whole bidirectional two-layer layer, forward and
// every gradient, must come out the same on both.
test('native: every loop cell, forward and gradients, equals the wasm FMA build bit for bit', {
  skip: !(relaxedSimd && availableBackends().includes('native')) && 'needs the native backend and relaxed SIMD (node --experimental-wasm-relaxed-simd on Node 20)',
}, () => {
  const saved = backend().name;
  try {
    for (const [cell, H] of [['rnn_relu', 33], ['lstm', 67], ['gru', 21]] as const) {
      const T = 7;
      const B = 19;
      const lengths = Array.from({ length: B }, (_, b) => 1 + ((b * 3) % T));
      setBackend('wasm');
      const want = runLayer(cell, H, T, B, lengths, true);
      setBackend('native');
      const got = runLayer(cell, H, T, B, lengths, true);
      for (const [k, w] of want) {
        const g = got.get(k)!;
        const i = w.findIndex((v, j) => !Object.is(v, g[j]));
        assert.equal(i, -1, `${cell} ${k}: element ${i} is ${g[i]} on native, ${w[i]} on wasm`);
      }
    }
  } finally {
    setBackend(saved);
  }
});

// The stack leaves large buffers unzeroed (Tensor.empty) where kernels write every element: with freed
// memory poisoned with NaN, every cell on every backend must still give the same results, bit for bit.
test('unzeroed buffers: results do not depend on what freed memory held', () => {
  const saved = backend().name;
  try {
    for (const name of availableBackends()) {
      setBackend(name);
      for (const cell of ['rnn_tanh', 'lstm', 'gru', 'gru_cho', 'mut3'] as const) { // runLayer's stack is too deep and wide for MUT1/2
        const H = 5;
        const T = 6;
        const B = 9;
        const lengths = Array.from({ length: B }, (_, b) => 1 + ((b * 4) % T));
        for (const state of [true, false]) {
          const clean = runLayer(cell, H, T, B, lengths, true, state);
          heap.poisonFreed = true;
          const poisoned = [runLayer(cell, H, T, B, lengths, true, state), runLayer(cell, H, T, B, lengths, false, state)];
          heap.poisonFreed = false;
          for (const got of poisoned) {
            for (const [k, g] of got) {
              const w = clean.get(k)!;
              const i = g.findIndex((v, j) => !Object.is(v, w[j]));
              assert.equal(i, -1, `${name} ${cell} ${k}: element ${i} is ${g[i]} with poisoned memory, ${w[i]} without`);
            }
          }
        }
      }
    }
  } finally {
    heap.poisonFreed = false;
    setBackend(saved);
  }
});

test('some backend offers the whole-loop kernels (wasm)', () => {
  assert.ok(loopBackends.length > 0 || !availableBackends().includes('wasm'), `loop backends: ${loopBackends.join(', ')}`);
});
