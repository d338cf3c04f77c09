// Memory stays flat over many training steps: every step's activations, caches and temporaries are
// freed by its tidy scope and their blocks reused, so neither live bytes nor the heap grow; steps whose
// shapes change from batch to batch reuse blocks across nearby sizes, so the heap stays near their peak.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { Heap, blockBytes, heap } from '../src/tensor/heap.js';
import { Rng } from '../src/random/rng.js';
import { trainLanguageModel, defaultTrainOptions } from '../src/train/train-language-model.js';
import { smallCorpus, tempDir } from './util/cli.js';

test('heap use is flat across 60 training steps (LSTM 2 layers, dropout, Adam, clipping)', async () => {
  const samples: Array<{ step: number; inUse: number; heapBytes: number }> = [];
  const { model } = await trainLanguageModel(smallCorpus(), 'small corpus', {
    ...defaultTrainOptions, hiddenSize: 16, numLayers: 2, batchSize: 4, seqLength: 12, dropout: 0.1,
    steps: 60, evalEvery: 1000, sampleLength: 0, out: join(tempDir(), 'run'),
  }, {
    onStep: ({ step }) => {
      const s = heap.stats();
      samples.push({ step, inUse: s.bytesInUse, heapBytes: s.heapBytes });
    },
  });
  const after5 = samples[4];
  const last = samples[samples.length - 1];
  assert.equal(last.inUse, after5.inUse, `live bytes grew from ${after5.inUse} (step 5) to ${last.inUse} (step 60)`);
  assert.equal(last.heapBytes, after5.heapBytes, `heap grew from ${after5.heapBytes} to ${last.heapBytes}`);
  // what is live between steps is the model, its grads, Adam's two slots and the carried state, nothing more
  const params = model.parameters().reduce((n, p) => n + p.size, 0);
  assert.ok(last.inUse < params * 4 * 4 + 64 * 1024, `live bytes ${last.inUse} for ${params} parameters`);
  model.dispose();
});

test('steps whose shapes change from batch to batch reuse and merge free blocks: the heap stays near the peak in use', () => {
  const h = new Heap(16);
  const rng = new Rng(3);
  let peakStep = 0;
  for (let step = 0; step < 400; step++) {
    // An encoder–decoder's step in miniature: six layers' B×T×E, B×T×F, B×H×T×T, B×H×T×S, … blocks, each with a
    // temporary, kept for the backward pass, which frees them in reverse beside their gradients; T and S from 3 to 34.
    const [T, S, B] = [3 + Math.floor(rng.uniform() * 32), 3 + Math.floor(rng.uniform() * 32), 32];
    const kept: Array<[number, number]> = [];
    for (let layer = 0; layer < 6; layer++) {
      for (const n of [B * T * 64, B * T * 256, B * 4 * T * T, B * 4 * T * S, B * T * 64, B * S * 64, B * T]) {
        kept.push([h.alloc(n, false), n]);
        const temporary = h.alloc(n + 7 * B, false);
        h.release(temporary, n + 7 * B);
      }
    }
    peakStep = Math.max(peakStep, h.stats().bytesInUse);
    for (const [offset, n] of kept.reverse()) {
      const grad = h.alloc(n, false);
      h.release(grad, n);
      h.release(offset, n);
    }
  }
  assert.equal(h.stats().bytesInUse, 0);
  // Size classes alone reached 1.8× the largest step here, exact-size lists far more (a 4 GiB heap on G2P).
  assert.ok(h.stats().heapBytes < 1.4 * peakStep, `heap ${h.stats().heapBytes} bytes for steps of at most ${peakStep}`);
});

