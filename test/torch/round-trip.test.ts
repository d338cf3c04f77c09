// The PyTorch round trip (`npm run test:torch`, not `npm test`: it needs Debian's python3-torch): a
// recurrent checkpoint is built and loaded in PyTorch (python/recurrent_torch/) with equal outputs, two
// DistributedDataParallel processes (torchrun, gloo on CPU) continue its training, and the checkpoint they
// write is read back by recurrent — outputs equal to PyTorch's, `sample` and `eval` work, `train --resume`
// continues — and ends close to where recurrent's own continuation of the same steps ends.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LanguageModel } from '../../src/nn/language-model.js';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { loadCheckpoint } from '../../src/train/train-language-model.js';
import { runCli, smallCorpus, tempDir } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';
import { freePort, metrics, python, torchForward, torchrunArgs, trainDdp, weights } from './torch-run.js';

const TEXT = 'the cat sat on the mat.\na dog';

/** recurrent's logits and final h over TEXT, from the checkpoint in dir. */
function ownForward(dir: string): { logits: Float32Array; h: Float32Array } {
  const { model, vocab } = loadCheckpoint(dir);
  assert.ok(model instanceof LanguageModel, `${dir} holds a recurrent language model`);
  const ids = vocab.encode(TEXT);
  const r = noGrad(() => tidy(() => {
    const o = model.eval().forward(ids, ids.length, 1, null);
    return { logits: o.logits.data.slice(), h: o.state.h.data.slice() };
  }));
  model.dispose();
  return r;
}

function assertSameOutputs(dir: string, what: string): number {
  const a = torchForward(dir, { text: TEXT });
  const b = ownForward(dir);
  const e = Math.max(relativeError(a.get('logits')!, b.logits), relativeError(a.get('h')!, b.h));
  assert.ok(e <= 1e-5, `${what}: PyTorch and recurrent differ by ${e.toExponential(2)} of the largest magnitude`);
  return e;
}

const lmFlags = (cell: string, extra: string[] = []): string[] => [
  '--model', cell, '--hidden', '16', '--layers', '2', '--seq-length', '10', '--batch-size', '4', '--eval-every', '10', '--sample-length', '0', ...extra,
];

for (const cell of ['lstm', 'gru', 'rnn_relu', 'gru_cho', 'mut1', 'mut3']) {
  test(`${cell}: a recurrent checkpoint in PyTorch gives recurrent's outputs`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, smallCorpus(150));
    const r = runCli(['train', '--data', data, ...lmFlags(cell), '--steps', '10', '--out', join(dir, 'lm')]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`worst difference ${assertSameOutputs(join(dir, 'lm'), `${cell} checkpoint`).toExponential(2)} of the largest magnitude`);
  });
}

