// The README's onnxruntime-node example, run as written: the one-step graph `recurrent export` writes,
// driven as a generation loop, produces the text recurrent's own greedy sampling does.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Rng, generateText } from '../src/index.js';
import { loadCheckpoint } from '../src/node.js';
import { runCli } from './util/cli.js';
import { readmeCheckpoint } from './util/readme-lm.js';

test('README: the exported step graph generates in onnxruntime-node as recurrent samples', async () => {
  const dir = readmeCheckpoint();
  const e = runCli(['export', '--checkpoint', join(dir, 'runs', 'lm'), '--format', 'onnx', '--out', join(dir, 'lm.onnx')]);
  assert.equal(e.code, 0, e.stderr);
  process.chdir(dir);
  // --- README example begins ---
  const { vocab, model: { numLayers: L, hiddenSize: H } } = JSON.parse(readFileSync('runs/lm/config.json', 'utf8'));
  const session = await ort.InferenceSession.create('lm-step.onnx'); // written by recurrent export
  const zeros = () => new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
  let state: Record<string, ort.Tensor> = { h: zeros(), c: zeros() }; // LSTM: h and c; the other cells: h alone
  let id = vocab.indexOf('T');
  let text = 'T';
  for (let i = 0; i < 60; i++) {
    const out = await session.run({ token: new ort.Tensor('int64', BigInt64Array.of(BigInt(id)), [1]), ...state });
    const logits = out.logits.data as Float32Array; // (1, V)
    id = logits.indexOf(Math.max(...logits)); // the likeliest next character (sample from softmax for variety)
    text += vocab[id];
    state = { h: out.h_out, c: out.c_out };
  }
  // --- README example ends ---
  const { model, vocab: v } = loadCheckpoint(join(dir, 'runs', 'lm'));
  assert.equal(text, generateText(model, v, { length: 60, prime: 'T', argmax: true }, new Rng(0)));
  assert.match(text, /cat/);
  model.dispose();
});
