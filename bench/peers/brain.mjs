// brain.js peer (1.6.1, brain.recurrent.LSTM / GRU): batch 1 only. Its own training step, trainPattern:
// one sequence of T ids from the start token to the end token (T + 1 steps, state from zero), backprop
// through them, then its RMSProp update (decay 0.999) with each gradient element clipped to ±5 — not a
// global-norm clip and not Adam. Model: Embedding(V + 1, H) → L layers → Linear(H, V + 1) (index 0 is
// its start/end token). Characters/s counts the T data characters per pattern. Prints one @@RESULT line.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { emit, maxRssKB, readSpec, timeboxed } from './common.mjs';

const spec = readSpec();
const require = createRequire(import.meta.url);

let brain;
let version;
try {
  brain = require('brain.js');
  version = require('brain.js/package.json').version;
} catch (e) {
  emit({ ok: false, skip: `brain.js is not installed (${e.code ?? e.message})` });
  process.exit(0);
}

function buildNet(T) {
  const { cell, hidden: H, layers: L, vocab: V } = spec;
  const Net = cell === 'lstm' ? brain.recurrent.LSTM : brain.recurrent.GRU;
  // Numeric ids and no data formatter, so inputSize (the embedding width) can be H rather than V.
  const net = new Net({ inputSize: H, inputRange: V, outputSize: V, hiddenLayers: Array(L).fill(H), learningRate: 2e-3, maxPredictionLength: T });
  net.initialize();
  return net;
}

const info = () => spec.cell === undefined ? { version } : ({
  version,
  model: `brain.recurrent.${spec.cell.toUpperCase()}({ inputSize: ${spec.hidden}, hiddenLayers: [${Array(spec.layers).fill(spec.hidden).join(', ')}] }), batch 1`,
});

function train() {
  const T = spec.seq;
  const ids = readFileSync(spec.idsFile);
  const net = buildNet(T);
  let k = 0;
  let lastError = NaN;
  const step = () => {
    const start = (k * T) % (ids.length - T - 1);
    const seq = Array.from(ids.subarray(start, start + T)); // (T) one stream
    lastError = net.trainPattern(seq, true);
    k++;
  };
  const t = timeboxed(step, spec.budgetSec);
  return {
    ok: true, value: (t.count * T) / t.seconds, ...t, maxRssKB: maxRssKB(),
    info: { ...info(), step: 'trainPattern: T + 1 steps, RMSProp, clip ±5 per element', error: Number(lastError.toFixed(4)) },
    notes: ['batch 1: not comparable with batched tokens/s'],
  };
}

function sample() {
  const CHUNK = 50;
  const net = buildNet(CHUNK);
  net.bindEquation(); // run() refuses a net that has never trained; one bound step is all it checks for
  // run() draws up to maxPredictionLength characters, each a forward step, softmax and a draw (sampleI),
  // and stops early when it draws the end token; every step counts, the one that drew the end too.
  let chars = 0;
  const step = () => {
    chars += net.run([], true).length + 1;
  };
  const t = timeboxed(step, spec.budgetSec, () => {
    chars = 0; // count the timed calls only
  });
  return {
    ok: true, value: chars / t.seconds, ...t, count: chars, maxRssKB: maxRssKB(),
    info: { ...info(), via: 'net.run([], isSampleI = true)' },
  };
}

const tasks = { train, sample, idle: () => ({ ok: true, maxRssKB: maxRssKB(), info: info() }) };
const task = tasks[spec.task];
emit(task === undefined ? { ok: false, skip: `brain.js has no ${spec.task} measurement` } : task());
