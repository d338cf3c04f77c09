// The studio's Web Worker: it holds the model and does all the work, so the page's main thread only draws.
// Training runs through the library's engine (trainTask) into a checkpoint store in memory, in the command
// line's format; pausing is the engine's shouldStop (it saves a checkpoint) and resuming continues that
// checkpoint exactly. Analysis (src/analysis/) runs here too, between training steps when a run is on.
// A request that fails is answered with its error's message and changes nothing the worker holds.

import {
  LANGUAGE_MODEL_FORMAT, Rng, SEQ2SEQ_FORMAT, defaultLanguageModelTaskOptions, recurrentModel, attentionMap, backend, cellActivations, cellSeries, cellsOnSpan, gateSaturation,
  generateText, gradientFlow, languageModelFromConfig, languageModelTask, loadCheckpointWeights, memoryStore, oneSequenceTask,
  parseCheckpointConfig, rankCells, regexFeature, selfAttentionMap, seq2seqFromConfig, textFeature, topPredictions, trainTask, unrollSequence,
  TransformerLanguageModel,
  type CellActivations, type EngineOptions, type LanguageModel, type LanguageModelCheckpointConfig, type LanguageModelTask,
  type MemoryStore, type Seq2Seq, type Seq2SeqCheckpointConfig, type TaskDefinition, type TokenVocabulary, type TrainEvent, type Vocabulary,
} from '../src/index.js';
import { kernelsUrl } from '../src/backend/wasm/load-kernels.js';
import type { Analysis, CheckpointBytes, FromWorker, ModelInfo, Push, Reply, Request, ToWorker } from './protocol.js';

const scope = globalThis as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  crossOriginIsolated?: boolean;
};

const HELLO = 'hello';

/** A language model with what it takes to resume it, a Transformer language model, or an encoder–decoder to decode with. */
type Held =
  | { kind: 'none' }
  | {
    kind: 'lm'; model: LanguageModel; vocab: Vocabulary; info: Extract<ModelInfo, { kind: 'language-model' }>;
    store: MemoryStore | null; definition: TaskDefinition<LanguageModelTask> | null; engine: EngineOptions | null;
    config: LanguageModelCheckpointConfig | null;
  }
  | { kind: 'transformer'; model: TransformerLanguageModel; vocab: Vocabulary; info: Extract<ModelInfo, { kind: 'transformer' }> }
  | { kind: 'seq2seq'; model: Seq2Seq; src: TokenVocabulary; tgt: TokenVocabulary; split: 'char' | 'space'; info: Extract<ModelInfo, { kind: 'seq2seq' }> };

let held: Held = { kind: 'none' };
let acts: { acts: CellActivations; text: string } | null = null;
let running = false;
let pauseAsked = false;
let temperature = 0.8;
let sampleLength = 300;
const sampleRng = new Rng(20150607);

const push = (p: Push, transfer: Transferable[] = []): void => scope.postMessage({ id: null, push: p }, transfer);

function release(h: Held): void {
  if (h.kind !== 'none') h.model.dispose();
}

function lmInfo(model: LanguageModel, vocab: Vocabulary, description: string, step: number, resumable: boolean, hello: boolean): Extract<ModelInfo, { kind: 'language-model' }> {
  const { cell, numLayers, hiddenSize } = model.config;
  return { kind: 'language-model', description, cell, layers: numLayers, hiddenSize, vocab: [...vocab.chars], step, resumable, hello };
}

function threadsPush(): void {
  const be = backend() as ReturnType<typeof backend> & { threads?: number; readyThreads?: number };
  const kernels = kernelsUrl.pathname.split('/').pop()!;
  push({ kind: 'threads', threads: be.threads ?? 1, ready: be.readyThreads ?? 1, isolated: scope.crossOriginIsolated === true, kernels });
}

