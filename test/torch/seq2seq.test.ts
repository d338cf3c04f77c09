// The encoder–decoders' PyTorch round trip (`npm run test:torch`): a `recurrent seq2seq train` checkpoint (the
// recurrent encoder–decoder, or --arch transformer) built and loaded in PyTorch (python/recurrent_torch/seq2seq.py)
// gives recurrent's teacher-forced logits and loss, two DistributedDataParallel processes continue its training,
// and recurrent reads the result back — outputs equal to PyTorch's, `seq2seq eval` and `decode` work, `--resume`
// continues — and it ends where recurrent's own continuation of the same steps ends.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseParallelText } from '../../src/data/parallel-text.js';
import { SEQ2SEQ_FORMAT, encodePairs, seq2seqModelFromConfig, type Seq2SeqCheckpointConfig } from '../../src/tasks/seq2seq.js';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { loadCheckpointDirectory } from '../../src/train/checkpoint-directory.js';
import { runCli, tempDir } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';
import { continueBothWays, metrics, torchForward, weightDifferences } from './torch-run.js';

/** Reversal and upper-casing of short words: pairs whose lengths vary (so batches pad), a few sources twice. */
function pairs(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const len = 2 + ((i * 5) % 5);
    const w = Array.from({ length: len }, (_, k) => 'abcde'[(i * 3 + k * k + (i >> 2)) % 5]).join('');
    s += `${w}\t${[...w].reverse().join('').toUpperCase()}\n`;
  }
  return s;
}

/** recurrent's teacher-forced logits (T, N, V) and mean loss over every pair of `data`, from the checkpoint in dir. */
function ownForward(dir: string, data: string): { logits: Float32Array; loss: number } {
  const m = loadCheckpointDirectory(dir, [SEQ2SEQ_FORMAT], 'recurrent seq2seq',
    (config: Seq2SeqCheckpointConfig, configPath) => seq2seqModelFromConfig(config, configPath));
  const ps = parseParallelText(readFileSync(data, 'utf8'), data, { src: m.config.train.srcSplit, tgt: m.config.train.tgtSplit });
  const batch = encodePairs(ps, m.src, m.tgt, data);
  m.model.eval();
  const r = noGrad(() => tidy(() => {
    const out = m.model.forward(batch);
    return { logits: out.logits.data.slice(), loss: out.loss.item() };
  }));
  m.model.dispose();
  return r;
}

function assertSameOutputs(dir: string, data: string, what: string): number {
  const a = torchForward(dir, data);
  const b = ownForward(dir, data);
  const e = Math.max(relativeError(a.get('logits')!, b.logits), relativeError(a.get('loss')!, [b.loss]));
  assert.ok(e <= 1e-5, `${what}: PyTorch and recurrent differ by ${e.toExponential(2)} of the largest magnitude`);
  return e;
}

const flags = (model: string[]): string[] => [...model, '--batch-size', '8', '--eval-every', '5'];
const MODELS: Array<{ name: string; model: string[] }> = [
  { name: 'lstm, luong-general (the default)', model: ['--model', 'lstm', '--hidden', '8'] },
  { name: 'gru bidirectional, bahdanau', model: ['--model', 'gru', '--hidden', '8', '--bidirectional', '--attention', 'bahdanau', '--attention-size', '6'] },
  { name: 'lstm 2 layers bidirectional, luong-dot with input feeding', model: ['--model', 'lstm', '--hidden', '8', '--encoder-hidden', '4', '--layers', '2', '--bidirectional', '--attention', 'luong-dot', '--input-feeding'] },
  { name: 'mut3, encoder 6 wide, no attention', model: ['--model', 'mut3', '--hidden', '8', '--encoder-hidden', '6', '--embedding', '5', '--attention', 'none'] },
  { name: 'transformer post-norm relu, sinusoidal', model: ['--arch', 'transformer', '--width', '8', '--heads', '2', '--layers', '2', '--ff', '12'] },
  {
    name: 'transformer pre-norm gelu, learned positions, tied',
    model: ['--arch', 'transformer', '--width', '8', '--heads', '2', '--layers', '1', '--ff', '8', '--norm-first', '--activation', 'gelu', '--positions', 'learned', '--tie-embeddings'],
  },
];

for (const { name, model } of MODELS) {
  test(`seq2seq ${name}: a recurrent checkpoint in PyTorch gives recurrent's teacher-forced logits and loss`, (t) => {
    const dir = tempDir();
    const data = join(dir, 'pairs.tsv');
    writeFileSync(data, pairs(40));
    const r = runCli(['seq2seq', 'train', '--data', data, ...flags(model), '--steps', '5', '--out', join(dir, 's')]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`worst difference ${assertSameOutputs(join(dir, 's'), data, name).toExponential(2)} of the largest magnitude`);
  });
}

