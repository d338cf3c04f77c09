// The README's onnxruntime-node examples, run as written: the one-step graph `recurrent export` writes,
// driven as a generation loop, produces the text recurrent's own greedy sampling does — a recurrent model's,
// and a Transformer's with its key/value cache, through the slides of its window.

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

test('README: the exported Transformer step graph generates in onnxruntime-node as recurrent samples, sliding its window', async () => {
  const dir = readmeCheckpoint('transformer');
  const e = runCli(['export', '--checkpoint', join(dir, 'runs', 'gpt'), '--format', 'onnx', '--out', join(dir, 'gpt.onnx')]);
  assert.equal(e.code, 0, e.stderr);
  process.chdir(dir);
  // --- README example begins ---
  const { vocab, model: { numLayers: L, numHeads: heads, dModel: E, context } } = JSON.parse(readFileSync('runs/gpt/config.json', 'utf8'));
  const session = await ort.InferenceSession.create('gpt-step.onnx'); // written by recurrent export
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, E / heads]); // P = 0 steps cached
  const emptyCache = (): Record<string, ort.Tensor> =>
    Object.fromEntries(Array.from({ length: L }, (_, l) => [[`past_key_${l}`, empty()], [`past_value_${l}`, empty()]]).flat());
  let past = emptyCache();
  let window: number[] = [];
  let logits: Float32Array = new Float32Array(0);
  const read = async (id: number) => { // one step at position P: logits, and the cache grown to P + 1
    const position = past.past_key_0.dims[2];
    const out = await session.run({ token: new ort.Tensor('int64', BigInt64Array.of(BigInt(id)), [1]), position: new ort.Tensor('int64', BigInt64Array.of(BigInt(position)), [1]), ...past });
    logits = out.logits.data as Float32Array; // (1, V)
    past = Object.fromEntries(Object.keys(past).map((k) => [k, out[k.replace('past', 'present')]]));
  };
  const feed = async (id: number) => {
    window.push(id);
    if (window.length > context) { // the window is full: keep its last half, read again from position 0 (as recurrent sample)
      window = window.slice(-Math.max(1, Math.floor(context / 2)));
      past = emptyCache();
      for (const w of window.slice(0, -1)) await read(w);
    }
    await read(id);
  };
  let text = 'T';
  await feed(vocab.indexOf('T'));
  for (let i = 0; i < 60; i++) {
    const id = logits.indexOf(Math.max(...logits)); // the likeliest next character
    text += vocab[id];
    await feed(id);
  }
  // --- README example ends ---
  const { model, vocab: v } = loadCheckpoint(join(dir, 'runs', 'gpt'));
  assert.equal(text, generateText(model, v, { length: 60, prime: 'T', argmax: true }, new Rng(0)));
  assert.ok(context < 60, 'the loop slides its window');
  assert.match(text, /cat|the/);
  model.dispose();
});