test('blocks never overlap, and a zeroed block reads zero, through reuse, borrowing, carving and merging', () => {
  const h = new Heap(16);
  h.poisonFreed = true; // a freed block reads NaN until it is zeroed again
  const rng = new Rng(11);
  const live = new Map<number, number>(); // offset -> floats
  for (let i = 0; i < 4000; i++) {
    if (live.size > 0 && rng.uniform() < 0.48) {
      const offsets = [...live.keys()];
      const offset = offsets[rng.int(offsets.length)];
      h.release(offset, live.get(offset)!);
      live.delete(offset);
      continue;
    }
    // Sizes from 1 float to 64k, most of them odd, so that classes, borrowing and carving all happen.
    const floats = 1 + Math.floor(Math.exp(rng.uniform() * Math.log(65536)));
    const zero = rng.uniform() < 0.7;
    const offset = h.alloc(floats, zero);
    assert.equal(offset % 16, 0, `offset ${offset} is not 16-byte aligned`);
    if (zero) {
      const view = h.f32.subarray(offset / 4, offset / 4 + floats);
      assert.ok(view.every((x) => x === 0), `block of ${floats} floats at ${offset} is not zero`);
    }
    h.f32.fill(i, offset / 4, offset / 4 + floats);
    live.set(offset, floats);
  }
  const spans = [...live].map(([o, n]) => [o, o + blockBytes(n)]).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1][1] <= spans[i][0], `blocks [${spans[i - 1]}) and [${spans[i]}) overlap`);
  // each live block still holds what was written into it: no other block was handed its bytes
  for (const [offset, floats] of live) {
    const v = h.f32.subarray(offset / 4, offset / 4 + floats);
    assert.ok(v.every((x) => x === v[0]), `block at ${offset} was overwritten`);
  }
});

test('a block that cannot fit under the heap\'s maximum is a one-line error naming the sizes', () => {
  const h = new Heap(16, 32); // 1 MiB, at most 2
  h.alloc(1 << 17, false); // 512 KiB
  assert.throws(() => h.alloc(1 << 19, false), /^RangeError: out of memory: the tensor heap is 0\.6 MiB \(0\.5 MiB in live tensors\) and a block of 2\.0 MiB does not fit under its maximum of 2\.0 MiB$/);
  h.alloc(1 << 17, false); // what still fits is handed out
});

test('the heap may grow in the middle of a backward pass: gradients stay right', async () => {
  const { linear, sum } = await import('../src/autograd/ops.js');
  const { backward } = await import('../src/autograd/tape.js');
  const { Tensor, tidy } = await import('../src/tensor/tensor.js');
  const rng = new Rng(5);
  const [M, N, K] = [67, 29, 53]; // odd sizes, so no freed block of these sizes can be reused
  tidy(() => {
    const x = Tensor.from(Array.from({ length: M * K }, () => rng.normal()), [M, K], true);
    const w = Tensor.from(Array.from({ length: N * K }, () => rng.normal()), [N, K], true);
    const loss = sum(linear(x, w, null)); // sum(x Wᵀ): dx[i,k] = Σ_j W[j,k], dW[j,k] = Σ_i x[i,k]
    // Fill the heap so that the output's grad (M×N) still fits but x's grad (M×K) does not: linear's
    // backward then takes its view of dOut before the heap grows under it.
    loss.ensureGrad();
    const room = blockBytes(M * N) + 16;
    // Filled by blocks of exact sizes: powers of two, then one of at most 4 KiB (16-byte steps).
    for (let free = heap.memory.buffer.byteLength - heap.stats().heapBytes - room; free >= 16; free = heap.memory.buffer.byteLength - heap.stats().heapBytes - room) {
      new Tensor([(free >= 8192 ? 2 ** Math.floor(Math.log2(free)) : Math.floor(free / 16) * 16) / 4]);
    }
    const bytesBefore = heap.memory.buffer.byteLength;
    backward(loss);
    assert.ok(heap.memory.buffer.byteLength > bytesBefore, 'the heap grew during backward');
    const xd = x.data;
    const wd = w.data;
    for (let k = 0; k < K; k++) {
      let colW = 0;
      let colX = 0;
      for (let j = 0; j < N; j++) colW += wd[j * K + k];
      for (let i = 0; i < M; i++) colX += xd[i * K + k];
      assert.ok(Math.abs(x.grad!.data[k] - colW) < 1e-4, `dx[0,${k}] ${x.grad!.data[k]} vs ${colW}`);
      assert.ok(Math.abs(w.grad!.data[k] - colX) < 1e-4, `dW[0,${k}] ${w.grad!.data[k]} vs ${colX}`);
    }
  });
});