for (const { name, model: asked } of [MODELS[1], MODELS[4]]) {
  test(`seq2seq ${name}, label smoothing: two DDP processes continue it, and recurrent reads, evaluates, decodes and resumes the result`, (t) => {
    const model = [...asked, '--label-smoothing', '0.1'];
    const dir = tempDir();
    const data = join(dir, 'pairs.tsv');
    writeFileSync(data, pairs(60));
    const { own, ddp, log } = continueBothWays(dir, ['seq2seq', 'train'], data, flags(model)); // recurrent's own continuation and DDP's, 10 to 20
    assert.match(log, /from step 10 to 20 on 2 processes \(4 of 8 pairs each\)/);
    const back = assertSameOutputs(ddp, data, 'after DDP');
    // The same length-bucketed batches: the weights are recurrent's continuation's but for rounding.
    const { worst, keyBias } = weightDifferences(ddp, own);
    assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
    // The key biases that differ change no output: recurrent reads the two checkpoints the same.
    const same = relativeError(ownForward(ddp, data).logits, ownForward(own, data).logits);
    assert.ok(same <= 1e-5, `the DDP run's logits and recurrent's continuation's differ by ${same.toExponential(2)}`);
    t.diagnostic(`back in recurrent: outputs within ${back.toExponential(2)} of PyTorch's and ${same.toExponential(2)} of recurrent's own 10 steps; ` +
      `weights within ${worst.toExponential(2)}${keyBias > 0 ? ` (the key biases ${keyBias.toExponential(2)} apart)` : ''}`);

    const m = metrics(ddp);
    const ownM = metrics(own);
    assert.deepEqual(m.map((x) => x.step), [5, 10, 15, 20]);
    assert.deepEqual(Object.keys(m[3]), Object.keys(ownM[3]), 'the same metrics record');
    for (const k of ['tokens', 'epoch', 'valTokenAccuracy', 'valSequenceAccuracy', 'valTokenErrorRate']) assert.equal(m[3][k], ownM[3][k], k);
    assert.ok(Math.abs(m[3].valLoss - ownM[3].valLoss) < 1e-5 * ownM[3].valLoss, `val loss ${m[3].valLoss} against ${ownM[3].valLoss}`);

    const e = runCli(['seq2seq', 'eval', '--checkpoint', ddp, '--data', data]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.step, 20);
    assert.equal(ev.pairs, 60);
    const srcs = join(dir, 'sources.txt');
    writeFileSync(srcs, 'abc\nedcba\n');
    const d = runCli(['seq2seq', 'decode', '--checkpoint', ddp, '--data', srcs]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout.trim().split('\n').length, 2);
    const resumed = runCli(['seq2seq', 'train', '--data', data, ...flags(model), '--steps', '30', '--out', ddp, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = metrics(ddp);
    assert.deepEqual(after.map((x) => x.step), [5, 10, 15, 20, 25, 30]);
    assert.ok(after[5].trainLoss < after[1].trainLoss, `training goes on: train loss ${after[1].trainLoss} at 10, ${after[5].trainLoss} at 30`);
  });
}

test('seq2seq: a process left without pairs (the last batch of an epoch, 1 pair, on 3 processes) still joins the all-reduce, and the run ends where recurrent\'s own does', (t) => {
  const dir = tempDir();
  const data = join(dir, 'pairs.tsv');
  const val = join(dir, 'val.tsv');
  writeFileSync(data, pairs(57)); // with --val every pair trains: 7 batches of 8 and one of 1 an epoch
  writeFileSync(val, pairs(8));
  const f = [...flags(MODELS[0].model), '--val', val];
  const { own, ddp, log } = continueBothWays(dir, ['seq2seq', 'train'], data, f, 5, 25, { nproc: 3, extra: ['--val', val] }); // steps 6 to 25: all of epoch 1
  assert.match(log, /from step 5 to 25 on 3 processes/);
  const worst = weightDifferences(ddp, own).worst;
  assert.ok(worst <= 1e-5, `DDP and recurrent's continuation differ by ${worst.toExponential(2)} of a tensor's largest magnitude`);
  assert.deepEqual(metrics(ddp).map((x) => x.step), [5, 10, 15, 20, 25]);
  assert.equal(metrics(ddp)[4].epoch, metrics(own)[4].epoch);
  t.diagnostic(`weights within ${worst.toExponential(2)} of recurrent's own 20 steps`);
});