for (const { cell, extra } of [{ cell: 'lstm', extra: [] as string[] }, { cell: 'gru_cho', extra: ['--ema', '0.9', '--lr-schedule', 'cosine', '--warmup', '2'] }]) {
  test(`${cell}${extra.length ? ` ${extra.join(' ')}` : ''}: two DDP processes continue it, and recurrent reads, samples, evaluates and resumes the result`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'text.txt');
    writeFileSync(data, smallCorpus(150));
    const start = join(dir, 'lm');
    assert.equal(runCli(['train', '--data', data, ...lmFlags(cell, extra), '--steps', '20', '--out', start]).code, 0);

    // recurrent's own continuation to step 30, for comparison.
    const own = join(dir, 'own');
    cpSync(start, own, { recursive: true });
    const c = runCli(['train', '--data', data, ...lmFlags(cell, extra), '--steps', '30', '--out', own, '--resume']);
    assert.equal(c.code, 0, c.stderr);

    // Two processes, two streams each, to step 30, written back into a copy.
    const ddp = join(dir, 'ddp');
    const log = trainDdp(start, data, 30, ddp);
    assert.match(log, /from step 20 to 30 on 2 processes \(2 of 4 streams each\)/);
    const back = assertSameOutputs(ddp, `${cell} after DDP`);

    // The same steps: the DDP run's weights are recurrent's own continuation's but for float rounding.
    const a = weights(ddp);
    const b = weights(own);
    let worst = 0;
    for (const [k, v] of b) worst = Math.max(worst, relativeError(a.get(k)!, v));
    assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
    t.diagnostic(`back in recurrent: outputs within ${back.toExponential(2)} of PyTorch's; weights within ${worst.toExponential(2)} of recurrent's own 10 steps`);

    const m = metrics(ddp);
    assert.deepEqual(m.map((x) => x.step), [10, 20, 30]);
    const ownM = metrics(own);
    assert.deepEqual(Object.keys(m[2]), Object.keys(ownM[2]), 'the same metrics record');
    assert.ok(Math.abs(m[2].valLoss - ownM[2].valLoss) < 1e-4 * ownM[2].valLoss, `val loss ${m[2].valLoss} against ${ownM[2].valLoss}`);

    const s = runCli(['sample', '--checkpoint', ddp, '--length', '40', '--seed', '3']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.trim().length >= 40);
    const e = runCli(['eval', '--checkpoint', ddp, '--data', data]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.step, 30);
    assert.ok(Math.abs(ev.valLoss - m[2].valLoss) < 1e-5 * ev.valLoss, `recurrent eval ${ev.valLoss}, PyTorch's validation ${m[2].valLoss}`);
    const resumed = runCli(['train', '--data', data, ...lmFlags(cell, extra), '--steps', '40', '--out', ddp, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = metrics(ddp);
    assert.deepEqual(after.map((x) => x.step), [10, 20, 30, 40]);
    assert.equal(after[3].tokens, 40 * 10 * 4);
    assert.ok(after[3].valLoss < after[1].valLoss, `training goes on: val loss ${after[1].valLoss} at 20, ${after[3].valLoss} at 40`);
  });
}

test('the same command spans machines: two nodes of one process each (loopback) give the two-process result', () => {
  const dir = tempDir();
  const data = join(dir, 'text.txt');
  writeFileSync(data, smallCorpus(150));
  const start = join(dir, 'lm');
  assert.equal(runCli(['train', '--data', data, ...lmFlags('gru'), '--steps', '10', '--out', start]).code, 0);
  const port = freePort();
  const node = (rank: number, out: string) => ['torchrun', torchrunArgs(['--nnodes', '2', '--node_rank', String(rank), '--nproc_per_node', '1',
    '--master_addr', '127.0.0.1', join(python, 'train_ddp.py'), '--checkpoint', start, '--data', data, '--steps', '20', '--out', out], port)] as const;
  // Both nodes at once: each waits for the other at the rendezvous.
  const both = spawnSync('bash', ['-c', `${node(0, join(dir, 'nodes')).flat().join(' ')} & ${node(1, join(dir, 'unused')).flat().join(' ')}; wait`], { encoding: 'utf8' });
  assert.equal(both.status, 0, both.stderr);
  assert.match(both.stderr, /on 2 processes \(2 of 4 streams each\)/);
  const two = join(dir, 'two');
  trainDdp(start, data, 20, two);
  const a = weights(join(dir, 'nodes'));
  for (const [k, v] of weights(two)) assert.ok(relativeError(a.get(k)!, v) <= 1e-6, `${k}: two nodes and two processes differ`);
});

test('what the PyTorch twin cannot continue is one line naming it', () => {
  const dir = tempDir();
  const data = join(dir, 'text.txt');
  writeFileSync(data, smallCorpus(150));
  assert.equal(runCli(['train', '--data', data, ...lmFlags('gru', ['--optimizer', 'sgd']), '--steps', '2', '--out', join(dir, 'sgd')]).code, 0);
  const r = spawnSync('/usr/bin/python3', [join(python, 'train_ddp.py'), '--checkpoint', join(dir, 'sgd'), '--data', data, '--steps', '4'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'recurrent_torch: the checkpoint was trained with sgd; the PyTorch twin continues adam and adamw runs');
  writeFileSync(join(dir, 'other.txt'), 'another text entirely\n'.repeat(50));
  const d = spawnSync('/usr/bin/python3', [join(python, 'train_ddp.py'), '--checkpoint', join(dir, 'sgd'), '--data', join(dir, 'other.txt'), '--steps', '4'], { encoding: 'utf8' });
  assert.equal(d.status, 1);
  assert.match(d.stderr.trim(), /^recurrent_torch: .*other\.txt is not the text .*sgd was trained on/);
});
