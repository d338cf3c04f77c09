// The long-range dependencies experiment: Elman RNN (tanh), LSTM and GRU trained on the long-range recall
// task (src/data/long-range-task.ts) at growing distances — test accuracy per model and distance over a
// few seeds — and the vanishing-gradient curve ‖∂ℓ/∂h_{T-1-k}‖ against the distance k from the loss,
// measured by stepping the layer one step at a time (recurrentSteps). Writes experiments/results/
// long-range.md, long-range.svg (gradient curves) and long-range-accuracy.svg. Needs no dataset;
// deterministic for a backend and seed list.
//
//   npm run experiments:build && RECURRENT_THREADS=1 node dist/experiments/long-range.js

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Rng, SequenceClassifier, backend, backward, clipGradNorm, createOptimizer, crossEntropy, disposeOptimizer,
  longRangeAccuracy, longRangeBatch, longRangeVocabSize, noGrad, ops, optimizerStep, recurrentSteps, tidy,
  type CellKind, type LongRangeBatch, type LongRangeTaskOptions, type Tensor,
} from '../src/index.js';
import { lineChartSvg, type Series } from './svg-plot.js';

/**
 * The models compared: each cell with PyTorch's initialisation, and the two gated cells with chrono
 * initialisation of their gate biases (Tallec & Ollivier 2018; see chronoInit). The Elman RNN has no
 * gate, so it has no chrono variant.
 */
const MODELS = {
  rnn_tanh: { cell: 'rnn_tanh', chrono: false, title: 'RNN (tanh)', color: '#d62728' },
  lstm: { cell: 'lstm', chrono: false, title: 'LSTM', color: '#1f77b4' },
  gru: { cell: 'gru', chrono: false, title: 'GRU', color: '#2ca02c' },
  'lstm-chrono': { cell: 'lstm', chrono: true, title: 'LSTM, chrono init', color: '#9467bd' },
  'gru-chrono': { cell: 'gru', chrono: true, title: 'GRU, chrono init', color: '#ff7f0e' },
} as const satisfies Record<string, { cell: CellKind; chrono: boolean; title: string; color: string }>;
type ModelName = keyof typeof MODELS;

interface Config {
  models: ModelName[];
  distances: number[];
  seeds: number[];
  hidden: number;
  numClasses: number;
  numDistractors: number;
  batch: number;
  lr: number;
  clip: number;
  /** Training stops after this many steps ... */
  maxSteps: number;
  /** ... or as soon as the validation accuracy reaches `target`, checked every `evalEvery` steps. */
  target: number;
  evalEvery: number;
  valSize: number;
  testSize: number;
  /** The gradient curves are measured on sequences of this distance, with the first seed's models. */
  gradDistance: number;
  gradBatch: number;
  out: string;
  verbose: boolean;
}

const DEFAULTS = {
  models: 'rnn_tanh,lstm,gru,lstm-chrono,gru-chrono', distances: '5,10,20,50,100,200', seeds: '1,2,3', hidden: 32,
  classes: 2, distractors: 8, batch: 32, lr: 1e-2, clip: 1, 'max-steps': 1000, target: 1, 'eval-every': 25,
  'val-size': 256, 'test-size': 2000, 'grad-batch': 64,
};

