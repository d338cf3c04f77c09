// What the browser test runs inside Chromium (test/browser/run.ts serves it): the library imported
// from its universal entry, the wasm kernels against the reference backend, a bidirectional LSTM's
// forward and backward on both backends, a character model that learns, the training engine (an
// encoder–decoder trained, stopped and resumed exactly, into a store in memory), and — in a Web Worker on a
// cross-origin isolated page — the kernels split across Web Worker threads, bit for bit equal to one
// thread. Each check reports ok and a detail line; run.ts asserts on them.

import {
  LSTM, LanguageModel, Rng, StreamBatcher, Tensor, Vocabulary, availableBackends, backend, backward, clipGradNorm,
  createOptimizer, crossEntropy, generateText, heap, memoryStore, ops, optimizerStep, seq2seqTask, setBackend, tidy, trainTask, untracked,
} from '../../src/index.js';
import { kernelsUrl } from '../../src/backend/wasm/load-kernels.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Report {
  context: string;
  isolated: boolean;
  checks: Check[];
}

type Threaded = ReturnType<typeof backend> & { threads?: number; readyThreads?: number; setThreads?(n: number): void };

const maxRelDiff = (a: Float32Array, b: Float32Array): number => {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / Math.max(scale, 1e-30);
};

const random = (rng: Rng, shape: number[]): Tensor =>
  untracked(() => Tensor.from(Array.from({ length: shape.reduce((p, x) => p * x, 1) }, () => rng.normal()), shape));

/** The outputs and every gradient of one bidirectional 2-layer LSTM step on the active backend. */
function lstmRun(): Float32Array[] {
  const rng = new Rng(7);
  const lstm = new LSTM({ inputSize: 9, hiddenSize: 13, numLayers: 2, bidirectional: true }, rng);
  const x = random(rng, [6, 5, 9]);
  x.requiresGrad = true;
  return tidy(() => {
    const { output, h, c } = lstm.forward(x, { lengths: [6, 4, 6, 1, 3] });
    backward(ops.add(ops.sum(ops.mul(output, output)), ops.add(ops.sum(h), ops.sum(c!))));
    return [output.data.slice(), x.grad!.data.slice(), ...lstm.namedParameters().map(([, p]) => p.grad!.data.slice())];
  });
}

