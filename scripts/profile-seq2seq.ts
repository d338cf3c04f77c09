// Times seq2seq training steps on source<TAB>target pairs (default: the G2P training split that
// experiments/g2p-data.ts writes), as `recurrent seq2seq train` takes them: length-bucketed batches,
// teacher forcing, Adam, clip 5. Prints ms per step and target tokens/s, split into forward, backward and
// optimizer, and with --kernels the time per kernel (kernel-timers.ts). For comparing model shapes on one machine in one sitting, not a benchmark against peers.
//
//   node --experimental-wasm-relaxed-simd dist/scripts/profile-seq2seq.js [--data FILE] [--steps 30]
//        [--cell lstm] [--hidden 256] [--encoder-hidden N] [--embedding 128] [--batch 128] [--dropout 0] [--threads N] [--kernels]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { timeKernels } from './kernel-timers.js';
import {
  Rng, Seq2Seq, type CellKind, TokenVocabulary, backend, backward, clipGradNorm, createOptimizer, lengthBucketedBatches, noGrad,
  optimizerStep, parseParallelText, tidy,
} from '../src/index.js';

const { values: v } = parseArgs({
  options: {
    data: { type: 'string', default: 'runs/g2p/data/train.tsv' }, cell: { type: 'string', default: 'lstm' }, steps: { type: 'string', default: '30' },
    hidden: { type: 'string', default: '256' }, 'encoder-hidden': { type: 'string' }, embedding: { type: 'string', default: '128' },
    batch: { type: 'string', default: '128' }, dropout: { type: 'string', default: '0' }, threads: { type: 'string' }, kernels: { type: 'boolean', default: false },
  },
});
const STEPS = Number(v.steps);
const H = Number(v.hidden);
const be = backend() as ReturnType<typeof backend> & { setThreads?(n: number): void };
if (v.threads !== undefined) be.setThreads!(Number(v.threads));
const timers = v.kernels ? timeKernels(be) : null;

const pairs = parseParallelText(readFileSync(v.data!, 'utf8'), v.data!, { src: 'char', tgt: 'space' });
const src = TokenVocabulary.fromSequences(pairs.map((p) => p.src));
const tgt = TokenVocabulary.fromSequences(pairs.map((p) => p.tgt), ['<s>', '</s>']);
const S = pairs.map((p) => src.encode(p.src, v.data!));
const T = pairs.map((p) => tgt.encode(p.tgt, v.data!));
const model = new Seq2Seq({
  cell: v.cell as CellKind, srcVocabSize: src.size, tgtVocabSize: tgt.size, embeddingSize: Number(v.embedding), hiddenSize: H,
  encoderHiddenSize: Number(v['encoder-hidden'] ?? H), bidirectional: true, attention: 'luong-general',
  dropout: Number(v.dropout), bos: tgt.id('<s>')!, eos: tgt.id('</s>')!,
}, new Rng(1));
const params = model.namedParameters();
const optim = createOptimizer('adam', params, { lr: 2e-3 });
const batches = lengthBucketedBatches(S.map((s, i) => Math.max(s.length, T[i].length)), Number(v.batch), 1, 0);

let ms = { forward: 0, backward: 0, optimizer: 0 };
let tokens = 0;
const step = (i: number): void => {
  const idx = batches[i % batches.length];
  const t0 = performance.now();
  tidy(() => {
    const out = model.forward({ src: idx.map((j) => S[j]), tgt: idx.map((j) => T[j]) });
    out.loss.item();
    const t1 = performance.now();
    ms.forward += t1 - t0;
    backward(out.loss);
    ms.backward += performance.now() - t1;
  });
  const t2 = performance.now();
  clipGradNorm(model.parameters(), 5);
  noGrad(() => optimizerStep(optim, params, 2e-3));
  model.zeroGrad();
  ms.optimizer += performance.now() - t2;
  tokens += idx.reduce((a, j) => a + T[j].length + 1, 0); // + eos, as the training loop counts
};

for (let i = 0; i < 5; i++) step(i); // warm-up (heap growth, JIT)
ms = { forward: 0, backward: 0, optimizer: 0 };
tokens = 0;
timers?.reset();
const t0 = performance.now();
for (let i = 5; i < 5 + STEPS; i++) step(i);
const total = performance.now() - t0;
const per = (x: number): string => (x / STEPS).toFixed(1);
console.log(
  `backend ${be.name}; ${v.cell}, hidden ${H}, encoder ${v['encoder-hidden'] ?? H}, embeddings ${v.embedding}, batch ${v.batch}, dropout ${v.dropout}: ` +
    `${per(total)} ms/step, ${((tokens / total) * 1000).toFixed(0)} target tokens/s ` +
    `(forward ${per(ms.forward)}, backward ${per(ms.backward)}, optimizer ${per(ms.optimizer)})`,
);
if (timers !== null) console.log(`\n${timers.table(STEPS, total)}`);
