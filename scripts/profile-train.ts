// Profiles char-rnn training steps (default: the CR configuration, LSTM 2×128, B 50, T 50, Adam, clip 5;
// --model transformer: the GPT-style model, --heads, T = --seq as its context, stream chunks as windows)
// and prints where the time goes: per kernel (every backend method wrapped with a timer, here in the
// script, not in the library; gemm split by shape) and per phase (forward, backward, clip, optimizer,
// the rest), with the JS time of each phase outside kernels. Also times batch-1 sampling.
//
//   node dist/scripts/profile-train.js [--steps 20] [--backend wasm] [--model lstm|transformer] [--heads 4] [--hidden 128] [--layers 2]
//        [--batch 50] [--seq 50] [--sample 2000] [--threads N] [--no-kernels] [--data FILE]
//
// Not a benchmark against peers (bench/ does that): the timers themselves cost ~0.1 µs per call.

import { readFileSync } from 'node:fs';
import { timeKernels } from './kernel-timers.js';
import {
  LanguageModel, Rng, StreamBatcher, TransformerLanguageModel, Vocabulary, backend, backward, clipGradNorm, createOptimizer,
  crossEntropy, detachState, disposeState, generateText, noGrad, optimizerStep, setBackend, tidy, type CarriedState,
} from '../src/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
  const next = process.argv[i + 1];
  if (next === undefined || next.startsWith('--')) args.set(a.slice(2), 'true');
  else args.set(a.slice(2), (i++, next));
}
const num = (k: string, d: number): number => (args.has(k) ? Number(args.get(k)) : d);
const STEPS = num('steps', 20);
const H = num('hidden', 128);
const L = num('layers', 2);
const B = num('batch', 50);
const T = num('seq', 50);
const SAMPLE = num('sample', 2000);
if (args.has('backend')) setBackend(args.get('backend')!);
const be = backend();
const threaded = be as typeof be & { setThreads?(n: number): void };
if (args.has('threads')) {
  if (threaded.setThreads === undefined) throw new Error(`backend ${be.name} has no thread option`);
  threaded.setThreads(num('threads', 1));
}

// --- kernel timers: every method of the active backend object, wrapped in place ---
const profileKernels = !args.has('no-kernels');
const timers = profileKernels ? timeKernels(be) : null;

// --- data and model, as bench/ours.ts and the training loop take them ---
const text = readFileSync(args.get('data') ?? new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url), 'utf8');
const vocab = Vocabulary.fromText(text);
const ids = vocab.encode(text, 'tinyshakespeare');
const rng = new Rng(1);
const transformer = args.get('model') === 'transformer';
const model = transformer
  ? new TransformerLanguageModel({ arch: 'transformer', vocabSize: vocab.size, dModel: H, numLayers: L, numHeads: num('heads', 4), context: T, dropout: 0, tieEmbeddings: false }, rng)
  : new LanguageModel({ cell: 'lstm', vocabSize: vocab.size, hiddenSize: H, numLayers: L, dropout: 0 }, rng);
const params = model.namedParameters();
const optim = createOptimizer('adam', params, { lr: 2e-3 });
const batches = new StreamBatcher(ids, B, T);
let carried: CarriedState | null = null;

const phases = ['forward', 'backward', 'clip', 'optimizer', 'rest'] as const;
type Phase = (typeof phases)[number];
const phaseMs: Record<Phase, { wall: number; kernel: number }> = {
  forward: { wall: 0, kernel: 0 }, backward: { wall: 0, kernel: 0 }, clip: { wall: 0, kernel: 0 },
  optimizer: { wall: 0, kernel: 0 }, rest: { wall: 0, kernel: 0 },
};
let clock = 0;
let kclock = 0;
const mark = (p: Phase): void => {
  const now = performance.now();
  phaseMs[p].wall += now - clock;
  phaseMs[p].kernel += (timers?.inKernel ?? 0) - kclock;
  clock = now;
  kclock = timers?.inKernel ?? 0;
};

let step = 0;
let lastLoss = NaN;
const trainStep = (): void => {
  clock = performance.now();
  kclock = timers?.inKernel ?? 0;
  const batch = batches.batch(step);
  if (batch.resetState) {
    disposeState(carried);
    carried = null;
  }
  const r = tidy(() => {
    const { logits, state } = model instanceof LanguageModel ? model.forward(batch.inputs, T, B, carried) : model.forward(batch.inputs, T, B, null); // (T*B, V)
    const loss = crossEntropy(logits, batch.targets);
    const value = loss.item();
    mark('forward');
    backward(loss);
    mark('backward');
    return { value, next: state === null ? null : detachState(state) };
  });
  mark('rest');
  clipGradNorm(model.parameters(), 5);
  mark('clip');
  noGrad(() => optimizerStep(optim, params, 2e-3));
  mark('optimizer');
  model.zeroGrad();
  disposeState(carried);
  carried = r.next;
  lastLoss = r.value;
  step++;
  mark('rest');
};

const reset = (): void => {
  timers?.reset();
  for (const p of phases) phaseMs[p] = { wall: 0, kernel: 0 };
};

for (let i = 0; i < 3; i++) trainStep(); // warm-up (heap growth, JIT)
reset();
const t0 = performance.now();
for (let i = 0; i < STEPS; i++) trainStep();
const totalMs = performance.now() - t0;

const line = (name: string, ms: number, calls: number | string, pct: number): string =>
  `${name.padEnd(34)} ${(ms / STEPS).toFixed(2).padStart(9)} ${String(calls).padStart(8)} ${pct.toFixed(1).padStart(6)}%`;

console.log(`backend ${be.name}; ${transformer ? 'Transformer' : 'LSTM'} ${L}×${H}, B ${B}, T ${T}, V ${vocab.size}; ${STEPS} steps; loss ${lastLoss.toFixed(4)}`);
console.log(`${(totalMs / STEPS).toFixed(2)} ms/step, ${((STEPS * B * T) / (totalMs / 1000)).toFixed(0)} tokens/s` +
  (profileKernels ? ' (with per-call timers)' : ''));
console.log('\nphase                                ms/step   kernel ms     JS ms');
for (const p of phases) {
  const { wall, kernel } = phaseMs[p];
  console.log(`${p.padEnd(34)} ${(wall / STEPS).toFixed(2).padStart(9)} ${(kernel / STEPS).toFixed(2).padStart(11)} ${((wall - kernel) / STEPS).toFixed(2).padStart(9)}`);
}
if (timers !== null) console.log(`\n${timers.table(STEPS, totalMs)}`);

// --- batch-1 sampling through the public path ---
if (SAMPLE > 0) {
  reset();
  const sRng = new Rng(2);
  generateText(model, vocab, { length: 200 }, sRng); // warm-up
  reset();
  const s0 = performance.now();
  generateText(model, vocab, { length: SAMPLE }, sRng);
  const sMs = performance.now() - s0;
  console.log(`\nsampling (generateText, batch 1): ${((SAMPLE / sMs) * 1000).toFixed(0)} chars/s`);
  if (timers !== null) {
    console.log(timers.top(6, SAMPLE, 'char'));
    console.log(`  all kernels ${((1000 * timers.inKernel) / SAMPLE).toFixed(1)} µs/char of ${((1000 * sMs) / SAMPLE).toFixed(1)}`);
  }
}

