// The measuring child for this library: one task (train, sample, gemm or idle) on one backend, the
// training step exactly as the engine (src/train/engine.ts) takes it on the language-model task (forward,
// cross-entropy, backward, clip 5, Adam) minus evaluation and checkpoints. Spawned by run.ts; prints one @@RESULT line.

import { existsSync, readFileSync } from 'node:fs';
import {
  LanguageModel, Rng, StreamBatcher, Tensor, TransformerLanguageModel, Vocabulary, availableBackends, backend, backward, clipGradNorm,
  createOptimizer, crossEntropy, detachState, disposeState, generateText, noGrad, optimizerStep, setBackend, tidy, untracked,
  type Backend, type CarriedState,
} from '../src/index.js';
import { RESULT_PREFIX, type ChildResult, type FmaFigure, type GemmFigure, type GemmSpec, type OkResult, type SampleSpec, type TaskSpec, type TrainSpec } from './protocol.js';
import { timeboxed } from './timebox.js';

/**
 * A backend may offer a thread count; the Backend interface has none yet, so this is probed by name.
 * NOTE: an API gap — reported rather than added to src/ from here.
 */
interface ThreadOption {
  setThreads(n: number): void;
  maxThreads?: number;
}

function threadOption(b: Backend): ThreadOption | null {
  const t = b as Backend & Partial<ThreadOption>;
  return typeof t.setThreads === 'function' ? (t as Backend & ThreadOption) : null;
}

/** The active backend's name, and the native backend's GEMM instruction set (avx512 or avx2). */
function backendInfo(): { backend: string; isa?: string } {
  const b = backend() as Backend & { nativeIsa?: string | null };
  return b.nativeIsa == null ? { backend: b.name } : { backend: b.name, isa: b.nativeIsa };
}

function maxRssKB(): number {
  return process.resourceUsage().maxRSS; // KiB on Linux
}

/** The state copied out of the step's scope and cut from the tape (truncated BPTT), as the training loop does. */
/** The model of a spec: a recurrent LanguageModel, or the GPT-style Transformer. */
function makeModel(spec: TrainSpec | SampleSpec, rng: Rng): LanguageModel | TransformerLanguageModel {
  const { hidden: H, layers: L, vocab: V } = spec;
  if (spec.cell === 'transformer') {
    return new TransformerLanguageModel({ arch: 'transformer', vocabSize: V, dModel: H, numLayers: L, numHeads: spec.heads!, context: spec.context!, dropout: 0, tieEmbeddings: false }, rng);
  }
  return new LanguageModel({ cell: spec.cell, vocabSize: V, hiddenSize: H, numLayers: L, dropout: 0 }, rng);
}

/** The engine's step on the language-model task: the streams for a recurrent model, windows at random offsets for a Transformer. */
function train(spec: TrainSpec): OkResult {
  const { hidden: H, layers: L, batch: B, seq: T, vocab: V } = spec;
  const bytes = readFileSync(spec.idsFile);
  const ids = Int32Array.from(bytes); // (N)
  const rng = new Rng(1);
  const model = makeModel(spec, rng);
  if (model instanceof TransformerLanguageModel) return trainTransformer(spec, model, ids, rng);
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 2e-3 });
  const batches = new StreamBatcher(ids, B, T, 'bench ids');
  let carried: CarriedState | null = null;
  let step = 0;
  let lastLoss = NaN;
  model.train();
  const trainStep = (): void => {
    const batch = batches.batch(step);
    if (batch.resetState) {
      disposeState(carried);
      carried = null;
    }
    const r = tidy(() => {
      const { logits, state } = model.forward(batch.inputs, T, B, carried); // (T*B, V)
      const loss = crossEntropy(logits, batch.targets);
      const value = loss.item();
      backward(loss);
      return { value, next: detachState(state) };
    });
    clipGradNorm(model.parameters(), 5);
    noGrad(() => optimizerStep(optim, params, 2e-3));
    model.zeroGrad();
    disposeState(carried);
    carried = r.next;
    lastLoss = r.value;
    step++;
  };
  const t = timeboxed(trainStep, spec.budgetSec);
  if (!Number.isFinite(lastLoss)) throw new Error(`loss became ${lastLoss}`);
  return {
    ok: true, value: (t.count * B * T) / t.seconds, ...t, maxRssKB: maxRssKB(),
    info: { ...backendInfo(), model: `LanguageModel(${spec.cell}, H ${H}, L ${L}, V ${V})`, loss: Number(lastLoss.toFixed(4)) },
  };
}

function trainTransformer(spec: TrainSpec, model: TransformerLanguageModel, ids: Int32Array, rng: Rng): OkResult {
  const { batch: B, seq: T } = spec;
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 2e-3 });
  let lastLoss = NaN;
  model.train();
  const inputs = new Int32Array(T * B); // (T, B)
  const targets = new Int32Array(T * B); // (T, B)
  const trainStep = (): void => {
    for (let b = 0; b < B; b++) {
      const start = rng.int(ids.length - T);
      for (let t = 0; t < T; t++) {
        inputs[t * B + b] = ids[start + t];
        targets[t * B + b] = ids[start + t + 1];
      }
    }
    lastLoss = tidy(() => {
      const loss = crossEntropy(model.forward(inputs, T, B, null).logits, targets); // logits (T*B, V)
      const value = loss.item();
      backward(loss);
      return value;
    });
    clipGradNorm(model.parameters(), 5);
    noGrad(() => optimizerStep(optim, params, 2e-3));
    model.zeroGrad();
  };
  const t = timeboxed(trainStep, spec.budgetSec);
  if (!Number.isFinite(lastLoss)) throw new Error(`loss became ${lastLoss}`);
  const c = model.config;
  return {
    ok: true, value: (t.count * B * T) / t.seconds, ...t, maxRssKB: maxRssKB(),
    info: { ...backendInfo(), model: `TransformerLanguageModel(${c.numLayers}×${c.dModel}, ${c.numHeads} heads, context ${c.context}, V ${c.vocabSize})`, loss: Number(lastLoss.toFixed(4)) },
  };
}

