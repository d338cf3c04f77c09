// End-to-end tests of `recurrent seq2seq`: train → eval → decode on a small generated task (reverse a
// string of letters into space-separated capitals), exact resume, dropout, ensembles and attention output,
// and a one-line error for each kind of bad input. Also the pieces the command is made of: parallel text,
// length-bucketed batches and the sequence metrics.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { lengthBucketedBatches } from '../src/data/length-buckets.js';
import { TokenVocabulary, parseParallelText } from '../src/data/parallel-text.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { editDistance, scoreSequences } from '../src/metrics/sequence-metrics.js';
import { Rng } from '../src/random/rng.js';
import { assertOneLineError, runCli, runUntilInterrupted, tempDir } from './util/cli.js';

/** `dcab<TAB>B A C D`-style lines: the source reversed, upper-cased, one token per letter. */
function reverseLines(n: number, seed: number): string {
  const rng = new Rng(seed);
  let s = '';
  for (let i = 0; i < n; i++) {
    const w = Array.from({ length: 2 + rng.int(4) }, () => 'abcdef'[rng.int(6)]);
    s += `${w.join('')}\t${[...w].reverse().join(' ').toUpperCase()}\n`;
  }
  return s;
}

const tiny = ['--tgt-split', 'space', '--model', 'gru', '--hidden', '24', '--batch-size', '16', '--lr', '1e-2'];

test('seq2seq train → eval → decode learns to reverse, with beam search, an ensemble and attention weights', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  const held = join(dir, 'test.tsv');
  writeFileSync(data, reverseLines(400, 1));
  writeFileSync(held, reverseLines(60, 2));
  const out = join(dir, 'run');
  const r = runCli(['seq2seq', 'train', '--data', data, ...tiny, '--bidirectional', '--steps', '360', '--eval-every', '120', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((x) => x.step), [120, 240, 360]);
  assert.deepEqual(Object.keys(m[0]), [
    'step', 'tokens', 'trainLoss', 'valLoss', 'valTokenAccuracy', 'valSequenceAccuracy', 'valTokenErrorRate',
    'epoch', 'teacherForcing', 'lr', 'tokensPerSec', 'elapsedSec',
  ]);
  assert.ok(m[2].valLoss < m[0].valLoss, `val loss ${m[0].valLoss} → ${m[2].valLoss}`);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.tgtVocab, ['<s>', '</s>', 'A', 'B', 'C', 'D', 'E', 'F']);
  assert.equal(config.model.attention, 'luong-general');
  assert.equal(config.model.dropout, 0, 'no --dropout: 0, stored');

  for (const beam of ['1', '4']) {
    const e = runCli(['seq2seq', 'eval', '--checkpoint', out, '--data', held, '--beam', beam]);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout.trim().split('\n').length, 1);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.beam, Number(beam));
    assert.ok(ev.sequenceAccuracy >= 0.6, `beam ${beam}: held-out sequence accuracy ${ev.sequenceAccuracy}`);
    assert.ok(ev.tokenErrorRate <= 0.2, `beam ${beam}: token error rate ${ev.tokenErrorRate}`);
    assert.ok(Math.abs(ev.sequenceErrorRate - (1 - ev.sequenceAccuracy)) < 1e-12);
    assert.ok(ev.tokenAccuracy > 0.8 && ev.tokenAccuracy <= 1, `teacher-forced token accuracy ${ev.tokenAccuracy}`);
  }

  const sources = join(dir, 'sources.txt');
  writeFileSync(sources, 'abc\nfed\n');
  const d = runCli(['seq2seq', 'decode', '--checkpoint', out, '--data', sources]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^abc\t[A-F]( [A-F])*\nfed\t[A-F]( [A-F])*\n$/);
  // An ensemble of a model with itself averages equal distributions: the same hypotheses. n-best lists carry scores.
  const attOut = join(dir, 'attention.jsonl');
  const nbest = (ck: string, ...more: string[]): string[][] => {
    const n = runCli(['seq2seq', 'decode', '--checkpoint', ck, '--data', sources, '--beam', '3', '--nbest', '2', ...more]);
    assert.equal(n.code, 0, n.stderr);
    return n.stdout.trim().split('\n').map((l) => l.split('\t'));
  };
  const rows = nbest(`${out},${out}`, '--attention-out', attOut);
  assert.deepEqual(rows.map((r) => r.slice(0, 2)), nbest(out).map((r) => r.slice(0, 2)));
  assert.equal(rows.length, 4);
  assert.ok(Number(rows[0][2]) >= Number(rows[1][2]), 'n-best sorted by score');
  const att = readFileSync(attOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(att.length, 4);
  assert.deepEqual(att[0].source, ['a', 'b', 'c']);
  assert.deepEqual(att[0].target, [...rows[0][1].split(' '), '</s>']);
  for (const w of att[0].weights) {
    assert.equal(w.length, 3);
    assert.ok(Math.abs(w.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-3, 'each step attends with weights summing to 1');
  }
  // Reversal: the first output letter attends most to the last source letter.
  assert.equal(att[0].weights[0].indexOf(Math.max(...att[0].weights[0])), 2);
});