function parseConfig(argv: string[]): Config {
  const names = ['models', 'distances', 'seeds', 'hidden', 'classes', 'distractors', 'batch', 'lr', 'clip', 'max-steps', 'target', 'eval-every', 'val-size', 'test-size', 'grad-distance', 'grad-batch', 'out'];
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: { ...Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])), verbose: { type: 'boolean' } },
  });
  const raw = (k: string): string | undefined => (values as Record<string, string | undefined>)[k];
  const num = (k: keyof typeof DEFAULTS, ok: (v: number) => boolean, what: string): number => {
    const r = raw(k);
    if (r === undefined) return DEFAULTS[k] as number;
    const v = Number(r);
    if (r.trim() === '' || !ok(v)) throw new Error(`--${k} must be ${what}, got "${r}"`);
    return v;
  };
  const posInt = (k: keyof typeof DEFAULTS): number => num(k, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const intList = (k: 'distances' | 'seeds', min: number): number[] => {
    const r = raw(k) ?? DEFAULTS[k];
    const vs = r.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
    if (vs.length === 0 || vs.some((v) => !Number.isInteger(v) || v < min)) throw new Error(`--${k} must be a comma-separated list of integers >= ${min}, got "${r}"`);
    return vs;
  };
  const models = (raw('models') ?? DEFAULTS.models).split(',').map((s) => s.trim());
  for (const m of models) if (!(m in MODELS)) throw new Error(`--models: unknown model "${m}" (choose from ${Object.keys(MODELS).join(', ')})`);
  const distances = intList('distances', 1);
  const gd = raw('grad-distance');
  const gradDistance = gd === undefined ? Math.max(...distances) : Number(gd);
  if (!Number.isInteger(gradDistance) || gradDistance < 1) throw new Error(`--grad-distance must be a positive integer, got "${gd}"`);
  return {
    models: models as ModelName[],
    distances,
    seeds: intList('seeds', 0),
    hidden: posInt('hidden'),
    numClasses: num('classes', (v) => Number.isInteger(v) && v >= 2, 'an integer >= 2'),
    numDistractors: posInt('distractors'),
    batch: posInt('batch'),
    lr: num('lr', (v) => Number.isFinite(v) && v > 0, 'a positive number'),
    clip: num('clip', (v) => Number.isFinite(v) && v > 0, 'a positive number'),
    maxSteps: posInt('max-steps'),
    target: num('target', (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    evalEvery: posInt('eval-every'),
    valSize: posInt('val-size'),
    testSize: posInt('test-size'),
    gradDistance,
    gradBatch: posInt('grad-batch'),
    out: raw('out') ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'experiments', 'results'), // from dist/experiments
    verbose: values.verbose === true,
  };
}

function task(c: Config, distance: number): LongRangeTaskOptions {
  return { distance, numClasses: c.numClasses, numDistractors: c.numDistractors };
}

/** The classifier for `name`: Embedding(V, H) → one recurrent layer → Linear(H, K) on the final state. */
function makeModel(c: Config, name: ModelName, seed: number, tMax: number): SequenceClassifier {
  const { cell, chrono } = MODELS[name];
  const rng = new Rng(seed);
  const model = new SequenceClassifier(
    { cell, vocabSize: longRangeVocabSize(task(c, 1)), hiddenSize: c.hidden, numClasses: c.numClasses, pool: 'last' },
    rng,
  );
  if (chrono) chronoInit(model, rng, tMax);
  return model;
}

/**
 * Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"): per unit,
 * u ~ U(1, T_max - 1) and the keep gate's bias log u, so the gate starts at σ(log u) = u/(1+u) and the
 * unit forgets over about 1 + u steps, instead of the ~2 steps of a gate at σ(0) = 1/2. LSTM (gates
 * i, f, g, o): b_f = log u and b_i = -log u. GRU in PyTorch's form h = (1 - z) ⊙ n + z ⊙ h: z keeps, so
 * b_z = log u. Written into bias_ih, with the same blocks of bias_hh zeroed so the sums are exactly these.
 */
function chronoInit(model: SequenceClassifier, rng: Rng, tMax: number): void {
  const H = model.config.hiddenSize;
  const p = new Map(model.namedParameters());
  const bih = p.get('rnn.bias_ih_l0')!.data; // (G·H)
  const bhh = p.get('rnn.bias_hh_l0')!.data; // (G·H)
  const keep = 1; // the f block of LSTM's i, f, g, o and the z block of GRU's r, z, n
  for (let j = 0; j < H; j++) {
    const b = Math.log(1 + rng.uniform() * Math.max(0, tMax - 2)); // log u, u ~ U(1, T_max - 1)
    bih[keep * H + j] = b;
    bhh[keep * H + j] = 0;
    if (model.config.cell === 'lstm') {
      bih[j] = -b; // the input gate closes as the forget gate opens
      bhh[j] = 0;
    }
  }
}

/** Accuracy of `model` on `batch`, without the tape. */
function accuracy(model: SequenceClassifier, batch: LongRangeBatch): number {
  model.eval();
  const acc = noGrad(() => tidy(() => longRangeAccuracy(model.forward(batch.ids, batch.T, batch.B), batch.labels)));
  model.train();
  return acc;
}

interface RunResult {
  model: ModelName;
  distance: number;
  seed: number;
  testAccuracy: number;
  steps: number;
  reachedTarget: boolean;
  seconds: number;
}

/**
 * Trains one model at one distance: Adam, clipping by global norm, fresh batches from the seed (the same
 * for every model), early stopping on a validation set, then accuracy on a test set (both fixed by the
 * seed and distance, so every model sees the same ones). Returns the trained model with the result.
 */
function trainOne(c: Config, name: ModelName, distance: number, seed: number): { result: RunResult; model: SequenceClassifier } {
  const started = performance.now();
  const model = makeModel(c, name, seed, distance);
  const data = new Rng(seed).fork(1); // training batches
  const val = longRangeBatch(task(c, distance), c.valSize, new Rng(seed).fork(1000 + distance));
  const test = longRangeBatch(task(c, distance), c.testSize, new Rng(seed).fork(2000 + distance));
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: c.lr });
  let steps = 0;
  let reachedTarget = false;
  while (steps < c.maxSteps) {
    const b = longRangeBatch(task(c, distance), c.batch, data);
    tidy(() => {
      const loss = crossEntropy(model.forward(b.ids, b.T, b.B), b.labels); // [1]
      if (!Number.isFinite(loss.item())) throw new Error(`${name} at distance ${distance}, seed ${seed}: loss ${loss.item()} at step ${steps}`);
      backward(loss);
    });
    clipGradNorm(params, c.clip);
    optimizerStep(optim, params);
    model.zeroGrad();
    steps++;
    if (steps % c.evalEvery === 0) {
      const acc = accuracy(model, val);
      if (c.verbose) console.log(`    step ${steps}: validation accuracy ${acc.toFixed(3)}`);
      if (acc >= c.target) {
        reachedTarget = true;
        break;
      }
    }
  }
  disposeOptimizer(optim);
  const testAccuracy = accuracy(model, test);
  const seconds = (performance.now() - started) / 1000;
  return { result: { model: name, distance, seed, testAccuracy, steps, reachedTarget, seconds }, model };
}

