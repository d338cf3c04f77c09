// TensorFlow.js peer (@tensorflow/tfjs 4.22, backend 'cpu' or 'wasm'): the char model built with the
// layers API — embedding → stacked tf.layers.lstm/gru (returnSequences) → dense — trained by a custom
// loop that is our step: variableGrads of the mean softmax cross-entropy, clip by global norm 5, Adam 2e-3.
// Not measured: model.fit (it has no global-norm clip). Spawned by ../run.ts; prints one @@RESULT line.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { drawIndex, emit, maxRssKB, readSpec, streamBatcher, timeboxed } from './common.mjs';

const spec = readSpec();
const require = createRequire(import.meta.url);

let tf;
try {
  tf = await import('@tensorflow/tfjs');
} catch (e) {
  emit({ ok: false, skip: `@tensorflow/tfjs is not installed (${e.code ?? e.message})` });
  process.exit(0);
}
const info = { version: tf.version.tfjs };
if (spec.backend === 'wasm') {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    info.threads = 'n/a';
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
    info.threads = wasm.getThreadsCount();
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info.wasmVersion = require('@tensorflow/tfjs-backend-wasm/package.json').version;
  } catch (e) {
    emit({ ok: false, skip: `tfjs wasm backend unavailable: ${e.message}` });
    process.exit(0);
  }
} else {
  await tf.setBackend('cpu');
}
await tf.ready();
info.backend = tf.getBackend();

// NOTE: the wasm backend has no UnsortedSegmentSum kernel, which the embedding's gradient (gather's)
// needs; there the training model takes one-hot rows into a bias-free dense(H): the same function and
// gradient, at B·T·V·H extra multiply-adds (V = 65, small next to the recurrent products).
const oneHotInput = (train) => train && spec.backend === 'wasm';

function buildModel({ batch, seq, stateful, train }) {
  const { cell, hidden: H, layers: L, vocab: V } = spec;
  const model = tf.sequential();
  if (oneHotInput(train)) model.add(tf.layers.dense({ units: H, useBias: false, batchInputShape: [batch, seq, V] }));
  else model.add(tf.layers.embedding({ inputDim: V, outputDim: H, batchInputShape: [batch, seq] }));
  const Layer = cell === 'lstm' ? tf.layers.lstm : tf.layers.gru;
  for (let l = 0; l < L; l++) {
    // NOTE: glorotUniform instead of the default orthogonal recurrent init, whose QR takes seconds at
    // H = 512 on the cpu backend; the init is not timed, and the step's cost does not depend on it.
    model.add(Layer({ units: H, returnSequences: true, stateful, recurrentInitializer: 'glorotUniform' }));
  }
  model.add(tf.layers.dense({ units: V }));
  return model;
}

function train() {
  const { hidden: H, layers: L, vocab: V, batch: B, seq: T } = spec;
  const ids = readFileSync(spec.idsFile);
  const batches = streamBatcher(ids, B, T);
  const model = buildModel({ batch: B, seq: T, stateful: false, train: true });
  const vars = model.trainableWeights.map((w) => w.read());
  const opt = tf.train.adam(2e-3, 0.9, 0.999, 1e-8);
  let step = 0;
  let lastLoss = NaN;
  const trainStep = () => {
    const { x, y } = batches(step);
    tf.tidy(() => {
      const ids2d = tf.tensor2d(x, [B, T], 'int32'); // (B, T)
      const xs = oneHotInput(true) ? tf.oneHot(ids2d, V).toFloat() : ids2d; // (B, T, V) one-hot on wasm
      const ys = tf.tensor1d(y, 'int32'); // (B*T)
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(xs, { training: true }).reshape([B * T, V]); // (B*T, V)
        return tf.losses.softmaxCrossEntropy(tf.oneHot(ys, V), logits);
      }, vars);
      // clip_grad_norm_(5): one global norm over every gradient, then a common scale when above 5.
      const names = Object.keys(grads);
      const norm = Math.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))).dataSync()[0]);
      const coef = 5 / (norm + 1e-6);
      const clipped = {};
      for (const n of names) clipped[n] = coef < 1 ? tf.mul(grads[n], coef) : grads[n];
      opt.applyGradients(clipped);
      lastLoss = value.dataSync()[0];
    });
    step++;
  };
  const t = timeboxed(trainStep, spec.budgetSec);
  return {
    ok: true, value: (t.count * B * T) / t.seconds, ...t, maxRssKB: maxRssKB(),
    info: { ...info, model: `layers: ${oneHotInput(true) ? 'one-hot → dense(H, no bias)' : 'embedding'} → ${L}× ${spec.cell}(${H}, returnSequences) → dense(${V}); custom loop`, loss: Number(lastLoss.toFixed(4)), tensorsLeft: tf.memory().numTensors },
    notes: ['no state carried between batches (zero initial state each step; same cost)'],
  };
}

function sample() {
  const V = spec.vocab;
  // A stateful copy at batch 1, one character per predict call: the state carries between calls.
  const model = buildModel({ batch: 1, seq: 1, stateful: true, train: false });
  const CHUNK = 50;
  let id = 0;
  const chunk = () => {
    for (let i = 0; i < CHUNK; i++) {
      const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor2d([id], [1, 1], 'int32')).reshape([V]))); // (V)
      const p = probs.dataSync();
      probs.dispose();
      id = drawIndex(p, Math.random());
    }
  };
  const t = timeboxed(chunk, spec.budgetSec);
  const chars = t.count * CHUNK;
  return {
    ok: true, value: chars / t.seconds, ...t, count: chars, maxRssKB: maxRssKB(),
    info: { ...info, via: 'stateful layers model, model.predict per character, tf.softmax, draw in JS' },
  };
}

function gemm() {
  const out = [];
  for (const n of spec.sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    for (const layout of ['NN', 'NT']) {
      const call = () => {
        const c = tf.matMul(a, b, false, layout === 'NT');
        c.dataSync();
        c.dispose();
      };
      const t = timeboxed(call, spec.budgetSec);
      out.push({ n, layout, threads: typeof info.threads === 'number' ? info.threads : 1, gflops: (2 * n * n * n * t.count) / t.seconds / 1e9 });
    }
    a.dispose();
    b.dispose();
  }
  return { ok: true, gemm: out, maxRssKB: maxRssKB(), info: { ...info, via: 'tf.matMul + dataSync' } };
}

const tasks = { train, sample, gemm, idle: () => ({ ok: true, maxRssKB: maxRssKB(), info }) };
emit(tasks[spec.task]());