test('seq2seq train --resume ends exactly as an uninterrupted run, scheduled sampling included', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, reverseLines(120, 3));
  const common = ['seq2seq', 'train', '--data', data, ...tiny, '--attention', 'bahdanau', '--teacher-forcing', 'linear:1,0.02,0.5', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  assert.equal(runCli([...common, '--steps', '30', '--out', a]).code, 0);
  assert.equal(runCli([...common, '--steps', '10', '--out', b]).code, 0);
  const r = runCli([...common, '--steps', '30', '--out', b, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same weights');
  const losses = (d: string): number[] => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).valLoss);
  assert.deepEqual(losses(b), losses(a));
  const tf = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).teacherForcing);
  assert.deepEqual(tf, [0.8, 0.6, 0.5], 'the linear schedule max(0.5, 1 - 0.02 i)');
  assertOneLineError(runCli([...common, '--steps', '30', '--out', a]), /already holds a checkpoint; pass --resume/);
  assertOneLineError(runCli([...common, '--steps', '40', '--out', a, '--resume', '--batch-size', '8']), /cannot resume .*batchSize 16, this run asks for 8/);
  assertOneLineError(runCli([...common, '--steps', '40', '--out', a, '--resume', '--hidden', '32']), /cannot resume .*its model has hiddenSize 24, this run asks for --hidden 32/);
  assertOneLineError(runCli([...common, '--steps', '40', '--out', a, '--resume', '--label-smoothing', '0.1']), /cannot resume .*labelSmoothing 0, this run asks for 0.1/);
  assertOneLineError(runCli([...common, '--steps', '40', '--out', a, '--resume', '--encoder-hidden', '12']), /cannot resume .*its model has encoderHiddenSize 24, this run asks for --encoder-hidden 12/);
  // --encoder-hidden and --label-smoothing reach the model and the checkpoint: a narrower encoder than decoder.
  const c = join(dir, 'c');
  const narrow = runCli([...common, '--steps', '2', '--encoder-hidden', '12', '--label-smoothing', '0.1', '--out', c]);
  assert.equal(narrow.code, 0, narrow.stderr);
  assert.match(narrow.stdout, /gru 1×24 \(encoder 1×12\)/);
  const saved = JSON.parse(readFileSync(join(c, 'config.json'), 'utf8'));
  assert.equal(saved.model.encoderHiddenSize, 12);
  assert.equal(saved.train.labelSmoothing, 0.1);
  assertOneLineError(runCli([...common.map((x) => (x === 'bahdanau' ? 'luong-dot' : x)), '--steps', '40', '--out', a, '--resume']), /its model has attention bahdanau, this run asks for --attention luong-dot/);
});

test('seq2seq train --ema: validation scores the average and the raw weights, the model file is the average, exact --resume', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, reverseLines(120, 5));
  const common = ['seq2seq', 'train', '--data', data, ...tiny, '--ema', '0.9', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const r = runCli([...common, '--steps', '20', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\(raw weights: val loss \d+\.\d+, \d+\.\d% sequence errors\)/);
  const m = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(m[1].raw), ['valLoss', 'valTokenAccuracy', 'valSequenceAccuracy', 'valTokenErrorRate']);
  assert.notEqual(m[1].raw.valLoss, m[1].valLoss, 'the average is not the raw weights');
  const model = decodeSafetensors(readFileSync(join(a, 'model.safetensors'))).tensors;
  const training = decodeSafetensors(readFileSync(join(a, 'training.safetensors'))).tensors;
  const name = 'decoder.weight_hh_l0';
  assert.notDeepEqual([...(model.get(name)!.data as Float32Array)], [...(training.get(`raw.${name}`)!.data as Float32Array)]);
  assert.equal(JSON.parse(readFileSync(join(a, 'config.json'), 'utf8')).train.ema, 0.9);
  assert.equal(runCli([...common, '--steps', '10', '--out', b]).code, 0);
  assert.equal(runCli([...common, '--steps', '20', '--out', b, '--resume']).code, 0);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same average');
  const rawOf = (d: string): number[] => [...(decodeSafetensors(readFileSync(join(d, 'training.safetensors'))).tensors.get(`raw.${name}`)!.data as Float32Array)];
  assert.deepEqual(rawOf(b), rawOf(a), 'same raw weights');
  const ema = (d: string): string[] => common.map((x) => (x === '0.9' ? d : x));
  assertOneLineError(runCli([...ema('0.99'), '--steps', '30', '--out', a, '--resume']), /cannot resume .*ema 0.9, this run asks for 0.99/);
  assertOneLineError(runCli([...ema('1'), '--steps', '30', '--out', join(dir, 'c')]), /--ema must be a number in \[0, 1\)/);
});

