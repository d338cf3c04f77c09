// The README's onnxruntime-web example, run as written: a language model exported from code with
// recurrent/onnx, its step graph driven as a generation loop in onnxruntime-web (whose Node build has the
// browser build's API; test/browser/ runs the browser build in Chromium), produces the text recurrent's
// own greedy sampling does.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { toOnnx } from 'recurrent/onnx';
import { LanguageModel, Rng, generateText } from '../src/index.js';
import { loadCheckpoint } from '../src/node.js';
import { readmeCheckpoint } from './util/readme-lm.js';

test('README: exported from code with recurrent/onnx, the step graph generates in onnxruntime-web as recurrent samples', async () => {
  const { model, vocab: v } = loadCheckpoint(join(readmeCheckpoint(), 'runs', 'lm'));
  assert.ok(model instanceof LanguageModel, 'the README trains a recurrent language model');
  const vocab = v.chars;
  // --- README example begins ---
  const [step] = toOnnx(model); // a LanguageModel (trained with trainTask, or loaded): its [step, sequence] graphs
  const session = await ort.InferenceSession.create(step.bytes);
  const { numLayers: L, hiddenSize: H } = model.config;
  const zeros = () => new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
  let state: Record<string, ort.Tensor> = { h: zeros(), c: zeros() };
  let id = vocab.indexOf('T');
  let text = 'T';
  for (let i = 0; i < 60; i++) {
    const out = await session.run({ token: new ort.Tensor('int64', BigInt64Array.of(BigInt(id)), [1]), ...state });
    const logits = out.logits.data as Float32Array;
    id = logits.indexOf(Math.max(...logits));
    text += vocab[id];
    state = { h: out.h_out, c: out.c_out };
  }
  // --- README example ends ---
  assert.equal(text, generateText(model, v, { length: 60, prime: 'T', argmax: true }, new Rng(0)));
  model.dispose();
});