function setThreads(n: number): void {
  const be = backend() as ReturnType<typeof backend> & { threads?: number; setThreads?(n: number): void };
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`threads must be a positive integer, got ${n}`);
  if (be.threads === n) return;
  if (be.setThreads === undefined) throw new Error(`the ${be.name} backend has no threads`);
  if (n > 1 && scope.crossOriginIsolated !== true) throw new Error(`${n} threads need a cross-origin isolated page (served with COOP/COEP, as \`recurrent studio\` serves it); this one is not: use 1`);
  be.setThreads(n);
}

/** Runs the engine on `definition` into `store`; the live model becomes the held one at the run's start. */
async function run(definition: TaskDefinition<LanguageModelTask>, store: MemoryStore, engine: EngineOptions, hello: boolean): Promise<{ stopped: boolean; step: number }> {
  if (running) throw new Error('a run is training: pause it first');
  let task: LanguageModelTask | null = null;
  const captured: TaskDefinition<LanguageModelTask> = {
    ...definition,
    create: (ctx) => (task = definition.create(ctx)),
    resume: (config, ctx, where) => (task = definition.resume(config, ctx, where)),
  };
  let pending: { step: number; loss: number }[] = [];
  let lastPush = 0;
  let lastUnroll = 0;
  let started = false;
  const flush = (last: Extract<TrainEvent, { kind: 'step' }>): void => {
    push({ kind: 'steps', steps: pending, last });
    pending = [];
    lastPush = performance.now();
  };
  let lastStep: Extract<TrainEvent, { kind: 'step' }> | null = null;
  const onEvent = (e: TrainEvent): void => {
    if (e.kind === 'start') {
      // The new run replaces what the worker held only now that it has started: a run refused before (a text
      // too short for one batch, a checkpoint that does not match) loses nothing.
      const t = task!;
      const model = recurrentModel(t.model, t.description); // the page trains recurrent cells only
      const previous = held;
      const next: Extract<Held, { kind: 'lm' }> = { kind: 'lm', model, vocab: t.vocab, info: lmInfo(model, t.vocab, t.description, e.step, true, hello), store, definition, engine, config: null };
      held = next;
      if (previous.kind !== 'none' && previous.model !== model) release(previous);
      acts = null;
      started = true;
      push({ kind: 'model', model: next.info });
      push({ kind: 'event', event: e });
      threadsPush();
    } else if (e.kind === 'step') {
      pending.push({ step: e.step, loss: e.loss });
      lastStep = e;
      const now = performance.now();
      if (now - lastPush >= 50) flush(e);
      if (hello && now - lastUnroll >= 100) {
        lastUnroll = now;
        push({ kind: 'unrolled', unrolled: unrollSequence(task!.model, task!.vocab, HELLO) });
      }
    } else if (e.kind === 'eval') {
      if (lastStep !== null && pending.length > 0) flush(lastStep);
      const sample = hello ? null : generateText(task!.model, task!.vocab, { length: sampleLength, temperature }, sampleRng);
      push({ kind: 'eval', record: e.record, sample });
      if (held.kind === 'lm') {
        held.info = { ...held.info, step: e.record.step };
        push({ kind: 'model', model: held.info });
      }
    } else push({ kind: 'event', event: e });
  };
  running = true;
  pauseAsked = false;
  try {
    const r = await trainTask(captured, engine, { store, onEvent, shouldStop: () => pauseAsked });
    if (lastStep !== null && pending.length > 0) flush(lastStep);
    if (held.kind === 'lm') {
      held.info = { ...held.info, step: r.step };
      push({ kind: 'model', model: held.info });
    }
    if (hello) push({ kind: 'unrolled', unrolled: unrollSequence(r.task.model, r.task.vocab, HELLO) });
    return { stopped: r.stopped, step: r.step };
  } catch (e) {
    running = false;
    // The engine frees a failed run's model; the store still holds its last good checkpoint: load that.
    if (started) {
      held = { kind: 'none' };
      const saved = store.files.get('model.safetensors');
      const info = saved === undefined ? { kind: 'none' as const }
        : load({ config: store.files.get('config.json')!, model: saved, training: store.files.get('training.safetensors') ?? null }, store.name, definition, engine);
      push({ kind: 'model', model: info });
    }
    throw e;
  } finally {
    running = false;
  }
}

