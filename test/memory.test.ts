// Memory stays flat over many training steps: every step's activations, caches and temporaries are
// freed by its tidy scope and their blocks reused, so neither live bytes nor the heap grow.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { heap } from '../src/tensor/heap.js';
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