test('seq2seq train --time with --lr-schedule cosine decays over the time budget and stops at its end', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, reverseLines(120, 6));
  const out = join(dir, 'a');
  const r = runCli(['seq2seq', 'train', '--data', data, ...tiny, '--time', '2', '--lr-schedule', 'cosine', '--min-lr', '1e-4', '--eval-every', '1000000', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = m[m.length - 1];
  assert.ok(last.elapsedSec >= 2 && last.elapsedSec < 10, `elapsed ${last.elapsedSec}`);
  assert.ok(last.step > 5, `${last.step} steps`);
  // The last update's rate is the cosine's at the moment it began: within the last fifth of the budget (a step
  // takes well under 0.4 s), so at most 0.5·(1 + cos 0.8π) ≈ 0.095 of the way from --min-lr back to --lr.
  assert.ok(last.lr >= 1e-4 && last.lr < 1e-4 + 0.1 * (1e-2 - 1e-4), `the last update's rate ${last.lr} is near --min-lr`);
  const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(saved.train.schedule, { kind: 'cosine-time', warmupSteps: 0, totalSeconds: 2, minLr: 1e-4 });
});

test('seq2seq train --dropout: stored in the checkpoint, validation and eval without dropout, exact --resume, checked on resume', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  const val = join(dir, 'val.tsv');
  writeFileSync(data, reverseLines(120, 6));
  writeFileSync(val, reverseLines(30, 7));
  const common = ['seq2seq', 'train', '--data', data, '--val', val, ...tiny, '--layers', '2', '--dropout', '0.3', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const r = runCli([...common, '--steps', '20', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /attention luong-general, dropout 0\.3, on 120 pairs/);
  const configPath = join(a, 'config.json');
  assert.equal(JSON.parse(readFileSync(configPath, 'utf8')).model.dropout, 0.3);

  // Validation during training runs in eval mode: at the last step it is exactly what `eval` reports on the same file.
  const metrics = (d: string): Array<Record<string, number>> => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = metrics(a).at(-1)!;
  const e = runCli(['seq2seq', 'eval', '--checkpoint', a, '--data', val]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(Math.abs(ev.loss - last.valLoss) < 1e-5 * last.valLoss, `eval loss ${ev.loss} vs validation loss ${last.valLoss}`);
  assert.equal(ev.tokenAccuracy, last.valTokenAccuracy);
  assert.equal(ev.sequenceAccuracy, last.valSequenceAccuracy);
  assert.equal(ev.tokenErrorRate, last.valTokenErrorRate);

  // The masks come from the run's generator, whose state the checkpoint keeps: resuming changes nothing.
  assert.equal(runCli([...common, '--steps', '10', '--out', b]).code, 0);
  const rb = runCli([...common, '--steps', '20', '--out', b, '--resume']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same weights');
  assert.deepEqual(metrics(b).map((m) => m.valLoss), metrics(a).map((m) => m.valLoss));
  assertOneLineError(runCli([...common, '--steps', '30', '--out', a, '--resume', '--dropout', '0.1']), /cannot resume .*its model has dropout 0.3, this run asks for --dropout 0.1/);
  assertOneLineError(runCli([...common.filter((x) => x !== '--dropout' && x !== '0.3'), '--steps', '30', '--out', a, '--resume', '--dropout', '0']), /its model has dropout 0.3, this run asks for --dropout 0$/m);

  // A checkpoint from before --dropout (no key in its config) loads as dropout 0.
  const old = join(dir, 'old');
  const plain = ['seq2seq', 'train', '--data', data, '--val', val, ...tiny, '--eval-every', '10'];
  assert.equal(runCli([...plain, '--steps', '10', '--out', old]).code, 0);
  const oldConfig = JSON.parse(readFileSync(join(old, 'config.json'), 'utf8'));
  delete oldConfig.model.dropout;
  writeFileSync(join(old, 'config.json'), JSON.stringify(oldConfig));
  assert.equal(runCli(['seq2seq', 'eval', '--checkpoint', old, '--data', val]).code, 0);
  assert.equal(runCli([...plain, '--steps', '12', '--out', old, '--resume', '--dropout', '0']).code, 0);
  assertOneLineError(runCli([...plain, '--steps', '14', '--out', old, '--resume', '--dropout', '0.2']), /its model has dropout 0, this run asks for --dropout 0.2/);

  for (const bad of ['1', '-0.1', 'x', '']) {
    assertOneLineError(runCli([...plain, '--steps', '2', '--out', join(dir, 'bad'), `--dropout=${bad}`]), new RegExp(`--dropout must be a number in \\[0, 1\\), got "${bad}"`), 2);
  }
});

test('seq2seq train: Ctrl-C saves a checkpoint at the current step; --resume then ends exactly as an uninterrupted run', async () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, reverseLines(80, 5));
  const common = ['seq2seq', 'train', '--data', data, ...tiny, '--eval-every', '1000000'];
  const a = join(dir, 'a');
  const { code, stderr } = await runUntilInterrupted([...common, '--steps', '1000000', '--out', a]);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted at step \d+: checkpoint saved in .*; continue with --resume/);
  const step = Number(decodeSafetensors(readFileSync(join(a, 'model.safetensors'))).metadata.step);
  assert.ok(step >= 1 && step < 1000000, `saved at step ${step}`);
  assert.equal(runCli([...common, '--steps', String(step + 3), '--out', a, '--resume']).code, 0);
  const b = join(dir, 'b');
  assert.equal(runCli([...common, '--steps', String(step + 3), '--out', b]).code, 0);
  assert.deepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')));
});

