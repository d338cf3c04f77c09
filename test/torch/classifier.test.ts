// The classifier's PyTorch round trip (`npm run test:torch`): a `recurrent classify train` checkpoint built and
// loaded in PyTorch (python/recurrent_torch/) gives recurrent's logits, two DistributedDataParallel processes
// continue its training, and recurrent reads the result back — logits equal to PyTorch's, `classify eval`
// works, `--resume` continues — and it ends where recurrent's own continuation of the same steps ends.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BOW_CLASSIFIER_FORMAT, CHAR_CLASSIFIER_FORMAT, classifierFromConfig, cutText, parseLabeledLines, type ClassifierCheckpointConfig } from '../../src/tasks/classifier.js';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { loadCheckpointDirectory } from '../../src/train/checkpoint-directory.js';
import { runCli, tempDir } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';
import { continueBothWays, metrics, python, torchForward, trainDdp, worstWeightDifference } from './torch-run.js';

/** Three labels told apart by their words, texts of 2 to 7 words (so a batch pads). */
function labelledLines(n: number): string {
  const words: Record<string, string[]> = { pos: ['good', 'great', 'fine', 'nice'], neg: ['bad', 'awful', 'poor', 'sad'], neu: ['the', 'a', 'of', 'and'] };
  const labels = Object.keys(words);
  let s = '';
  for (let i = 0; i < n; i++) {
    const label = labels[(i * 7) % 3];
    const len = 2 + ((i * 5) % 6);
    s += `${label}\t${Array.from({ length: len }, (_, k) => words[label][(i + k * 3) % 4]).join(' ')}\n`;
  }
  return s;
}

/** recurrent's logits (N, C) of every line of `data`, from the checkpoint in dir (one padded batch). */
function ownLogits(dir: string, data: string): Float32Array {
  const clf = loadCheckpointDirectory(dir, [CHAR_CLASSIFIER_FORMAT, BOW_CLASSIFIER_FORMAT], 'recurrent classifier',
    (config: ClassifierCheckpointConfig, configPath) => classifierFromConfig(config, configPath));
  const seqs = parseLabeledLines(readFileSync(data, 'utf8'), data).map((e) => clf.encode(cutText(e.text, clf.config.train.maxLength), data, e.line));
  clf.module.eval();
  const logits = noGrad(() => tidy(() => clf.forward(seqs, seqs.map((_, i) => i)).data.slice()));
  clf.module.dispose();
  return logits;
}

function assertSameLogits(dir: string, data: string, what: string): number {
  const e = relativeError(torchForward(dir, data).get('logits')!, ownLogits(dir, data));
  assert.ok(e <= 1e-5, `${what}: PyTorch and recurrent differ by ${e.toExponential(2)} of the largest magnitude`);
  return e;
}

const flags = (model: string[]): string[] => [...model, '--batch-size', '8', '--eval-every', '5'];
const MODELS: Array<{ name: string; model: string[] }> = [
  { name: 'gru 2 layers bidirectional, pool mean', model: ['--model', 'gru', '--hidden', '8', '--layers', '2', '--bidirectional', '--pool', 'mean'] },
  { name: 'lstm, pool last', model: ['--model', 'lstm', '--hidden', '8'] },
  { name: 'mut1 bidirectional, pool max', model: ['--model', 'mut1', '--hidden', '8', '--bidirectional', '--pool', 'max'] },
  { name: 'gru_cho 2 layers bidirectional, pool last', model: ['--model', 'gru_cho', '--hidden', '8', '--layers', '2', '--bidirectional'] },
  { name: 'bag of words', model: ['--model', 'bow', '--min-docs', '1'] },
];

for (const { name, model } of MODELS) {
  test(`classifier ${name}: a recurrent checkpoint in PyTorch gives recurrent's logits`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'lines.tsv');
    writeFileSync(data, labelledLines(40));
    const r = runCli(['classify', 'train', '--data', data, ...flags(model), '--steps', '5', '--out', join(dir, 'c')]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`worst difference ${assertSameLogits(join(dir, 'c'), data, name).toExponential(2)} of the largest magnitude`);
  });
}

for (const { name, model } of [MODELS[0], MODELS[4]]) {
  test(`classifier ${name}: two DDP processes continue it, and recurrent reads, evaluates and resumes the result`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'lines.tsv');
    writeFileSync(data, labelledLines(60));
    const { own, ddp, log } = continueBothWays(dir, ['classify', 'train'], data, flags(model)); // recurrent's own continuation and DDP's, 10 to 20
    assert.match(log, /from step 10 to 20 on 2 processes \(4 of 8 lines each\)/);
    const back = assertSameLogits(ddp, data, `${name} after DDP`);
    // The same batches (drawn from recurrent's generator): the weights are recurrent's continuation's but for rounding.
    const worst = worstWeightDifference(ddp, own);
    assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
    t.diagnostic(`back in recurrent: logits within ${back.toExponential(2)} of PyTorch's; weights within ${worst.toExponential(2)} of recurrent's own 10 steps`);

    const m = metrics(ddp);
    const ownM = metrics(own);
    assert.deepEqual(m.map((x) => x.step), [5, 10, 15, 20]);
    assert.deepEqual(Object.keys(m[3]), Object.keys(ownM[3]), 'the same metrics record');
    assert.equal(m[3].tokens, ownM[3].tokens);
    assert.ok(Math.abs(m[3].valLoss - ownM[3].valLoss) < 1e-5 * ownM[3].valLoss, `val loss ${m[3].valLoss} against ${ownM[3].valLoss}`);
    assert.equal(m[3].valAccuracy, ownM[3].valAccuracy);

    const e = runCli(['classify', 'eval', '--checkpoint', ddp, '--data', data]);
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(JSON.parse(e.stdout), JSON.parse(runCli(['classify', 'eval', '--checkpoint', own, '--data', data]).stdout));
    const resumed = runCli(['classify', 'train', '--data', data, ...flags(model), '--steps', '30', '--out', ddp, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = metrics(ddp);
    assert.deepEqual(after.map((x) => x.step), [5, 10, 15, 20, 25, 30]);
    assert.ok(after[5].trainLoss < after[1].trainLoss, `training goes on: train loss ${after[1].trainLoss} at 10, ${after[5].trainLoss} at 30`);
  });
}

