// The Transformer language model's PyTorch round trip (`npm run test:torch`), and that of either model with one
// sequence per line (--per-line): a `recurrent train` checkpoint built and loaded in PyTorch
// (python/recurrent_torch/models.py) gives recurrent's logits, two DistributedDataParallel processes continue its
// training on the windows or lines recurrent's generator draws, and recurrent reads the result back — outputs
// equal to PyTorch's, `sample` and `eval` work, `train --resume` continues — and it ends where recurrent's own
// continuation of the same steps ends.

import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { loadCheckpoint } from '../../src/train/train-language-model.js';
import { runCli, smallCorpus, tempDir } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';
import { continueBothWays, metrics, torchForward, weightDifferences } from './torch-run.js';

const TEXT = 'the cat sat on'; // one window: at most the context
const CONTEXT = 16;

/** recurrent's logits (T, V) over TEXT, from the checkpoint in dir (from a zero state, a recurrent model's). */
function ownForward(dir: string): Float32Array {
  const { model, vocab } = loadCheckpoint(dir);
  const ids = vocab.encode(TEXT);
  const logits = noGrad(() => tidy(() => model.eval().forward(ids, ids.length, 1, null).logits.data.slice()));
  model.dispose();
  return logits;
}

function assertSameOutputs(dir: string, what: string): number {
  const e = relativeError(torchForward(dir, { text: TEXT }).get('logits')!, ownForward(dir));
  assert.ok(e <= 1e-5, `${what}: PyTorch and recurrent differ by ${e.toExponential(2)} of the largest magnitude`);
  return e;
}

/** One sequence per line, each at most 15 characters (a window of CONTEXT with its start token), with TEXT's characters. */
function lineCorpus(lines = 150): string {
  const words = ['the cat', 'sat on', 'the mat.', 'a dog ran', 'in the park.', 'we sing', 'to the sea.', 'it is', 'a fine day.'];
  let s = '';
  for (let i = 0; i < lines; i++) s += `${words[i % words.length]}${i % 3 ? '' : ` ${words[(i * 7 + 3) % words.length].slice(0, 2)}`}\n`;
  return s;
}

const TRANSFORMER = ['--model', 'transformer', '--hidden', '16', '--layers', '2', '--heads', '2', '--context', String(CONTEXT)];
const lmFlags = (model: string[], extra: string[] = [], batch = 4): string[] => [
  ...model, '--batch-size', String(batch), '--eval-every', '10', '--sample-length', '0', ...extra,
];

for (const extra of [[], ['--tie-embeddings']]) {
  test(`transformer${extra.length ? ` ${extra.join(' ')}` : ''}: a checkpoint in PyTorch gives recurrent's logits`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, smallCorpus(150));
    const r = runCli(['train', '--data', data, ...lmFlags(TRANSFORMER, extra), '--steps', '10', '--out', join(dir, 'lm')]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`worst difference ${assertSameOutputs(join(dir, 'lm'), 'transformer checkpoint').toExponential(2)} of the largest magnitude`);
  });
}

for (const { name, model, extra, batch, unit } of [
  { name: 'transformer', model: TRANSFORMER, extra: [] as string[], batch: 4, unit: 'windows' },
  { name: 'transformer', model: TRANSFORMER, extra: ['--tie-embeddings', '--ema', '0.9', '--lr-schedule', 'cosine', '--warmup', '2'], batch: 5, unit: 'windows' },
  { name: 'transformer', model: TRANSFORMER, extra: ['--per-line'], batch: 5, unit: 'lines' },
  { name: 'gru', model: ['--model', 'gru', '--hidden', '16', '--layers', '2'], extra: ['--per-line'], batch: 5, unit: 'lines' },
]) {
  test(`${name}${extra.length ? ` ${extra.join(' ')}` : ''}, ${batch} ${unit}: two DDP processes continue it, and recurrent reads, samples, evaluates and resumes the result`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, unit === 'lines' ? lineCorpus() : smallCorpus(150));
    const flags = lmFlags(model, extra, batch);
    const split = `${batch >> 1}${batch % 2 ? ` or ${(batch + 1) >> 1}` : ''} of ${batch} ${unit} each`;
    const { start, own, ddp, log } = continueBothWays(dir, ['train'], data, flags, 20, 30); // recurrent's own continuation and DDP's, 20 to 30
    assert.match(log, new RegExp(`from step 20 to 30 on 2 processes \\(${split}\\)`));
    const back = assertSameOutputs(ddp, 'after DDP');
    // The same windows from the same generator: the weights are recurrent's continuation's but for rounding.
    const { worst, keyBias } = weightDifferences(ddp, own);
    assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
    // The key biases that differ change no output: recurrent reads the two checkpoints the same.
    const same = relativeError(ownForward(ddp), ownForward(own));
    assert.ok(same <= 1e-5, `the DDP run's logits and recurrent's continuation's differ by ${same.toExponential(2)}`);
    t.diagnostic(`back in recurrent: outputs within ${back.toExponential(2)} of PyTorch's and ${same.toExponential(2)} of recurrent's own 10 steps; ` +
      `weights within ${worst.toExponential(2)}${keyBias > 0 ? ` (the key biases ${keyBias.toExponential(2)} apart)` : ''}`);

    const m = metrics(ddp);
    const ownM = metrics(own);
    assert.deepEqual(m.map((x) => x.step), [10, 20, 30]);
    assert.deepEqual(Object.keys(m[2]), Object.keys(ownM[2]), 'the same metrics record');
    assert.equal(m[2].tokens, ownM[2].tokens);
    assert.ok(Math.abs(m[2].valLoss - ownM[2].valLoss) < 1e-5 * ownM[2].valLoss, `val loss ${m[2].valLoss} against ${ownM[2].valLoss}`);

    const s = runCli(['sample', '--checkpoint', ddp, '--length', '40', '--seed', '3']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.trim().length >= 30);
    const e = runCli(['eval', '--checkpoint', ddp, '--data', data]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.step, 30);
    assert.ok(Math.abs(ev.valLoss - m[2].valLoss) < 1e-5 * ev.valLoss, `recurrent eval ${ev.valLoss}, PyTorch's validation ${m[2].valLoss}`);
    const resumed = runCli(['train', '--data', data, ...flags, '--steps', '40', '--out', ddp, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = metrics(ddp);
    assert.deepEqual(after.map((x) => x.step), [10, 20, 30, 40]);
    if (unit === 'windows') assert.equal(after[3].tokens, 40 * CONTEXT * batch);
    assert.ok(after[3].valLoss < after[1].valLoss, `training goes on: val loss ${after[1].valLoss} at 20, ${after[3].valLoss} at 40`);
  });
}