export async function runChecks(context: string): Promise<Report> {
  const checks: Check[] = [];
  const failure = (e: unknown): string => (e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e));
  const check = (name: string, f: () => string): void => {
    try {
      checks.push({ name, ok: true, detail: f() });
    } catch (e) {
      checks.push({ name, ok: false, detail: failure(e) });
    }
  };
  const checkAsync = async (name: string, f: () => Promise<string>): Promise<void> => {
    try {
      checks.push({ name, ok: true, detail: await f() });
    } catch (e) {
      checks.push({ name, ok: false, detail: failure(e) });
    }
  };
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;

  check('the wasm backend loads and is the default', () => {
    const names = availableBackends();
    if (!names.includes('wasm')) fail(`available: ${names.join(', ')}`);
    if (backend().name !== 'wasm') fail(`active backend ${backend().name}`);
    if (heap.shared !== isolated) fail(`heap.shared ${heap.shared} on a page with crossOriginIsolated ${isolated}`);
    return `backends ${names.join(', ')}; kernels ${kernelsUrl.pathname.split('/').pop()}; heap ${heap.shared ? 'shared' : 'not shared'}; threads ${(backend() as Threaded).threads}`;
  });

  check('wasm gemm equals the reference', () => {
    const rng = new Rng(3);
    const [M, N, K] = [67, 45, 33];
    const a = random(rng, [M, K]);
    const b = random(rng, [N, K]);
    const out: Float32Array[] = [];
    for (const name of ['reference', 'wasm']) {
      setBackend(name);
      const c = untracked(() => new Tensor([M, N]));
      backend().gemm(false, true, M, N, K, 1, a.data, K, b.data, K, 0, c.data, N);
      out.push(c.data.slice());
    }
    setBackend('wasm');
    const d = maxRelDiff(out[1], out[0]);
    if (!(d < 1e-5)) fail(`max difference ${d} of the largest value`);
    return `67×45×33: max difference ${d.toExponential(1)} of the largest value`;
  });

  check('a bidirectional LSTM: forward and every gradient equal on both backends', () => {
    setBackend('reference');
    const want = lstmRun();
    setBackend('wasm');
    const got = lstmRun();
    const worst = Math.max(...got.map((g, i) => maxRelDiff(g, want[i])));
    if (!(worst < 1e-4)) fail(`worst difference ${worst} of a tensor's largest value`);
    return `${got.length} tensors, worst difference ${worst.toExponential(1)} of a tensor's largest value`;
  });

  check('a character model learns and samples', () => {
    const text = 'hello world, hello recurrent world\n'.repeat(100);
    const vocab = Vocabulary.fromText(text);
    const rng = new Rng(1);
    const model = new LanguageModel({ cell: 'lstm', vocabSize: vocab.size, hiddenSize: 32, numLayers: 1, dropout: 0 }, rng);
    const params = model.namedParameters();
    const optim = createOptimizer('adam', params, { lr: 1e-2 });
    const T = 16;
    const B = 8;
    const batches = new StreamBatcher(vocab.encode(text), B, T);
    const losses: number[] = [];
    for (let step = 0; step < 150; step++) {
      const { inputs, targets } = batches.batch(step);
      losses.push(tidy(() => {
        const l = crossEntropy(model.forward(inputs, T, B, null).logits, targets);
        backward(l);
        return l.item();
      }));
      clipGradNorm(params, 5);
      optimizerStep(optim, params);
      model.zeroGrad();
    }
    const sample = generateText(model, vocab, { length: 30, prime: 'hello', temperature: 0.5 }, rng);
    if (!(losses[149] < 0.5 * losses[0])) fail(`loss ${losses[0]} → ${losses[149]}`);
    if (!sample.startsWith('hello') || sample.length !== 35) fail(`sample ${JSON.stringify(sample)}`);
    return `loss ${losses[0].toFixed(3)} → ${losses[149].toFixed(3)} in 150 steps; sample ${JSON.stringify(sample)}`;
  });

  const threaded = backend() as Threaded;
  const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
  if (isolated && inWorker) {
    // Before the workers can start (this code has not yielded yet), a split product runs both parts here.
    const rng = new Rng(9);
    const n = 256;
    const a = random(rng, [n, n]);
    const b = random(rng, [n, n]);
    const product = (): Float32Array => {
      const c = untracked(() => new Tensor([n, n]));
      backend().gemm(false, false, n, n, n, 1, a.data, n, b.data, n, 0, c.data, n);
      return c.data.slice();
    };
    threaded.setThreads!(1);
    const alone = product();
    threaded.setThreads!(2);
    const readyAtOnce = threaded.readyThreads!;
    const early = product();
    check('a split product before the workers start runs on the calling thread, same results', () => {
      if (readyAtOnce !== 1) fail(`readyThreads ${readyAtOnce} before yielding`);
      if (!early.every((v, i) => Object.is(v, alone[i]))) fail('results differ from one thread');
      return `readyThreads ${readyAtOnce} of ${threaded.threads} before yielding; 256³ GEMM identical`;
    });
    const t0 = performance.now();
    while (threaded.readyThreads! < 2 && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    const started = threaded.readyThreads!;
    check('Web Worker threads start', () => {
      if (started !== 2) fail(`${started} of 2 threads ready after ${Math.round(performance.now() - t0)} ms`);
      return `2 threads ready after ${Math.round(performance.now() - t0)} ms`;
    });
    check('2 threads give the 1-thread results bit for bit (GEMM and a recurrent layer) and their speed', () => {
      const rng = new Rng(5);
      const n = 256;
      const a = random(rng, [n, n]);
      const b = random(rng, [n, n]);
      const lstm = new LSTM({ inputSize: 128, hiddenSize: 128 }, rng);
      const x = random(rng, [50, 50, 128]);
      const run = (threads: number): { c: Float32Array; y: Float32Array; gflops: number } => {
        threaded.setThreads!(threads);
        const c = untracked(() => new Tensor([n, n]));
        const call = (): void => backend().gemm(false, false, n, n, n, 1, a.data, n, b.data, n, 0, c.data, n);
        for (let w = performance.now(); performance.now() - w < 300;) call(); // warm-up: V8 tiers the kernels up
        let reps = 0;
        const s = performance.now();
        while (performance.now() - s < 300) {
          call();
          reps++;
        }
        const gflops = (2 * n * n * n * reps) / ((performance.now() - s) / 1000) / 1e9;
        const y = tidy(() => lstm.forward(x).output.data.slice()); // (50, 50, 128): the threaded whole loop
        return { c: c.data.slice(), y, gflops };
      };
      const one = run(1);
      const two = run(2);
      const same = (p: Float32Array, q: Float32Array): boolean => p.every((v, i) => Object.is(v, q[i]));
      if (!same(one.c, two.c)) fail('the 2-thread GEMM differs from the 1-thread one');
      if (!same(one.y, two.y)) fail('the 2-thread LSTM output differs from the 1-thread one');
      return `256³ GEMM ${one.gflops.toFixed(1)} GFLOP/s on 1 thread, ${two.gflops.toFixed(1)} on 2; LSTM 50×50×128 output identical`;
    });
  } else {
    check('without a Web Worker on an isolated page, one thread, and asking for two is a clear error', () => {
      if (threaded.threads !== 1) fail(`threads ${threaded.threads}`);
      try {
        threaded.setThreads!(2);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (!/need a shared heap/.test(msg)) fail(`unexpected error: ${msg}`);
        return `setThreads(2): ${msg}`;
      }
      return fail('setThreads(2) was accepted');
    });
  }
  // Last: the engine yields to the event loop between steps (no setImmediate here: a message channel), which
  // would let the worker threads start before the checks above look at them.
  await checkAsync('the training engine: an encoder–decoder trains, stops and resumes exactly, into memory', async () => {
    const pairs = ['ab', 'ba', 'abc', 'cab', 'bca', 'ca'].flatMap((x) => ['ab', 'cc', 'bac'].map((y) => `${x}${y}\t${[...`${x}${y}`].reverse().join('')}`));
    const task = () => seq2seqTask(pairs.join('\n'), 'reverse.tsv', {
      srcSplit: 'char', tgtSplit: 'char', teacherForcing: { kind: 'constant', p: 0.8 }, feedback: 'sample', batchSize: 6, labelSmoothing: 0,
      model: { cell: 'gru', hiddenSize: 16, attention: 'luong-dot', dropout: 0.1 },
    });
    const whole = memoryStore('whole');
    const events: string[] = [];
    const a = await trainTask(task(), { steps: 12, evalEvery: 4, lr: 1e-2 }, { store: whole, onEvent: (e) => events.push(e.kind) });
    const half = memoryStore('half');
    let n = 0;
    const b1 = await trainTask(task(), { steps: 12, evalEvery: 4, lr: 1e-2 }, { store: half, shouldStop: () => ++n > 6 });
    const b2 = await trainTask(task(), { steps: 12, evalEvery: 4, lr: 1e-2, resume: true }, { store: half });
    for (const r of [a, b1, b2]) r.task.model.dispose();
    const same = (p: Uint8Array, q: Uint8Array): boolean => p.length === q.length && p.every((v, i) => v === q[i]);
    if (!b1.stopped || b1.step !== 6) fail(`stopped ${b1.stopped} at step ${b1.step}`);
    if (!same(half.files.get('model.safetensors')!, whole.files.get('model.safetensors')!)) fail('stopped at 6 and resumed to 12, the weights differ from 12 steps at once');
    if (whole.metrics.length !== 3) fail(`${whole.metrics.length} metrics records`);
    return `12 steps, or 6 then a resume to 12: the same weights; ${events.filter((k) => k === 'step').length} step and ${events.filter((k) => k === 'eval').length} eval events`;
  });

  return { context, isolated, checks };
}
