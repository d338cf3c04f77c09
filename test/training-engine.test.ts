// The training engine from code, on in-memory stores: each task resumes exactly, the events come in order,
// a stop saves, a diverged loss keeps the last good checkpoint, a resumed log drops what the checkpoint
// does not cover, and weights that are not finite are refused on load.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { heap } from '../src/tensor/heap.js';
import {
  DivergedError, classifierTask, languageModelTask, loadCheckpointWeights, memoryStore, seq2seqTask, trainTask,
  type EngineOptions, type MemoryStore, type TaskDefinition, type TrainEvent, type TrainingTask,
} from '../src/index.js';
import { LanguageModel } from '../src/nn/language-model.js';
import { Rng } from '../src/random/rng.js';
import { smallCorpus } from './util/cli.js';

const lmText = smallCorpus(120);
const lm = (): ReturnType<typeof languageModelTask> =>
  languageModelTask(lmText, 'small corpus', { hiddenSize: 16, numLayers: 1, batchSize: 4, seqLength: 12, dropout: 0.1, sampleLength: 20 });
const clfText = Array.from({ length: 80 }, (_, i) => `${i % 3 === 0 ? 'three' : 'other'}\t${(i * 7919) % 1000}`).join('\n') + '\n';
const clf = (): ReturnType<typeof classifierTask> =>
  classifierTask(clfText, 'numbers.tsv', { cell: 'gru', hiddenSize: 12, numLayers: 1, bidirectional: true, pool: 'mean', dropout: 0.2, maxLength: 0, batchSize: 8 });
const words = ['ab', 'ba', 'abc', 'cab', 'bca', 'ca', 'cc', 'aab'];
const s2sText = words.flatMap((x) => words.map((y) => `${x}${y}\t${[...`${x}${y}`].reverse().join(' ')}`)).join('\n') + '\n';
const s2s = (): ReturnType<typeof seq2seqTask> =>
  seq2seqTask(s2sText, 'reverse.tsv', {
    srcSplit: 'char', tgtSplit: 'space', teacherForcing: { kind: 'linear', k: 1, c: 0.02, min: 0.5 }, feedback: 'sample', batchSize: 8, labelSmoothing: 0.1,
    model: { cell: 'lstm', hiddenSize: 12, attention: 'bahdanau', bidirectional: true, dropout: 0.1 },
  });

async function resumesExactly<T extends TrainingTask>(make: () => TaskDefinition<T>, ema: number): Promise<void> {
  const opts: EngineOptions = { evalEvery: 5, seed: 3, lr: 1e-2, ema, schedule: { kind: 'cosine', warmupSteps: 2, totalSteps: 14 } };
  const a = memoryStore('a');
  const ra = await trainTask(make(), { ...opts, steps: 14 }, { store: a });
  const b = memoryStore('b');
  const rb1 = await trainTask(make(), { ...opts, steps: 7 }, { store: b });
  rb1.task.model.dispose();
  const rb = await trainTask(make(), { ...opts, steps: 14, resume: true }, { store: b });
  assert.deepEqual(b.files.get('model.safetensors'), a.files.get('model.safetensors'), 'same weights');
  // The training files agree but for the timers.
  const training = (s: MemoryStore) => {
    const t = decodeSafetensors(s.files.get('training.safetensors')!);
    const meta = JSON.parse(t.metadata.training);
    delete meta.counters.trainSec;
    delete meta.counters.elapsedSec;
    return { tensors: t.tensors, meta };
  };
  assert.deepEqual(training(b), training(a), 'same optimizer, generator and task state');
  const steps = (s: MemoryStore): number[] => s.metrics.map((l) => JSON.parse(l).step);
  assert.deepEqual(steps(a), [5, 10, 14]);
  assert.deepEqual(steps(b), [5, 7, 10, 14]);
  const at = (s: MemoryStore, step: number): Record<string, unknown> => JSON.parse(s.metrics.find((l) => JSON.parse(l).step === step)!);
  for (const step of [10, 14]) {
    const { elapsedSec: _e, tokensPerSec: _t, ...x } = at(a, step);
    const { elapsedSec: _e2, tokensPerSec: _t2, ...y } = at(b, step);
    assert.deepEqual(y, x, `the log at step ${step}`);
  }
  // The model the run returns is what the checkpoint ships.
  const shipped = decodeSafetensors(a.files.get('model.safetensors')!).tensors;
  for (const [name, p] of ra.task.model.namedParameters()) assert.deepEqual(p.data, shipped.get(name)!.data, name);
  ra.task.model.dispose();
  rb.task.model.dispose();
}

test('engine: the language model resumes exactly (dropout, carried state, cosine schedule, weight average)', async () => {
  await resumesExactly(lm, 0.9);
});

test('engine: the classifier resumes exactly', async () => {
  await resumesExactly(clf, 0);
});

test('engine: the encoder–decoder resumes exactly (scheduled sampling, label smoothing, epochs of length buckets)', async () => {
  await resumesExactly(s2s, 0.95);
});