test('seq2seq train --arch transformer: exact --resume with dropout, beam and ensemble decoding (with a recurrent model too), every cross-attention layer and head, the other arch\'s flags refused', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, reverseLines(120, 5));
  const common = ['seq2seq', 'train', '--data', data, '--tgt-split', 'space', '--arch', 'transformer', '--width', '16', '--heads', '2', '--layers', '2', '--ff', '24',
    '--dropout', '0.1', '--norm-first', '--positions', 'learned', '--batch-size', '16', '--lr', '3e-3', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const full = runCli([...common, '--steps', '20', '--out', a]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /seq2seq transformer 2\+2 layers × 16 \(2 heads, feed-forward 24, relu, pre-norm, learned positions up to 12\)/);
  assert.equal(runCli([...common, '--steps', '10', '--out', b]).code, 0);
  const r = runCli([...common, '--steps', '20', '--out', b, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same weights');
  const losses = (d: string): number[] => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).valLoss);
  assert.deepEqual(losses(b), losses(a));
  const config = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
  assert.deepEqual(config.model, {
    arch: 'transformer', srcVocabSize: 6, tgtVocabSize: 8, dModel: 16, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 24, dropout: 0.1,
    activation: 'relu', normFirst: true, positions: 'learned', maxLength: 12, tieEmbeddings: false, bos: 0, eos: 1,
  });
  const names = [...decodeSafetensors(readFileSync(join(a, 'model.safetensors')), 'model').tensors.keys()];
  assert.ok(names.includes('transformer.decoder.layers.1.multihead_attn.in_proj_weight') && names.includes('tgt_positions.weight'), names.join(' '));
  assertOneLineError(runCli([...common, '--steps', '30', '--out', a, '--resume', '--heads', '4']), /cannot resume .*its model has nhead 2, this run asks for --heads 4/);
  assertOneLineError(runCli(['seq2seq', 'train', '--data', data, '--tgt-split', 'space', '--arch', 'recurrent', '--batch-size', '16', '--steps', '30', '--out', a, '--resume']), /its model is the transformer encoder–decoder, this run asks for --arch recurrent/);

  const e = runCli(['seq2seq', 'eval', '--checkpoint', a, '--data', data, '--beam', '2']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).pairs, 120);
  const rec = join(dir, 'rec');
  assert.equal(runCli(['seq2seq', 'train', '--data', data, ...tiny, '--steps', '2', '--out', rec]).code, 0);
  const sources = join(dir, 'sources.txt');
  writeFileSync(sources, 'abc\nfedab\n');
  const attOut = join(dir, 'attention.jsonl');
  for (const ck of [a, `${a},${b}`, `${a},${rec}`]) {
    const d = runCli(['seq2seq', 'decode', '--checkpoint', ck, '--data', sources, '--beam', '3', '--attention-out', attOut]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^abc\t[A-F ]*\nfedab\t[A-F ]*\n$/);
    const att = readFileSync(attOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(att.length, 2);
    const members = ck.split(',').length;
    for (const [i, line] of att.entries()) {
      const steps = line.target.length;
      const S = [3, 5][i];
      assert.equal(line.weights.length, steps);
      assert.equal(line.crossAttention.length, members);
      const layers = line.crossAttention[0];
      assert.deepEqual([layers.length, layers[0].length, layers[0][0].length, layers[0][0][0].length], [2, 2, steps, S], 'layers × heads × steps × source');
      for (const head of layers.flat()) for (const w of head) assert.ok(Math.abs(w.reduce((x: number, y: number) => x + y, 0) - 1) < 2e-3);
      if (members === 1) { // the search's weights: the last layer's heads averaged
        line.weights.forEach((w: number[], t: number) => w.forEach((x, s) => assert.ok(Math.abs(x - (layers[1][0][t][s] + layers[1][1][t][s]) / 2) < 2e-4)));
      }
      if (ck.endsWith(rec)) assert.equal(line.crossAttention[1], null);
    }
  }

  const train = (...more: string[]): ReturnType<typeof runCli> => runCli(['seq2seq', 'train', '--data', data, '--tgt-split', 'space', '--steps', '2', '--out', join(dir, `o${Math.random()}`), ...more]);
  assertOneLineError(train('--arch', 'transformer', '--hidden', '8'), /--hidden applies to --arch recurrent, not --arch transformer/, 2);
  assertOneLineError(train('--arch', 'transformer', '--teacher-forcing', '0.5'), /--teacher-forcing applies to --arch recurrent, not --arch transformer/, 2);
  assertOneLineError(train('--heads', '2'), /--heads applies to --arch transformer, not --arch recurrent/, 2);
  assertOneLineError(train('--arch', 'transformer', '--width', '10', '--heads', '4'), /nhead 4 does not divide the width dModel 10/);
  assertOneLineError(train('--arch', 'transformer', '--max-positions', '4'), /past the Transformer's 4 positions \(--max-positions\)/);
  assertOneLineError(train('--arch', 'rnn'), /unknown --arch "rnn"/, 2);
  const x = runCli(['export', '--format', 'onnx', '--checkpoint', a, '--out', join(dir, 'x.onnx')]); // the graphs' numbers: test/onnx-*.test.ts
  assert.equal(x.code, 0, x.stderr);
  assert.match(x.stdout, /x-encoder\.onnx  encoder graph, [\d.]+ KiB\n.*x-decoder\.onnx  decoder graph/s);
});

