// The Transformer language model's PyTorch round trip (`npm run test:torch`): a `recurrent train --model
// transformer` checkpoint built and loaded in PyTorch (python/recurrent_torch/models.py) gives recurrent's
// logits, two DistributedDataParallel processes continue its training on the windows recurrent's generator
// draws, and recurrent reads the result back — outputs equal to PyTorch's, `sample` and `eval` work, `train
// --resume` continues — and it ends where recurrent's own continuation of the same steps ends.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TransformerLanguageModel } from '../../src/nn/transformer-language-model.js';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { loadCheckpoint } from '../../src/train/train-language-model.js';
import { runCli, smallCorpus, tempDir } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';
import { metrics, python, torchForward, trainDdp, weightDifferences } from './torch-run.js';

const TEXT = 'the cat sat on'; // one window: at most the context
const CONTEXT = 16;

/** recurrent's logits (T, V) over TEXT, from the checkpoint in dir. */
function ownForward(dir: string): Float32Array {
  const { model, vocab } = loadCheckpoint(dir);
  assert.ok(model instanceof TransformerLanguageModel, `${dir} holds a Transformer language model`);
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

const lmFlags = (extra: string[] = [], batch = 4): string[] => [
  '--model', 'transformer', '--hidden', '16', '--layers', '2', '--heads', '2', '--context', String(CONTEXT), '--batch-size', String(batch),
  '--eval-every', '10', '--sample-length', '0', ...extra,
];

for (const extra of [[], ['--tie-embeddings']]) {
  test(`transformer${extra.length ? ` ${extra.join(' ')}` : ''}: a checkpoint in PyTorch gives recurrent's logits`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, smallCorpus(150));
    const r = runCli(['train', '--data', data, ...lmFlags(extra), '--steps', '10', '--out', join(dir, 'lm')]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`worst difference ${assertSameOutputs(join(dir, 'lm'), 'transformer checkpoint').toExponential(2)} of the largest magnitude`);
  });
}

for (const { extra, batch, split } of [
  { extra: [] as string[], batch: 4, split: '2 of 4 windows each' },
  { extra: ['--tie-embeddings', '--ema', '0.9', '--lr-schedule', 'cosine', '--warmup', '2'], batch: 5, split: '2 or 3 of 5 windows each' },
]) {
  test(`transformer${extra.length ? ` ${extra.join(' ')}` : ''}, ${batch} windows: two DDP processes continue it, and recurrent reads, samples, evaluates and resumes the result`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, smallCorpus(150));
    const flags = lmFlags(extra, batch);
    const start = join(dir, 'lm');
    assert.equal(runCli(['train', '--data', data, ...flags, '--steps', '20', '--out', start]).code, 0);

    const own = join(dir, 'own'); // recurrent's own continuation to step 30
    cpSync(start, own, { recursive: true });
    const c = runCli(['train', '--data', data, ...flags, '--steps', '30', '--out', own, '--resume']);
    assert.equal(c.code, 0, c.stderr);

    const ddp = join(dir, 'ddp');
    assert.match(trainDdp(start, data, 30, ddp), new RegExp(`from step 20 to 30 on 2 processes \\(${split}\\)`));
    const back = assertSameOutputs(ddp, 'after DDP');
    // The same windows from the same generator: the weights are recurrent's continuation's but for rounding.
    const { worst, keyBias } = weightDifferences(ddp, own);
    assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
    // The key biases that differ change no output: recurrent reads the two checkpoints the same.
    const same = relativeError(ownForward(ddp), ownForward(own));
    assert.ok(same <= 1e-5, `the DDP run's logits and recurrent's continuation's differ by ${same.toExponential(2)}`);
    t.diagnostic(`back in recurrent: outputs within ${back.toExponential(2)} of PyTorch's and ${same.toExponential(2)} of recurrent's own 10 steps; ` +
      `weights within ${worst.toExponential(2)} (the key biases ${keyBias.toExponential(2)} apart)`);

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
    assert.equal(after[3].tokens, 40 * CONTEXT * batch);
    assert.ok(after[3].valLoss < after[1].valLoss, `training goes on: val loss ${after[1].valLoss} at 20, ${after[3].valLoss} at 40`);
  });
}

test('a language model of one sequence per line (--per-line), which the twin does not batch, is refused in one line', () => {
  const dir = tempDir();
  const data = join(dir, 'text.txt');
  writeFileSync(data, 'cat\ndog\nsea\nmat\npark\n'.repeat(10));
  for (const model of [lmFlags(), ['--model', 'gru', '--hidden', '8', '--sample-length', '0']]) {
    const lm = join(dir, model[1]);
    const r = runCli(['train', '--data', data, ...model, '--per-line', '--steps', '1', '--out', lm]);
    assert.equal(r.code, 0, r.stderr);
    const p = spawnSync('/usr/bin/python3', [join(python, 'train_ddp.py'), '--checkpoint', lm, '--data', data, '--steps', '2'], { encoding: 'utf8' });
    assert.equal(p.status, 1);
    assert.equal(p.stderr, 'recurrent_torch: the checkpoint reads one sequence per line (train --per-line); the PyTorch twin continues the streams and the windows\n');
  }
});