function sample(spec: SampleSpec): OkResult {
  const rng = new Rng(1);
  const model = makeModel(spec, rng);
  const vocab = new Vocabulary([...spec.chars]);
  const CHUNK = 50;
  let produced = 0;
  // generateText primes with one random character, then draws CHUNK: the public path a user calls.
  const t = timeboxed(() => {
    produced += generateText(model, vocab, { length: CHUNK }, rng).length - 1;
  }, spec.budgetSec);
  const chars = t.count * CHUNK;
  return {
    ok: true, value: chars / t.seconds, ...t, count: chars, maxRssKB: maxRssKB(),
    info: { ...backendInfo(), via: `generateText (temperature 1${model instanceof TransformerLanguageModel ? '; key/value cache, the window sliding past the context' : ''})`, produced },
  };
}

function gemm(spec: GemmSpec): OkResult {
  const be = backend();
  const threads = threadOption(be);
  const threadCounts = threads === null ? [1] : [1, 2];
  const out: GemmFigure[] = [];
  const rng = new Rng(3);
  for (const n of spec.sizes) {
    const a = untracked(() => Tensor.from(Array.from({ length: n * n }, () => rng.normal()), [n, n])); // (n, n)
    const b = untracked(() => Tensor.from(Array.from({ length: n * n }, () => rng.normal()), [n, n])); // (n, n)
    const c = untracked(() => Tensor.zeros([n, n])); // (n, n)
    for (const layout of ['NN', 'NT'] as const) {
      for (const th of threadCounts) {
        threads?.setThreads(th);
        const call = (): void => be.gemm(false, layout === 'NT', n, n, n, 1, a.data, n, b.data, n, 0, c.data, n);
        const t = timeboxed(call, spec.budgetSec);
        out.push({ n, layout, threads: th, gflops: (2 * n * n * n * t.count) / t.seconds / 1e9 });
      }
    }
    threads?.setThreads(1);
    a.dispose();
    b.dispose();
    c.dispose();
  }
  const fma = be.name === 'wasm' ? fmaRates(spec.budgetSec) : null;
  return {
    ok: true, gemm: out, ...(fma === null ? {} : { fma }), maxRssKB: maxRssKB(),
    info: { ...backendInfo(), threadOption: threads !== null },
    notes: [
      ...(threads === null ? [`backend ${be.name} offers no thread option: one thread only`] : []),
      ...(be.name === 'wasm' && fma === null ? ['no FMA rate: this engine lacks relaxed SIMD, or dist/bench/fma-chains.wasm is not built'] : []),
    ],
  };
}

/** The core's f32x4 FMA rate with 8 and with 12 independent chains (bench/assembly/fma-chains.ts), or null where it cannot run. */
function fmaRates(budgetSec: number): FmaFigure[] | null {
  const url = new URL('./fma-chains.wasm', import.meta.url);
  if (!existsSync(url)) return null;
  let chains: Record<string, (k: number, x: number) => number>;
  try {
    chains = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(url)), {}).exports as typeof chains;
  } catch {
    return null; // no relaxed SIMD in this engine
  }
  const K = 1 << 22; // iterations per call: tens of milliseconds
  return [8, 12].map((n) => {
    const f = chains[`chains${n}`];
    const t = timeboxed(() => f(K, 1), budgetSec);
    return { chains: n, gflops: (n * 8 * K * t.count) / t.seconds / 1e9 };
  });
}

function run(spec: TaskSpec): ChildResult {
  if (spec.backend !== undefined) {
    if (!availableBackends().includes(spec.backend)) return { ok: false, skip: `backend ${spec.backend} is not available (have: ${availableBackends().join(', ')})` };
    setBackend(spec.backend);
  }
  switch (spec.task) {
    case 'train':
      return train(spec);
    case 'sample':
      return sample(spec);
    case 'gemm':
      return gemm(spec);
    case 'idle':
      return { ok: true, maxRssKB: maxRssKB(), info: backendInfo() };
    default:
      return spec satisfies never;
  }
}

const arg = process.argv[process.argv.length - 1];
if (arg === '--list-backends') {
  // The native backend's GEMM instruction set too: where it is avx512, run.ts also measures the avx2 kernels.
  const isa = availableBackends().includes('native') ? (setBackend('native'), backendInfo().isa) : undefined;
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(availableBackends())}\n${RESULT_PREFIX}${JSON.stringify({ nativeIsa: isa ?? null })}\n`);
} else {
  const result = run(JSON.parse(arg) as TaskSpec);
  if (result.ok) {
    const u = process.cpuUsage();
    result.cpuSec = (u.user + u.system) / 1e6;
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}