/** ‖∂ℓ/∂h_k‖ for k = 0..T-1, and ‖∂ℓ/∂c_k‖ for the LSTM (null for the other cells). */
interface Curves {
  h: number[];
  c: number[] | null;
}

/**
 * h[k] = mean over the batch of ‖∂ℓ_b/∂h_{T-1-k}^{(b)}‖ for k = 0..T-1, with ℓ_b the cross-entropy of
 * sequence b and h_t its state after step t: the loss reads h_{T-1}, so k is the distance from the loss
 * (k = d is the state that first holds the signal); c[k] likewise for the LSTM's cell state. The layer is
 * stepped one step at a time so every h_t is a tape node (recurrentSteps); the stepped loss is checked
 * against the fused model's.
 */
function gradientCurves(model: SequenceClassifier, batch: LongRangeBatch): Curves {
  const { ids, labels, T, B } = batch;
  const H = model.config.hiddenSize;
  const L = model.config.numLayers;
  /** Mean over b of the norm of row b of the last layer's slice of a (L, B, H) grad. */
  const meanNorm = (grad: Tensor | null): number => {
    let s = 0;
    for (let b = 0; b < B && grad !== null; b++) {
      let n2 = 0;
      const off = ((L - 1) * B + b) * H;
      for (let j = 0; j < H; j++) n2 += grad.data[off + j] ** 2;
      s += Math.sqrt(n2);
    }
    return s / B;
  };
  model.eval();
  const curves = tidy(() => {
    const fused = noGrad(() => crossEntropy(model.forward(ids, T, B), labels).item());
    const x = model.embedding.forward(ids, [T, B]); // (T, B, E)
    const r = recurrentSteps(model.rnn, x);
    const logits = model.head.forward(ops.select(r.h, L - 1)); // (B, K) from the final state, as pool 'last'
    const loss = crossEntropy(logits, labels); // [1], the mean over the batch
    if (Math.abs(loss.item() - fused) > 1e-4 * Math.max(1, Math.abs(fused))) {
      throw new Error(`gradientCurves: the stepped loss ${loss.item()} differs from the fused model's ${fused}`);
    }
    backward(ops.scale(loss, B)); // Σ_b ℓ_b: row b of ∂/∂h_t is then ∂ℓ_b/∂h_t^{(b)}
    const ks = Array.from({ length: T }, (_, k) => T - 1 - k); // the step k steps before the loss
    return { h: ks.map((t) => meanNorm(r.hs[t].grad)), c: r.cs === null ? null : ks.map((t) => meanNorm(r.cs![t].grad)) };
  });
  model.zeroGrad();
  model.train();
  return curves;
}