/** The engine's options of a loaded checkpoint's run (its optimizer, options and seed must be kept to resume it). */
function engineOfConfig(train: Record<string, unknown>, steps: number): EngineOptions {
  const engineKeys = new Set(['steps', 'timeSec', 'lr', 'optimizer', 'schedule', 'clip', 'clipValue', 'ema', 'evalEvery', 'seed']);
  const taskKeys = new Set(Object.keys(defaultLanguageModelTaskOptions));
  const optimizerOptions = Object.fromEntries(Object.entries(train).filter(([k]) => !engineKeys.has(k) && !taskKeys.has(k)));
  const num = (k: string): number | undefined => (typeof train[k] === 'number' ? (train[k] as number) : undefined);
  return {
    steps, lr: num('lr'), optimizer: typeof train.optimizer === 'string' ? train.optimizer : undefined, optimizerOptions,
    clip: num('clip'), clipValue: num('clipValue'), ema: num('ema'), evalEvery: num('evalEvery'), seed: num('seed'),
  };
}

/** A checkpoint's files into the held model; a kind the studio does not open is an error naming it. */
function load(files: CheckpointBytes, name: string, definition: TaskDefinition<LanguageModelTask> | null = null, engine: EngineOptions | null = null): ModelInfo {
  if (running) throw new Error('a run is training: pause it first');
  const configPath = `${name}/config.json`;
  const config = parseCheckpointConfig<{ format: string } & Record<string, unknown>>(
    files.config, configPath, [LANGUAGE_MODEL_FORMAT, SEQ2SEQ_FORMAT], 'recurrent language-model or seq2seq',
  );
  const modelPath = `${name}/model.safetensors`;
  let next: Exclude<Held, { kind: 'none' }>;
  if (config.format === LANGUAGE_MODEL_FORMAT) {
    const c = config as unknown as LanguageModelCheckpointConfig;
    const built = languageModelFromConfig(c, configPath, new Rng(0));
    const { vocab } = built;
    if (built.model instanceof TransformerLanguageModel) return hold(transformerHeld(built.model, vocab, files, name, c, modelPath, configPath));
    const model = recurrentModel(built.model, configPath);
    const step = loadOrFree(model, files.model, modelPath, configPath);
    let store: MemoryStore | null = null;
    if (files.training !== null) {
      store = memoryStore(name);
      store.write([['config.json', files.config], ['training.safetensors', files.training], ['model.safetensors', files.model]]);
    }
    const hello = c.data?.name === JSON.stringify(HELLO);
    const description = `${model.config.cell} ${model.config.numLayers}×${model.config.hiddenSize} from ${name} (trained on ${c.data?.name ?? 'unknown data'})`;
    next = { kind: 'lm', model, vocab, info: lmInfo(model, vocab, description, step, store !== null, hello), store, definition, engine, config: c };
  } else {
    const c = config as unknown as Seq2SeqCheckpointConfig;
    const { model, src, tgt } = seq2seqFromConfig(c, configPath, new Rng(0));
    const step = loadOrFree(model, files.model, modelPath, configPath);
    const split = c.train?.srcSplit === 'space' ? 'space' : 'char';
    const info: Extract<ModelInfo, { kind: 'seq2seq' }> = { kind: 'seq2seq', description: `${model.config.cell} encoder–decoder from ${name}`, step, srcSplit: split, attention: String(model.config.attention) };
    next = { kind: 'seq2seq', model, src, tgt, split, info };
  }
  return hold(next);
}

/** What the worker holds from now on (the previous model freed). */
function hold(next: Exclude<Held, { kind: 'none' }>): ModelInfo {
  release(held);
  held = next;
  acts = null;
  return next.info;
}