test('engine: events in order; a stop saves and returns; the sample is shown with each evaluation', async () => {
  const events: TrainEvent[] = [];
  const store = memoryStore();
  const r = await trainTask(lm(), { steps: 6, evalEvery: 3 }, { store, onEvent: (e) => events.push(e) });
  r.task.model.dispose();
  const kinds = events.map((e) => (e.kind === 'step' ? `step ${e.step}` : e.kind));
  assert.deepEqual(kinds, ['start', 'step 1', 'step 2', 'step 3', 'eval', 'checkpoint', 'step 4', 'step 5', 'step 6', 'eval', 'checkpoint']);
  const ev = events.find((e) => e.kind === 'eval') as Extract<TrainEvent, { kind: 'eval' }>;
  assert.equal(ev.sample!.length, 21, 'a newline prime and 20 characters');
  assert.equal(ev.record.tokens, 3 * 4 * 12);
  const start = events[0] as Extract<TrainEvent, { kind: 'start' }>;
  assert.equal(start.description, `lstm 1×16 on small corpus (${lmText.length} characters)`);

  let n = 0;
  const stopped = memoryStore();
  const s = await trainTask(lm(), { steps: 1000, evalEvery: 500 }, { store: stopped, shouldStop: () => ++n > 4 });
  s.task.model.dispose();
  assert.equal(s.stopped, true);
  assert.equal(s.step, 4);
  assert.equal(decodeSafetensors(stopped.files.get('model.safetensors')!).metadata.step, '4');
  assert.equal(stopped.metrics.length, 0, 'a stop saves without evaluating');
});

test("engine: clock 'cpu' counts the process's CPU time, not time spent waiting", async () => {
  // Each step waits 10 ms without using the CPU (Atomics.wait): a wall-clock budget of 0.1 s would end after
  // a few steps, a CPU-time one only once the steps themselves have used 0.1 s.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const store = memoryStore();
  const t0 = performance.now();
  const r = await trainTask(lm(), { timeSec: 0.1, clock: 'cpu', evalEvery: 1e6 }, { store, shouldStop: () => Atomics.wait(sleeper, 0, 0, 10) === 'ok' });
  const wall = (performance.now() - t0) / 1000;
  r.task.model.dispose();
  const last = JSON.parse(store.metrics.at(-1)!);
  assert.ok(wall > 0.3, `the run took ${wall} s of wall-clock, more than its CPU budget`);
  assert.ok(last.elapsedSec >= 0.1 && last.elapsedSec < wall / 2, `logged ${last.elapsedSec} CPU seconds in ${wall} s`);
  assert.equal(JSON.parse(new TextDecoder().decode(store.files.get('config.json'))).train.clock, 'cpu');
  await assert.rejects(trainTask(lm(), { timeSec: 1, clock: 'sun' as 'cpu' }, { store: memoryStore() }), /clock must be 'wall' or 'cpu', got "sun"/);
  // Its seconds are CPU seconds: a resume by the wall-clock would count a budget in two clocks.
  await assert.rejects(trainTask(lm(), { timeSec: 0.2, resume: true }, { store }), /cannot resume .*: it was trained with clock cpu, this run asks for wall/);
  const more = await trainTask(lm(), { timeSec: 0.2, clock: 'cpu', resume: true, evalEvery: 1e6 }, { store });
  more.task.model.dispose();
});

test('engine: a store that holds a checkpoint is not overwritten without resume; mismatched options are refused', async () => {
  const store = memoryStore('runs/x');
  (await trainTask(clf(), { steps: 2, evalEvery: 2 }, { store })).task.model.dispose();
  await assert.rejects(trainTask(clf(), { steps: 4 }, { store }), /runs\/x already holds a checkpoint; pass --resume/);
  await assert.rejects(trainTask(clf(), { steps: 4, resume: true, seed: 2 }, { store }), /cannot resume runs\/x: it was trained with seed 1, this run asks for 2/);
  await assert.rejects(trainTask(clf(), { steps: 4, resume: true, optimizer: 'sgd' }, { store }), /cannot resume runs\/x: it was trained with optimizer adam/);
  await assert.rejects(trainTask(clf(), { steps: 4, resume: true, optimizerOptions: { weightDecay: 0.1 } }, { store }), /it was trained with weightDecay 0, this run asks for 0.1/);
  await assert.rejects(trainTask(clf(), { steps: 4, resume: true, ema: 0.9 }, { store }), /it was trained with ema 0, this run asks for 0.9/);
  await assert.rejects(trainTask(lm(), { steps: 4, resume: true }, { store }), /runs\/x\/config\.json is not a recurrent language-model checkpoint/);
  // The rate, its schedule and the clipping may change on resume.
  (await trainTask(clf(), { steps: 4, resume: true, lr: 1e-4, clip: 1 }, { store })).task.model.dispose();
});