test('seq2seq bad input: one line naming the problem', () => {
  const dir = tempDir();
  const good = join(dir, 'good.tsv');
  writeFileSync(good, reverseLines(40, 4));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const train = (data: string, ...more: string[]): ReturnType<typeof runCli> => runCli(['seq2seq', 'train', '--data', data, ...tiny, '--steps', '2', '--out', join(dir, `o${Math.random()}`), ...more]);
  assertOneLineError(train(file('notab.tsv', 'ab\tB A\nabc C B A\n')), /notab\.tsv line 2: expected "source<TAB>target", found 0 tabs/);
  assertOneLineError(train(file('emptytgt.tsv', 'ab\tB A\nabc\t\n')), /emptytgt\.tsv line 2: the target is empty/);
  assertOneLineError(train(file('emptysrc.tsv', 'ab\tB A\n\tC\n')), /emptysrc\.tsv line 2: the source is empty/);
  assertOneLineError(train(file('reserved.tsv', 'ab\tB </s>\nabc\tC B A\n')), /reserved\.tsv line 1: the target token <\/s> is reserved/);
  assertOneLineError(train(good, '--teacher-forcing', 'linear:1,0'), /--teacher-forcing "linear:1,0": expected 3 numbers/, 2);
  assertOneLineError(train(good, '--teacher-forcing', '1.5'), /--teacher-forcing "1.5": .*p must be in \[0, 1\]/, 2);
  assertOneLineError(train(good, '--attention', 'none', '--input-feeding'), /--input-feeding applies to Luong attention/, 2);
  assertOneLineError(train(good, '--attention', 'cosine'), /unknown --attention "cosine"/, 2);

  const out = join(dir, 'model');
  assert.equal(runCli(['seq2seq', 'train', '--data', good, ...tiny, '--steps', '2', '--out', out]).code, 0);
  assertOneLineError(runCli(['seq2seq', 'decode', '--checkpoint', out, '--data', file('unknown.txt', 'abc\nabz\n')]), /unknown\.txt line 2: the token "z" \(position 3\) is not in the model's vocabulary/);
  assertOneLineError(runCli(['seq2seq', 'eval', '--checkpoint', out, '--data', file('unknowntgt.tsv', 'ab\tB A\nab\tB Q\n')]), /unknowntgt\.tsv line 2, target: the token "Q"/);
  const other = join(dir, 'other');
  assert.equal(runCli(['seq2seq', 'train', '--data', file('other.tsv', 'ab\tX\nba\tY\n'), ...tiny, '--steps', '2', '--out', other]).code, 0);
  assertOneLineError(runCli(['seq2seq', 'decode', '--checkpoint', `${out},${other}`, '--data', file('src.txt', 'ab\n')]), /ensemble: .*other has different vocabularies/);
  assertOneLineError(runCli(['seq2seq', 'decode', '--checkpoint', out, '--data', file('src2.txt', 'ab\n'), '--nbest', '3']), /--nbest 3 needs --beam of at least 3/, 2);
  assertOneLineError(runCli(['seq2seq', 'decode', '--checkpoint', out, '--data', file('src2.txt', 'ab\n'), '--length-penalty', '0.5']), /--length-penalty ranks beam-search hypotheses: it needs --beam 2 or more/, 2);
  assertOneLineError(runCli(['seq2seq', 'eval', '--checkpoint', join(dir, 'nowhere'), '--data', good]), /checkpoint directory .*nowhere does not exist/);
});

test('parallel text, token vocabularies, length-bucketed batches and sequence metrics', () => {
  const pairs = parseParallelText('ab\tA B\r\nb\tB\n', 'x.tsv', { src: 'char', tgt: 'space' });
  assert.deepEqual(pairs, [{ src: ['a', 'b'], tgt: ['A', 'B'], line: 1 }, { src: ['b'], tgt: ['B'], line: 2 }]);
  const v = TokenVocabulary.fromSequences(pairs.map((p) => p.tgt), ['<s>', '</s>']);
  assert.deepEqual(v.tokens, ['<s>', '</s>', 'A', 'B']);
  assert.deepEqual(Array.from(v.encode(['B', 'A'], 'w')), [3, 2]);
  assert.throws(() => v.encode(['C'], 'x.tsv line 9, target'), /x\.tsv line 9, target: the token "C" \(position 1\)/);

  const lengths = Array.from({ length: 103 }, (_, i) => (i * 37) % 11);
  const batches = lengthBucketedBatches(lengths, 8, 1, 0, 4);
  assert.deepEqual(batches.flat().sort((a, b) => a - b), lengths.map((_, i) => i), 'every example exactly once');
  assert.ok(batches.every((b) => b.length <= 8));
  assert.deepEqual(lengthBucketedBatches(lengths, 8, 1, 0, 4), batches, 'the same (seed, epoch), the same batches');
  assert.notDeepEqual(lengthBucketedBatches(lengths, 8, 1, 1, 4), batches, 'another epoch, another order');
  const spread = (bs: number[][]): number => bs.reduce((a, b) => a + Math.max(...b.map((i) => lengths[i])) - Math.min(...b.map((i) => lengths[i])), 0);
  assert.ok(spread(batches) < spread(lengthBucketedBatches(lengths, 8, 1, 0, 1)) , 'pooling several batches groups similar lengths');

  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance([], [1, 2]), 2);
  assert.equal(editDistance([1, 2, 3], [1, 2, 3]), 0);
  const s = scoreSequences([['K', 'AE', 'T'], ['D', 'AA', 'G'], ['T', 'AH']], [[['K', 'AE', 'T']], [['D', 'AO', 'G'], ['D', 'AA', 'G']], [['T', 'UW'], ['T', 'OW', 'Z']]]);
  assert.equal(s.sequenceAccuracy, 2 / 3, 'a hypothesis matching any reference is right');
  assert.equal(s.tokenErrorRate, 1 / 8, 'errors against the closest reference: 0 + 0 + 1 over 3 + 3 + 2 tokens');
  assert.throws(() => scoreSequences([['a']], []), /1 hypotheses for 0 sources/);
});
