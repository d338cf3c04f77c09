// The GPT-style character model: PyTorch parity (scripts/make-gpt-fixtures.py: its twin built from nn modules,
// logits and every gradient), a finite-difference check, the key/value-cached sampler against the uncached
// one token for token (with the window sliding past the context), the task resuming exactly, one sequence per
// line, and the command line (train, sample, eval, errors).

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { crossEntropy } from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { generateText } from '../src/decode/generate.js';
import { sampleLogits } from '../src/decode/sample.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { TransformerLanguageModel, type TransformerLanguageModelConfig } from '../src/nn/transformer-language-model.js';
import { TransformerStepper } from '../src/nn/transformer-stepper.js';
import { Rng } from '../src/random/rng.js';
import { languageModelTask } from '../src/tasks/language-model.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { memoryStore, trainTask } from '../src/index.js';
import { assertOneLineError, runCli, smallCorpus, tempDir } from './util/cli.js';
import { compareToFixture, f32, fixturesDir } from './util/fixtures.js';
import { gradcheck } from './util/gradcheck.js';

const dir = join(fixturesDir(), 'gpt');

test('GPT fixtures: logits, loss and every gradient equal PyTorch (nn.TransformerEncoderLayer, norm_first, gelu; tied and not)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  assert.ok(files.length >= 2, `no fixtures in ${dir} (run: /usr/bin/python3 scripts/make-gpt-fixtures.py)`);
  for (const file of files) {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
    const c = JSON.parse(metadata.config) as Omit<TransformerLanguageModelConfig, 'arch' | 'dropout'> & { T: number; B: number };
    const model = new TransformerLanguageModel({ arch: 'transformer', vocabSize: c.vocabSize, dModel: c.dModel, numLayers: c.numLayers, numHeads: c.numHeads, context: c.context, dropout: 0, tieEmbeddings: c.tieEmbeddings }, new Rng(0));
    model.loadStateDict(new Map([...tensors].filter(([k]) => !/^(input|expected|grad)\./.test(k))));
    model.eval();
    const ids = tensors.get('input.ids')!.data as Int32Array;
    const targets = tensors.get('input.targets')!.data as Int32Array;
    const problems: string[] = [];
    tidy(() => {
      const { logits } = model.forward(ids, c.T, c.B, null);
      const loss = crossEntropy(logits, targets);
      backward(loss);
      for (const p of [compareToFixture(`${file} logits`, logits, f32(file, tensors, 'expected.logits'), 1e-4, 1e-6),
        compareToFixture(`${file} loss`, loss, f32(file, tensors, 'expected.loss'), 1e-4, 1e-6)]) if (p) problems.push(p);
      for (const [name, p] of model.namedParameters()) {
        const e = compareToFixture(`${file} grad ${name}`, p.grad, f32(file, tensors, `grad.${name}`), 1e-4, 1e-6);
        if (e) problems.push(e);
      }
    });
    assert.deepEqual(problems, []);
    model.dispose();
  }
});

test('GPT: finite differences agree with the gradients (dropout off)', () => {
  const model = new TransformerLanguageModel({ arch: 'transformer', vocabSize: 7, dModel: 8, numLayers: 2, numHeads: 2, context: 6, dropout: 0, tieEmbeddings: true }, new Rng(3));
  const ids = Int32Array.from({ length: 5 * 2 }, (_, i) => (i * 5 + 1) % 7);
  // GPT-2's init (N(0, 0.02)) gives LayerNorm inputs of tiny variance, where a finite difference of eps = 1e-2
  // is no longer local: check at weights of order 1, as the fixtures do.
  const rng = new Rng(4);
  for (const p of model.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] += 0.5 * rng.normal();
  gradcheck('gpt', () => model.forward(ids, 5, 2, null).logits, model.parameters(), { maxPerInput: 12 });
  model.dispose();
});