function main(): void {
  const c = parseConfig(process.argv.slice(2));
  const started = performance.now();
  const threads = process.env.RECURRENT_THREADS ?? 'unset (all cores)';
  console.log(`long-range recall: models ${c.models.join(', ')}; distances ${c.distances.join(', ')}; seeds ${c.seeds.join(', ')}; backend ${backend().name}, RECURRENT_THREADS ${threads}`);

  // Gradient curves at initialisation, with the first seed's weights (the ones its training runs start from).
  const gradBatch = longRangeBatch(task(c, c.gradDistance), c.gradBatch, new Rng(c.seeds[0]).fork(3000));
  const initCurves = new Map<ModelName, Curves>();
  for (const name of c.models) {
    const model = makeModel(c, name, c.seeds[0], c.gradDistance);
    initCurves.set(name, gradientCurves(model, gradBatch));
    model.dispose();
  }

  const results: RunResult[] = [];
  const trainedCurves = new Map<ModelName, Curves>();
  for (const seed of c.seeds) {
    for (const name of c.models) {
      for (const distance of c.distances) {
        const { result: r, model } = trainOne(c, name, distance, seed);
        results.push(r);
        console.log(
          `seed ${seed} ${name.padEnd(11)} d=${String(distance).padStart(4)}: test accuracy ${(100 * r.testAccuracy).toFixed(1)}% after ${r.steps} steps` +
            `${r.reachedTarget ? ' (reached the target)' : ''}, ${r.seconds.toFixed(1)} s`,
        );
        if (seed === c.seeds[0] && distance === c.gradDistance) trainedCurves.set(name, gradientCurves(model, gradBatch));
        model.dispose();
      }
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  console.log(`elapsed ${elapsed.toFixed(1)} s`);
  writeResults(c, results, initCurves, trainedCurves, elapsed, process.argv.slice(2));
}

// ---- reporting ----

/** A run has learnt the task when its test accuracy is at least this. */
const SOLVED = 0.99;

function median(vs: number[]): number {
  const s = [...vs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}`;
}

function sci(v: number): string {
  return v === 0 ? '0' : v.toExponential(1).replace('e+', 'e');
}

function writeResults(
  c: Config, results: RunResult[], init: Map<ModelName, Curves>, trained: Map<ModelName, Curves>, elapsed: number, argv: string[],
): void {
  mkdirSync(c.out, { recursive: true });
  const cell = (name: ModelName, d: number): RunResult[] => results.filter((r) => r.model === name && r.distance === d);
  const solved = (r: RunResult): boolean => r.testAccuracy >= SOLVED;

  // Gradient curves: dashed at initialisation, solid after training at gradDistance (first seed).
  const series: Series[] = [];
  for (const name of c.models) {
    const { title, color } = MODELS[name];
    series.push({ name: `${title}, init`, color, dashed: true, points: init.get(name)!.h.map((g, k) => [k, g] as const) });
    const t = trained.get(name);
    if (t !== undefined) series.push({ name: `${title}, trained`, color, points: t.h.map((g, k) => [k, g] as const) });
  }
  writeFileSync(join(c.out, 'long-range.svg'), lineChartSvg({
    title: `‖∂ℓ/∂h_k‖ against the distance k from the loss (recall task, d = ${c.gradDistance})`,
    xLabel: 'k: steps between the state h and the loss', yLabel: 'mean ‖∂ℓ/∂h‖ over the batch (log scale)',
    yLog: true, series, width: 860, height: 480,
    note: `H ${c.hidden}, seed ${c.seeds[0]}, ${c.gradBatch} sequences. Dashed: at initialisation; solid: after training at d = ${c.gradDistance}. A gap: exactly 0 in float32.`,
  }));
  const minD = Math.min(...c.distances);
  const maxD = Math.max(...c.distances);
  writeFileSync(join(c.out, 'long-range-accuracy.svg'), lineChartSvg({
    title: `${c.seeds.length > 1 ? `Median test accuracy over ${c.seeds.length} seeds` : 'Test accuracy'} against distance (recall task)`,
    xLabel: 'distance d: steps between the signal and the loss (log scale)', yLabel: 'test accuracy', xLog: true,
    yRange: [0.4, 1], xRange: [minD, maxD], xTicks: c.distances, width: 860, height: 440,
    // Widest first: where models coincide (at 100%, say) the lines show as nested stripes.
    series: c.models.map((name, i) => ({
      name: MODELS[name].title, color: MODELS[name].color, width: 1.5 + 0.9 * (c.models.length - 1 - i),
      points: c.distances.map((d) => [d, median(cell(name, d).map((r) => r.testAccuracy))] as const),
    })),
    note: `chance ${1 / c.numClasses}; H ${c.hidden}, Adam ${c.lr}, clip ${c.clip}, batch ${c.batch}, at most ${c.maxSteps} steps, seeds ${c.seeds.join(', ')}`,
  }));

  const L: string[] = [];
  const command = `npm run experiments:build && RECURRENT_THREADS=1 node dist/experiments/long-range.js${argv.length > 0 ? ' ' + argv.join(' ') : ''}`;
  L.push('# Long-range dependencies: RNN, LSTM and GRU on the recall task', '');
  L.push(`Written by \`experiments/long-range.ts\`. Reproduce with:`, '', '```sh', command, '```', '');
  L.push(
    `Backend ${backend().name}, RECURRENT_THREADS=${process.env.RECURRENT_THREADS ?? 'unset'}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ` +
      `Node ${process.version}; the whole run took ${(elapsed / 60).toFixed(1)} minutes. Deterministic: the same command with the same build of the kernels prints the same numbers (a change in the kernels' rounding moves individual runs by tens of steps).`,
    '',
  );
  L.push('## The task', '');
  L.push(
    `Each sequence is one signal token — its class, one of K = ${c.numClasses} — followed by d distractor tokens drawn uniformly from ` +
      `N = ${c.numDistractors} others (\`longRangeBatch\` in \`src/data/long-range-task.ts\`); the model reads the whole sequence and classifies it ` +
      'from its final state, d steps after it saw the signal. This is the latching problem of Bengio, Simard & Frasconi (1994) and ' +
      "experiment 2 of Hochreiter & Schmidhuber's LSTM paper (1997): nothing after the first token carries information about the " +
      `label, so accuracy above chance (${pct(1 / c.numClasses)}%) at distance d means the state held the signal for d steps, learnt from ` +
      'a gradient that had to cross those d steps.',
    '',
  );
  L.push('## How it was trained', '');
  L.push(
    `Embedding(${c.numClasses + c.numDistractors}, ${c.hidden}) → one recurrent layer, hidden ${c.hidden} → Linear(${c.hidden}, ${c.numClasses}) on the final state ` +
      `(\`SequenceClassifier\`, pool 'last'). Adam, learning rate ${c.lr}, gradient clipping at global norm ${c.clip}, batches of ${c.batch} fresh ` +
      `sequences (the same batches for every model of a seed). Training stops when the accuracy on ${c.valSize} validation sequences reaches ` +
      `${pct(c.target)}% (checked every ${c.evalEvery} steps) or after ${c.maxSteps} steps (${c.maxSteps * c.batch} sequences); the figure reported is ` +
      `the accuracy on ${c.testSize} test sequences. Validation and test sets depend on the seed and the distance only.`,
    '',
    "Models: each cell with PyTorch's initialisation (every weight and bias from U(−1/√H, 1/√H), so every gate starts near σ(0) = ½), " +
      'and the two gated cells with chrono initialisation (Tallec & Ollivier 2018): per unit u ~ U(1, d − 1) and the bias of the keep gate ' +
      'set to log u (LSTM: forget-gate bias log u and input-gate bias −log u; GRU: update-gate bias log u, z being the gate that keeps h), ' +
      'so units start out remembering for 2 to d steps instead of about 2. The Elman RNN has no gate, so no chrono variant.',
    '',
  );
  L.push('## Test accuracy (%) against distance', '');
  L.push(
    `Median over seeds ${c.seeds.join(', ')}; in brackets, how many seeds reached ${pct(SOLVED)}% test accuracy, and the median training steps ` +
      `those took. Chance is ${pct(1 / c.numClasses)}%.`,
    '',
  );
  L.push(`| model | ${c.distances.map((d) => `d = ${d}`).join(' | ')} |`, `| --- | ${c.distances.map(() => '---').join(' | ')} |`);
  for (const name of c.models) {
    const cells = c.distances.map((d) => {
      const rs = cell(name, d);
      const ok = rs.filter(solved);
      const steps = ok.length > 0 ? `, ${median(ok.map((r) => r.steps))} steps` : '';
      return `${pct(median(rs.map((r) => r.testAccuracy)))} (${ok.length}/${rs.length}${steps})`;
    });
    L.push(`| ${MODELS[name].title} | ${cells.join(' | ')} |`);
  }
  L.push('', 'Every run (test accuracy %, steps trained):', '');
  L.push(`| model | seed | ${c.distances.map((d) => `d = ${d}`).join(' | ')} |`, `| --- | --- | ${c.distances.map(() => '---').join(' | ')} |`);
  for (const name of c.models) {
    for (const seed of c.seeds) {
      const cells = c.distances.map((d) => {
        const r = results.find((x) => x.model === name && x.distance === d && x.seed === seed)!;
        return `${pct(r.testAccuracy)} (${r.steps})`;
      });
      L.push(`| ${MODELS[name].title} | ${seed} | ${cells.join(' | ')} |`);
    }
  }
  L.push('', '![accuracy against distance](long-range-accuracy.svg)', '');

  L.push('## The vanishing gradient: ‖∂ℓ/∂h_k‖ against the distance k from the loss', '');
  L.push(
    `For ${c.gradBatch} sequences at d = ${c.gradDistance} (T = ${c.gradDistance + 1} steps), the mean over sequences of ‖∂ℓ_b/∂h_k‖, where ℓ_b is the ` +
      'cross-entropy of sequence b and h_k its hidden state k steps before the state the classifier reads (k = d is the state that ' +
      'first holds the signal). Measured with `recurrentSteps`, which runs the layer one step at a time so every h_t is a node on the ' +
      `tape, at initialisation and after training at d = ${c.gradDistance} (seed ${c.seeds[0]}; the trained models are those in the table, ` +
      "whether or not they learnt the task). For the LSTMs, h is the output state and the memory is the cell state c, so the rows " +
      'marked c give ‖∂ℓ_b/∂c_k‖ as well; the state is the pair (h_k, c_k) and each derivative holds the other fixed, so ∂ℓ/∂c is 0 at ' +
      "k = 0, where the classifier reads h only. Last column: the fraction of ‖∂ℓ/∂h‖ at the loss that reaches the signal's state.",

    '',
  );
  const ks = [0, 1, 5, 10, 20, 50, 100, 200, 500, 1000].filter((k) => k <= c.gradDistance);
  L.push(`| model | when, state | ${ks.map((k) => `k = ${k}`).join(' | ')} | k = ${c.gradDistance} over k = 0 |`, `| --- | --- | ${ks.map(() => '---').join(' | ')} | --- |`);
  for (const name of c.models) {
    for (const [when, m] of [['init', init], ['trained', trained]] as const) {
      const curves = m.get(name);
      if (curves === undefined) continue;
      for (const [state, g] of [['h', curves.h], ['c', curves.c]] as const) {
        const ratio = state === 'h' ? sci(g[c.gradDistance] / g[0]) : '';
        if (g !== null) L.push(`| ${MODELS[name].title} | ${when}, ${state} | ${ks.map((k) => sci(g[k])).join(' | ')} | ${ratio} |`);
      }
    }
  }
  L.push('', '![gradient norm against distance](long-range.svg)', '');
  writeFileSync(join(c.out, 'long-range.md'), L.join('\n'));
  console.log(`wrote ${join(c.out, 'long-range.md')}, long-range.svg, long-range-accuracy.svg`);
}

main();