test('engine: a loss that stops being finite names the step and keeps the last good checkpoint', async () => {
  const store = memoryStore('runs/nan');
  (await trainTask(lm(), { steps: 3, evalEvery: 3 }, { store })).task.model.dispose();
  const before = new Map(store.files);
  await assert.rejects(
    trainTask(lm(), { steps: 40, evalEvery: 1000, lr: 1e38, clip: 0, resume: true }, { store }),
    (e: unknown) => e instanceof DivergedError && /(loss|gradient norm) became (NaN|Infinity|-Infinity) at step \d+; stopped, the last good checkpoint in runs\/nan is kept/.test(e.message),
  );
  assert.deepEqual(store.files, before);
});

test('engine: on resume, the log records past the checkpoint (a crash between the two writes) are dropped first', async () => {
  const store = memoryStore('runs/log');
  (await trainTask(clf(), { steps: 4, evalEvery: 2 }, { store })).task.model.dispose();
  // A run killed after logging step 6 but before saving it (and a line torn by the kill):
  store.metrics.push(JSON.stringify({ step: 6, trainLoss: 0 }), '{"step": 7, "trai');
  const notes: string[] = [];
  const r = await trainTask(clf(), { steps: 8, evalEvery: 2, resume: true }, { store, onEvent: (e) => e.kind === 'notice' && notes.push(e.message) });
  r.task.model.dispose();
  assert.deepEqual(store.metrics.map((l) => JSON.parse(l).step), [2, 4, 6, 8], 'one run, each step once');
  assert.deepEqual(notes, ['runs/log: dropped 2 metrics records written after the checkpoint of step 4']);
});

test('loading weights that are not finite is refused, naming the tensor', () => {
  const model = new LanguageModel({ cell: 'gru', vocabSize: 5, hiddenSize: 4, numLayers: 1, dropout: 0 }, new Rng(1));
  const tensors = new Map([...model.stateDict()].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }]));
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    const data = tensors.get('rnn.weight_hh_l0')!.data.slice();
    data[5] = bad;
    const bytes = encodeSafetensors(new Map([...tensors, ['rnn.weight_hh_l0', { dtype: 'F32', shape: [12, 4], data }]]), { step: '3' });
    const m = new LanguageModel(model.config, new Rng(2));
    assert.throws(() => loadCheckpointWeights(m, bytes, 'ck/model.safetensors', 'ck/config.json'),
      new RegExp(`^Error: ck/model\\.safetensors: tensor "rnn\\.weight_hh_l0" holds ${String(bad)} \\(element 5\\)`));
  }
  const ok = new LanguageModel(model.config, new Rng(2));
  assert.equal(loadCheckpointWeights(ok, encodeSafetensors(tensors, { step: '3' }), 'ck/model.safetensors', 'ck/config.json'), 3);
  model.dispose();
  ok.dispose();
});

test('engine: resuming a run that is already as far as asked changes nothing and says so', async () => {
  const store = memoryStore('runs/done');
  (await trainTask(clf(), { steps: 6, evalEvery: 3 }, { store })).task.model.dispose();
  const files = new Map(store.files);
  const log = [...store.metrics];
  for (const steps of [6, 4]) {
    const notes: string[] = [];
    const r = await trainTask(clf(), { steps, evalEvery: 3, resume: true }, { store, onEvent: (e) => e.kind === 'notice' && notes.push(e.message) });
    r.task.model.dispose();
    assert.deepEqual(notes, [`runs/done is at step 6, this run asks for ${steps} in all: nothing to train`]);
    assert.equal(r.step, 6);
    assert.deepEqual(store.metrics, log, 'no evaluation logged again');
    assert.deepEqual(store.files, files, 'the checkpoint is not rewritten');
  }
});

test('engine: a task whose data fails after its model is made frees the model; so does a corrupt training file', async () => {
  const live = (): number => heap.stats().bytesInUse;
  const before = live();
  // A Transformer's text shorter than one window fails in the task, after the model is built.
  await assert.rejects(trainTask(languageModelTask('abcdefgh\n'.repeat(3), 'tiny', { arch: 'transformer', hiddenSize: 8, numLayers: 1, numHeads: 2, context: 32, batchSize: 2 }), { steps: 2 }, {}), /too short/);
  assert.equal(live(), before, 'the model of a task that failed is freed');
  // A weight average whose raw weights are not finite: refused, and nothing it restored stays allocated.
  const store = memoryStore('runs/bad');
  (await trainTask(clf(), { steps: 2, evalEvery: 2, ema: 0.9 }, { store })).task.model.dispose();
  const t = decodeSafetensors(store.files.get('training.safetensors')!);
  const raw = [...t.tensors.keys()].find((k) => k.startsWith('raw.'))!;
  (t.tensors.get(raw)!.data as Float32Array)[0] = Number.NaN;
  store.files.set('training.safetensors', encodeSafetensors(t.tensors, t.metadata));
  const before2 = live();
  await assert.rejects(trainTask(clf(), { steps: 4, ema: 0.9, resume: true }, { store }), new RegExp(`tensor "${raw.replace(/\./g, '\\.')}" holds NaN`));
  assert.equal(live(), before2, 'nothing stays allocated');
});