/** train_ddp.py in one process, killed (os._exit, as kill -9 would) at its first save: before the commit record, or after it. */
function killedAtSave(dir: string, data: string, steps: number, when: 'before the record' | 'after the record'): number | null {
  const script = `
import os, sys
sys.path.insert(0, ${JSON.stringify(python)})
from recurrent_torch import checkpoint, safetensors_io as st
from recurrent_torch.train import main
if sys.argv[1] == 'before the record':
    real_write = st.write_atomic
    st.write_atomic = lambda path, data: os._exit(9) if path.endswith('.checkpoint-commit') else real_write(path, data)
else:
    real_finish = checkpoint.finish_commit  # also what the lock's recovery calls: killed only with a record to finish
    checkpoint.finish_commit = lambda d: os._exit(9) if os.path.exists(os.path.join(d, checkpoint.COMMIT)) else real_finish(d)
main(sys.argv[2:])
`;
  return spawnSync('/usr/bin/python3', ['-c', script, when, '--checkpoint', dir, '--data', data, '--steps', String(steps)], { encoding: 'utf8' }).status;
}

test('classifier: a twin killed while saving leaves the last good checkpoint (before its commit record) or the new one (after), and recurrent goes on', () => {
  const model = MODELS[1].model;
  const dir = tempDir();
  const data = join(dir, 'lines.tsv');
  writeFileSync(data, labelledLines(40));
  const start = join(dir, 'c');
  assert.equal(runCli(['classify', 'train', '--data', data, ...flags(model), '--steps', '10', '--out', start]).code, 0);
  const step = (d: string): number => {
    const m = loadCheckpointDirectory(d, [CHAR_CLASSIFIER_FORMAT], 'recurrent classifier', (config: ClassifierCheckpointConfig, p) => classifierFromConfig(config, p));
    m.module.dispose();
    return m.step;
  };

  const early = join(dir, 'early');
  cpSync(start, early, { recursive: true });
  assert.equal(killedAtSave(early, data, 15, 'before the record'), 9);
  assert.ok(readdirSync(early).some((f) => f.endsWith('.next')), 'the new files were written beside the old');
  assert.equal(step(early), 10);
  assert.equal(worstWeightDifference(early, start), 0, 'the last good checkpoint is untouched');
  const r1 = runCli(['classify', 'train', '--data', data, ...flags(model), '--steps', '15', '--out', early, '--resume']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stderr, /took over the lock of process \d+, which no longer runs/);
  assert.match(r1.stderr, /dropped 1 metrics record written after the checkpoint of step 10/);
  assert.deepEqual(readdirSync(early).filter((f) => f.startsWith('.')), []);
  assert.deepEqual(metrics(early).map((x) => x.step), [5, 10, 15]);

  const late = join(dir, 'late');
  cpSync(start, late, { recursive: true });
  assert.equal(killedAtSave(late, data, 15, 'after the record'), 9);
  assert.equal(step(late), 15, "recurrent's readers read the files the commit record names");
  const r2 = runCli(['classify', 'train', '--data', data, ...flags(model), '--steps', '20', '--out', late, '--resume']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /finished saving the checkpoint an interrupted run had written/);
  assert.deepEqual(metrics(late).map((x) => x.step), [5, 10, 15, 20]);
});

test('classifier: a batch of 2 lines on 3 processes (one left without lines) trains to the end where recurrent\'s own continuation ends', (t) => {
  const dir = tempDir();
  const data = join(dir, 'lines.tsv');
  writeFileSync(data, labelledLines(40));
  const { own, ddp, log } = continueBothWays(dir, ['classify', 'train'], data, [...MODELS[1].model, '--batch-size', '2', '--eval-every', '5'], 10, 20, { nproc: 3 });
  assert.match(log, /from step 10 to 20 on 3 processes \(0 or 1 of 2 lines each\)/);
  const worst = worstWeightDifference(ddp, own);
  assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
  assert.deepEqual(metrics(ddp).map((x) => x.step), [5, 10, 15, 20]);
  t.diagnostic(`weights within ${worst.toExponential(2)} of recurrent's own 10 steps`);
});
