// One sequence per line: the held-out split, the padded batches, the per-token loss (batch-invariant), the
// task resuming exactly, sampling that restarts each line, and the command line (train, eval, sample, errors).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PAD_TARGET, lineBatch, splitLineSequences } from '../src/data/line-sequences.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { generateText } from '../src/decode/generate.js';
import { LanguageModel } from '../src/nn/language-model.js';
import { Rng } from '../src/random/rng.js';
import { languageModelTask, lineLoss } from '../src/tasks/language-model.js';
import { memoryStore, trainTask } from '../src/index.js';
import { assertOneLineError, runCli, tempDir } from './util/cli.js';

const names = (n: number, seed: number): string => {
  const rng = new Rng(seed);
  const syll = ['an', 'el', 'ma', 'ri', 'jo', 'ka', 'li', 'sa', 'to', 'ne'];
  return Array.from({ length: n }, () => Array.from({ length: 1 + rng.int(3) }, () => syll[rng.int(syll.length)]).join('')).join('\n') + '\n';
};

test('lines: a seeded held-out set of min(1000, 10%) lines; an empty line is an error naming it', () => {
  const text = names(50, 1);
  const vocab = Vocabulary.fromText(text);
  const a = splitLineSequences(text, vocab, 'names.txt', 7);
  assert.equal(a.val.length, 5);
  assert.equal(a.train.length, 45);
  assert.deepEqual(splitLineSequences(text, vocab, 'names.txt', 7), a, 'the same seed, the same split');
  assert.notDeepEqual(splitLineSequences(text, vocab, 'names.txt', 8).val, a.val);
  const big = names(20000, 2);
  assert.equal(splitLineSequences(big, Vocabulary.fromText(big), 'big', 1).val.length, 1000);
  assert.throws(() => splitLineSequences('ab\n\ncd\n', Vocabulary.fromText('abcd\n'), 'x.txt', 1), /^Error: x\.txt line 2 is empty/);
});

test('lines: a batch reads each line from the start token to the end token, padding ignored', () => {
  const lines = [Int32Array.of(3, 4), Int32Array.of(5), Int32Array.of(6, 7, 8)];
  const b = lineBatch(lines, [0, 2, 1], 0); // boundary id 0
  assert.equal(b.T, 4);
  assert.equal(b.B, 3);
  assert.equal(b.tokens, 3 + 4 + 2);
  const col = (x: Int32Array, j: number): number[] => Array.from({ length: b.T }, (_, t) => x[t * b.B + j]);
  assert.deepEqual(col(b.inputs, 0), [0, 3, 4, 0]);
  assert.deepEqual(col(b.targets, 0), [3, 4, 0, PAD_TARGET]);
  assert.deepEqual(col(b.inputs, 1), [0, 6, 7, 8]);
  assert.deepEqual(col(b.targets, 1), [6, 7, 8, 0]);
  assert.deepEqual(col(b.targets, 2), [5, 0, PAD_TARGET, PAD_TARGET]);
});

test('lines: the loss per token does not depend on how lines are batched', () => {
  const text = names(40, 3);
  const vocab = Vocabulary.fromText(text);
  const { train } = splitLineSequences(text, vocab, 'n', 1);
  const model = new LanguageModel({ cell: 'lstm', vocabSize: vocab.size, hiddenSize: 12, numLayers: 2, dropout: 0 }, new Rng(4));
  const boundary = vocab.encode('\n')[0];
  const all = lineLoss(model, train, boundary, 64);
  const one = lineLoss(model, train, boundary, 1);
  assert.ok(Math.abs(all - one) < 1e-5 * Math.abs(one), `${all} vs ${one}`);
  // Each line alone, weighted by its tokens: the same mean.
  let sum = 0;
  let n = 0;
  for (const l of train) {
    sum += lineLoss(model, [l], boundary, 1) * (l.length + 1);
    n += l.length + 1;
  }
  assert.ok(Math.abs(sum / n - one) < 1e-5 * Math.abs(one));
  model.dispose();
});