/** What the cached sampler must give: every step reads the whole window again from position 0 (no cache). */
function uncached(model: TransformerLanguageModel, vocab: Vocabulary, prime: string, length: number, rng: Rng): string {
  const T = model.config.context;
  let window = Array.from(vocab.encode(prime));
  const logits = (): Float32Array => noGrad(() => tidy(() => {
    const l = model.forward(Int32Array.from(window), window.length, 1, null).logits; // (W, V)
    return l.data.slice((window.length - 1) * vocab.size);
  }));
  const out: number[] = [];
  let lv = logits();
  for (let i = 0; i < length; i++) {
    const next = sampleLogits(lv, { temperature: 0.9 }, rng);
    out.push(next);
    if (window.length === T) window = window.slice(-Math.floor(T / 2)); // the cached reader's slide: the last half, read again
    window.push(next);
    lv = logits();
  }
  return prime + vocab.decode(out);
}

test('GPT: the batch-1 stepper and the cached step give the full pass\'s logits at every position', () => {
  const model = new TransformerLanguageModel({ arch: 'transformer', vocabSize: 9, dModel: 12, numLayers: 2, numHeads: 3, context: 7, dropout: 0, tieEmbeddings: true }, new Rng(8));
  model.eval();
  const ids = [3, 1, 4, 1, 5, 8, 2];
  const full = noGrad(() => tidy(() => model.forward(Int32Array.from(ids), ids.length, 1, null).logits.data.slice())); // (T, V)
  const stepper = new TransformerStepper(model);
  const caches = model.createCaches(1);
  ids.forEach((id, t) => {
    const a = stepper.step(id).slice();
    const b = noGrad(() => tidy(() => model.step(Int32Array.of(id), 1, 1, caches).data.slice()));
    for (let j = 0; j < 9; j++) {
      assert.ok(Math.abs(a[j] - full[t * 9 + j]) < 1e-5, `stepper, position ${t}`);
      assert.ok(Math.abs(b[j] - full[t * 9 + j]) < 1e-5, `cached step, position ${t}`);
    }
  });
  assert.throws(() => stepper.step(0), /position 7 is past the context 7/);
  stepper.dispose();
  for (const c of caches) c.dispose();
  model.dispose();
});

test('GPT: the key/value-cached sample equals the uncached one token for token, also past the context', () => {
  const text = smallCorpus(80);
  const vocab = Vocabulary.fromText(text);
  const model = new TransformerLanguageModel({ arch: 'transformer', vocabSize: vocab.size, dModel: 16, numLayers: 2, numHeads: 4, context: 12, dropout: 0.1, tieEmbeddings: false }, new Rng(5));
  for (const [prime, length] of [['the c', 6], ['the cat sat', 30]] as const) {
    const a = generateText(model, vocab, { length, prime, temperature: 0.9 }, new Rng(9));
    const b = uncached(model, vocab, prime, length, new Rng(9));
    assert.equal(a, b, `prime ${JSON.stringify(prime)}, ${length} characters`);
  }
  assert.equal(model.training, true, 'sampling leaves the model in the mode it found it');
  // A prime longer than the context slides too.
  assert.equal(generateText(model, vocab, { length: 4, prime: 'we sing to the sea. it is', argmax: true }, new Rng(1)).length, 25 + 4);
  model.dispose();
});