/** A Transformer checkpoint, opened for its samples and self-attention (training one is the command line's). */
function transformerHeld(model: TransformerLanguageModel, vocab: Vocabulary, files: CheckpointBytes, name: string, c: LanguageModelCheckpointConfig, modelPath: string, configPath: string): Extract<Held, { kind: 'transformer' }> {
  const step = loadOrFree(model, files.model, modelPath, configPath);
  const { numLayers: layers, numHeads: heads, dModel, context } = model.config;
  const description = `Transformer ${layers}×${dModel}, ${heads} heads, context ${context} from ${name} (trained on ${c.data?.name ?? 'unknown data'})`;
  return { kind: 'transformer', model: model.eval(), vocab, info: { kind: 'transformer', description, step, layers, heads, context, vocab: [...vocab.chars] } };
}

/** A checkpoint's weights into a model just built for them; a model whose weights do not load is freed. */
function loadOrFree(model: Parameters<typeof loadCheckpointWeights>[0] & { dispose(): void }, bytes: Uint8Array, modelPath: string, configPath: string): number {
  try {
    return loadCheckpointWeights(model, bytes, modelPath, configPath);
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The language model to sample from: either kind. */
function sampler(): { model: LanguageModel | TransformerLanguageModel; vocab: Vocabulary } {
  return held.kind === 'transformer' ? held : needLm();
}

function needLm(): Extract<Held, { kind: 'lm' }> {
  if (held.kind === 'transformer') throw new Error('this is a Transformer language model: it has no cells, gates or recurrent state to show (and trains with recurrent train); its view is Attention');
  if (held.kind !== 'lm') throw new Error(held.kind === 'none' ? 'there is no model yet: train one or open a checkpoint' : 'this is an encoder–decoder: its view is Attention');
  return held;
}

function needActs(): { acts: CellActivations; text: string } {
  if (acts === null) throw new Error('analyse a text first');
  return acts;
}

async function answer(r: Request): Promise<{ reply: Reply; transfer?: Transferable[] }> {
  switch (r.kind) {
    case 'train': {
      if (running) throw new Error('a run is training: pause it first');
      setThreads(r.threads);
      const definition = r.spec.kind === 'hello'
        ? oneSequenceTask(HELLO, { ...r.spec.options, cell: r.spec.options.cell as never })
        : languageModelTask(r.spec.text, r.spec.name, { ...r.spec.options, cell: r.spec.options.cell as never, sampleLength: 0 });
      const engine: EngineOptions = { ...r.engine };
      return { reply: { kind: 'train', ...(await run(definition, memoryStore(r.spec.kind === 'hello' ? HELLO : r.spec.name), engine, r.spec.kind === 'hello')) } };
    }
    case 'resume': {
      const h = needLm();
      if (h.store === null) throw new Error('this checkpoint has no training.safetensors: it can be analysed and sampled, not resumed');
      let definition = h.definition;
      let engine = h.engine;
      if (definition === null || engine === null) {
        // A checkpoint opened from files: its task from its own options; its text must be the one in the page.
        const c = h.config!;
        if (h.info.hello) definition = oneSequenceTask(HELLO, { cell: c.train.cell, hiddenSize: c.train.hiddenSize, numLayers: c.train.numLayers });
        else {
          if (r.text === undefined || r.text.length === 0) throw new Error(`to resume ${h.store.name}, put the text it was trained on (${c.data?.name}) in the Train view`);
          definition = languageModelTask(r.text, c.data?.name ?? 'text', { ...c.train, sampleLength: 0 });
        }
        engine = engineOfConfig(c.train as Record<string, unknown>, r.steps);
      }
      if (!(Number.isInteger(r.steps) && r.steps > h.info.step)) throw new Error(`to resume, ask for more steps than the ${h.info.step} done`);
      return { reply: { kind: 'resume', ...(await run(definition, h.store, { ...engine, steps: r.steps, resume: true }, h.info.hello)) } };
    }
    case 'load':
      return { reply: { kind: 'load', model: load(r.files, r.name) } };
    case 'sample': {
      const h = sampler();
      temperature = r.temperature;
      sampleLength = r.length;
      return { reply: { kind: 'sample', text: generateText(h.model, h.vocab, { length: r.length, temperature: r.temperature }, sampleRng) } };
    }
    case 'analyse': {
      const h = needLm();
      const t0 = performance.now();
      const a = cellActivations(h.model, h.vocab, r.text, { gates: true, probs: true });
      acts = { acts: a, text: r.text };
      const topChars: string[][] = [];
      const topProbs = new Float32Array(a.length * 5);
      for (let t = 0; t < a.length; t++) {
        const top = topPredictions(a, h.vocab, t, 5);
        topChars.push(top.map((p) => p.char));
        top.forEach((p, k) => (topProbs[t * 5 + k] = p.p));
      }
      const analysis: Analysis = {
        length: a.length, layers: a.layers, hiddenSize: a.hiddenSize, signals: a.tanhC === null ? ['h'] : ['h', 'tanh_c'],
        topChars, topProbs, saturation: gateSaturation(a), seconds: (performance.now() - t0) / 1000,
      };
      return { reply: { kind: 'analyse', analysis } };
    }
    case 'series':
      return { reply: { kind: 'series', values: cellSeries(needActs().acts, r.ref) } };
    case 'rank': {
      const { acts: a, text } = needActs();
      const feature = r.feature.kind === 'builtin' ? textFeature(text, r.feature.name) : regexFeature(text, r.feature.pattern, r.feature.flags);
      return { reply: { kind: 'rank', cells: rankCells(a, feature, 20), feature } };
    }
    case 'span':
      return { reply: { kind: 'span', cells: cellsOnSpan(needActs().acts, r.start, r.end, r.threshold).slice(0, 20) } };
    case 'flow': {
      const h = needLm();
      return { reply: { kind: 'flow', flow: gradientFlow(h.model, h.vocab, r.text, new Rng(1), { length: r.length, windows: r.windows }) } };
    }
    case 'unroll': {
      const h = needLm();
      return { reply: { kind: 'unroll', unrolled: unrollSequence(h.model, h.vocab, HELLO) } };
    }
    case 'decode': {
      if (held.kind !== 'seq2seq') throw new Error('open an encoder–decoder checkpoint (trained by `recurrent seq2seq train`) to see its attention');
      return { reply: { kind: 'decode', map: attentionMap(held.model, held.src, held.tgt, r.source, held.split) } };
    }
    case 'attend': {
      if (held.kind !== 'transformer') throw new Error('open a Transformer language-model checkpoint (recurrent train --model transformer) to see its self-attention');
      return { reply: { kind: 'attend', map: selfAttentionMap(held.model, held.vocab, r.text) } };
    }
    case 'files': {
      const h = needLm();
      const s = h.store;
      if (s === null || !s.files.has('model.safetensors')) throw new Error('there is no checkpoint yet: it is saved at each evaluation and when training stops');
      const files: CheckpointBytes = { config: s.files.get('config.json')!.slice(), model: s.files.get('model.safetensors')!.slice(), training: s.files.get('training.safetensors')?.slice() ?? null };
      return { reply: { kind: 'files', files }, transfer: [files.config.buffer, files.model.buffer, ...(files.training === null ? [] : [files.training.buffer])] };
    }
  }
}

scope.onmessage = (e: MessageEvent<ToWorker>): void => {
  const m = e.data;
  if (m.id === null) {
    if (m.notice.kind === 'pause') pauseAsked = true;
    else {
      temperature = m.notice.temperature;
      sampleLength = m.notice.length;
    }
    return;
  }
  const { id } = m;
  answer(m.request).then(
    ({ reply, transfer }) => scope.postMessage({ id, reply }, transfer ?? []),
    (err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }),
  );
};
// The first message: the page posts nothing before it (web/client.ts), as the handler above is now installed.
threadsPush();