test('lines: sampling restarts from a zero state after each newline', async () => {
  const text = names(200, 5);
  const { task } = await trainTask(languageModelTask(text, 'names', { perLine: true, cell: 'gru', hiddenSize: 16, numLayers: 1, batchSize: 16, sampleLength: 0 }), { steps: 80, lr: 2e-2 });
  const { model, vocab } = task;
  // Greedy: every line starts from the same state, so every line is the same.
  const s = generateText(model, vocab, { length: 60, argmax: true, lines: true }, new Rng(1));
  const got = s.split('\n');
  assert.ok(got.length >= 3, JSON.stringify(s));
  for (const l of got.slice(1, -1)) assert.equal(l, got[0]);
  // A prime is read after the start token; a prime of several lines starts each from a fresh state too.
  assert.ok(generateText(model, vocab, { length: 5, prime: 'ma', lines: true }, new Rng(2)).startsWith('ma'));
  const after = (prime: string): string => generateText(model, vocab, { length: 20, prime, lines: true, temperature: 0.8 }, new Rng(3)).slice(prime.length);
  assert.equal(after('anna\nma'), after('ma'), 'the lines before the last do not reach into it');
  model.dispose();
});

test('lines: the task resumes exactly (random lines from the run generator, dropout)', async () => {
  const text = names(300, 9);
  const task = () => languageModelTask(text, 'names', { perLine: true, cell: 'lstm', hiddenSize: 16, numLayers: 2, dropout: 0.2, batchSize: 8, sampleLength: 30 });
  const a = memoryStore();
  (await trainTask(task(), { steps: 12, evalEvery: 4, lr: 1e-2 }, { store: a })).task.model.dispose();
  const b = memoryStore();
  (await trainTask(task(), { steps: 6, evalEvery: 4, lr: 1e-2 }, { store: b })).task.model.dispose();
  (await trainTask(task(), { steps: 12, evalEvery: 4, lr: 1e-2, resume: true }, { store: b })).task.model.dispose();
  assert.deepEqual(b.files.get('model.safetensors'), a.files.get('model.safetensors'));
  const last = (s: typeof a) => JSON.parse(s.metrics.at(-1)!);
  assert.equal(last(b).valLoss, last(a).valLoss);
  assert.equal(last(b).trainLoss, last(a).trainLoss);
  await assert.rejects(trainTask(languageModelTask(text, 'names', { hiddenSize: 16, numLayers: 2, dropout: 0.2, batchSize: 8 }), { steps: 14, resume: true }, { store: b }),
    /cannot resume memory: it was trained with perLine true, this run asks for false/);
});

test('recurrent train --per-line: learns names; eval and sample read the checkpoint as lines; bad input is one line', () => {
  const dir = tempDir();
  const data = join(dir, 'names.txt');
  writeFileSync(data, names(600, 11));
  const out = join(dir, 'run');
  const flags = ['--model', 'gru', '--hidden', '32', '--layers', '1', '--batch-size', '16', '--eval-every', '50', '--lr', '1e-2'];
  const r = runCli(['train', '--data', data, '--per-line', ...flags, '--steps', '150', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /training gru 1×32 on .*names\.txt \(540 training and 60 held-out lines\)/);
  const e = JSON.parse(runCli(['eval', '--checkpoint', out, '--data', data]).stdout);
  assert.equal(e.lines, 60);
  assert.equal(e.step, 150);
  // The text is syllables of two letters: a model that learned them is far below uniform (ln V).
  assert.ok(e.valLoss < 2.0, `val loss ${e.valLoss}`);
  const s = runCli(['sample', '--checkpoint', out, '--length', '200', '--seed', '1']);
  assert.equal(s.code, 0, s.stderr);
  const sampled = s.stdout.trim().split('\n').filter((l) => l !== '');
  assert.ok(sampled.length > 10 && sampled.every((l) => /^[a-z]+$/.test(l)), s.stdout);

  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, 'anna\nbob\n\ncarl\n');
  assertOneLineError(runCli(['train', '--data', bad, '--per-line', '--steps', '2', '--out', join(dir, 'bad')]), /bad\.txt line 3 is empty/);
  assertOneLineError(runCli(['train', '--data', data, '--per-line', '--seq-length', '8', '--out', join(dir, 'x')]), /--seq-length applies to the streams, not --per-line/, 2);
  assertOneLineError(runCli(['train', '--data', data, ...flags, '--steps', '200', '--out', out, '--resume']), /cannot resume .*perLine true, this run asks for false/);
});