test('GPT task: random windows from the run generator; resumes exactly; per line; a line longer than the context is refused', async () => {
  const text = smallCorpus(200);
  const task = () => languageModelTask(text, 'small', { arch: 'transformer', hiddenSize: 16, numLayers: 2, numHeads: 2, context: 16, dropout: 0.1, batchSize: 4, sampleLength: 20 });
  const a = memoryStore();
  (await trainTask(task(), { steps: 10, evalEvery: 5, lr: 3e-3 }, { store: a })).task.model.dispose();
  const b = memoryStore();
  (await trainTask(task(), { steps: 5, evalEvery: 5, lr: 3e-3 }, { store: b })).task.model.dispose();
  (await trainTask(task(), { steps: 10, evalEvery: 5, lr: 3e-3, resume: true }, { store: b })).task.model.dispose();
  assert.deepEqual(b.files.get('model.safetensors'), a.files.get('model.safetensors'));
  assert.equal(JSON.parse(b.metrics.at(-1)!).valLoss, JSON.parse(a.metrics.at(-1)!).valLoss);
  const config = JSON.parse(new TextDecoder().decode(a.files.get('config.json')!));
  assert.equal(config.model.arch, 'transformer');
  assert.equal(config.train.seqLength, 16, 'a Transformer reads windows of its context');
  // The other family's checkpoint is refused.
  await assert.rejects(trainTask(languageModelTask(text, 'small', { hiddenSize: 16, numLayers: 2, batchSize: 4 }), { steps: 12, resume: true }, { store: a }),
    /cannot resume memory: it was trained with arch transformer, this run asks for recurrent/);

  const names = 'anna\nbob\ncarla\ndave\nemma\nfrank\ngina\nhank\nivy\njoe\nkim\nlou\n';
  const lines = (context: number) => languageModelTask(names, 'names', { arch: 'transformer', perLine: true, hiddenSize: 8, numLayers: 1, numHeads: 2, context, batchSize: 4, sampleLength: 10 });
  const r = await trainTask(lines(8), { steps: 4, evalEvery: 4 }, {});
  assert.ok(Number.isFinite(r.evaluations[0].valLoss as number));
  r.task.model.dispose();
  await assert.rejects(trainTask(lines(5), { steps: 4 }, {}), /names: a (training|held-out) line of 5 characters needs a context of 6 \(with its start token\), more than the model's 5/);
});

test('recurrent train --model transformer: learns, samples, evaluates; bad options are one line', () => {
  const out = tempDir();
  const data = join(out, 'data.txt');
  writeFileSync(data, smallCorpus());
  const run = join(out, 'run');
  const flags = ['--model', 'transformer', '--hidden', '32', '--layers', '2', '--heads', '4', '--context', '24', '--batch-size', '8', '--sample-length', '40'];
  const r = runCli(['train', '--data', data, ...flags, '--steps', '150', '--eval-every', '50', '--lr', '3e-3', '--out', run]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /training transformer 2×32 \(4 heads, context 24\) on .*data\.txt/);
  const m = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(m[2].valLoss < 1.5 && m[2].valLoss < m[0].valLoss, `val loss ${m.map((x) => x.valLoss).join(' → ')}`);
  const e = JSON.parse(runCli(['eval', '--checkpoint', run, '--data', data]).stdout);
  assert.ok(Math.abs(e.valLoss - m[2].valLoss) < 1e-6, 'eval equals training\'s last evaluation');
  const s = runCli(['sample', '--checkpoint', run, '--length', '100', '--prime', 'the ', '--seed', '2']);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith('the ') && s.stdout.length >= 104);
  const bad = (...args: string[]) => runCli(['train', '--data', data, '--steps', '2', '--out', join(out, `x${Math.random()}`), ...args]);
  assertOneLineError(bad('--model', 'transformer', '--hidden', '30', '--heads', '4'), /numHeads 4 does not divide the width dModel 30/);
  assertOneLineError(bad('--model', 'transformer', '--context', '0'), /--context must be a positive integer, got "0"/, 2);
  assertOneLineError(bad('--model', 'transformer', '--seq-length', '8'), /--seq-length applies to the recurrent models/, 2);
  assertOneLineError(bad('--model', 'gru', '--heads', '2'), /--heads applies to --model transformer, not --model gru/, 2);
  assertOneLineError(runCli(['train', '--data', data, '--model', 'lstm', '--hidden', '32', '--layers', '2', '--steps', '200', '--out', run, '--resume']), /cannot resume .*: it was trained with arch transformer, this run asks for recurrent/);
});
