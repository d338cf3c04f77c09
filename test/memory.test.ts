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

test('steps whose shapes change from batch to batch reuse blocks across sizes: the heap stays near the peak in use', () => {
  const h = new Heap(16);
  const rng = new Rng(3);
  let peakStep = 0;
  for (let step = 0; step < 300; step++) {
    // An encoder–decoder's step in miniature: B×T, B×T×E and B×H×T×S blocks, T and S from 5 to 30.
    const [T, S] = [5 + Math.floor(rng.uniform() * 26), 5 + Math.floor(rng.uniform() * 26)];
    const sizes = [64 * T, 64 * T * 32, 64 * 4 * T * S, 64 * S * 32, 64 * 4 * T * S, 64 * T * 128];
    const blocks = sizes.map((n) => [h.alloc(n, false), n]);
    peakStep = Math.max(peakStep, h.stats().bytesInUse);
    for (const [offset, n] of blocks.reverse()) h.release(offset, n);
  }
  assert.equal(h.stats().bytesInUse, 0);
  // Exact-size lists kept every (T, S)'s blocks apart: this heap reached 41× the largest step (2.2× now).
  assert.ok(h.stats().heapBytes < 3 * peakStep, `heap ${h.stats().heapBytes} bytes for steps of at most ${peakStep}`);
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
