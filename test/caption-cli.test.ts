// End-to-end tests of `recurrent caption train|eval|decode` on a tiny generated scenes dataset: the metrics
// log, eval's scores per split (seen and held-out pairs) with attention correctness, decode's pictures, exact
// resume, Show and Tell, and a one-line error for each kind of bad input; and on the numbers: accuracy by
// number of digits, and a checkpoint read only as the kind it was trained on.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode, encode } from 'fast-png';
import { assertOneLineError, runCli, tempDir } from './util/cli.js';

const tiny = ['--encoder', '4,4,8', '--hidden', '16', '--embedding', '8', '--batch-size', '8', '--eval-images', '4', '--lr', '3e-3'];

function dataset(kinds = 'scenes', train = 32): string {
  const dir = join(tempDir(), 'data');
  const r = runCli(['caption', 'data', '--out', dir, '--kinds', kinds, '--train', String(train)]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

test('caption train → eval → decode: metrics, scores per split with attention correctness, pictures; exact --resume', () => {
  const data = dataset();
  const root = tempDir();
  const a = join(root, 'a');
  const common = ['caption', 'train', '--data', data, ...tiny, '--eval-every', '3'];
  const r = runCli([...common, '--steps', '6', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /captioner soft attention over 64 cells, LSTM 16, CNN \[4, 4, 8\], on 32 images/);
  const m = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((x) => x.step), [3, 6]);
  for (const k of ['valLoss', 'valBleu4', 'valCiderD', 'valExactMatch', 'epoch', 'teacherForcing']) assert.ok(Number.isFinite(m[1][k]), `${k} logged`);

  const b = join(root, 'b');
  assert.equal(runCli([...common, '--steps', '3', '--out', b]).code, 0);
  const resumed = runCli([...common, '--steps', '6', '--out', b, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same weights after a resume');
  assertOneLineError(runCli([...common, '--steps', '9', '--out', a, '--resume', '--hidden', '32']), /cannot resume .*its model has hiddenSize 16, this run asks for --hidden 32/);
  assertOneLineError(runCli([...common, '--steps', '9', '--out', a, '--resume', '--penalty', '0.5']), /cannot resume .*penalty 0, this run asks for 0.5/);

  const e = runCli(['caption', 'eval', '--checkpoint', a, '--data', data, '--images', '3']);
  assert.equal(e.code, 0, e.stderr);
  const lines = e.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.split), ['test', 'test-novel']);
  for (const l of lines) {
    assert.equal(l.images, 3);
    for (const k of ['loss', 'bleu4', 'ciderD', 'exactMatch']) assert.ok(Number.isFinite(l[k]), `${l.split} ${k}`);
    if (l.attendedWords > 0) {
      assert.ok(l.attentionCorrectness >= 0 && l.attentionCorrectness <= 1, `${l.split} correctness ${l.attentionCorrectness}`);
      assert.ok(l.uniformAttention > 0 && l.uniformAttention < 0.2, `${l.split} uniform ${l.uniformAttention}: an object's share of the image`);
    }
  }

  const pics = join(root, 'pics');
  const d = runCli(['caption', 'decode', '--checkpoint', a, '--data', data, '--images', '2', '--out', pics]);
  assert.equal(d.code, 0, d.stderr);
  const rows = readFileSync(join(pics, 'captions.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  assert.equal(rows.length, 2);
  for (const [file, caption] of rows) {
    const png = decode(readFileSync(join(pics, file)));
    const words = caption === '' ? 0 : caption.split(' ').length;
    // The image, then a panel per word (eos included, unless cut at --max-length): 128 pixels each, 4 between.
    const panels = (png.width + 4) / 132;
    assert.ok(panels === words + 2 || panels === words + 1, `${file}: ${png.width} pixels wide for "${caption}"`);
    assert.equal(png.height, 128);
  }
  const one = runCli(['caption', 'decode', '--checkpoint', a, '--image', join(data, 'scenes', 'images', 'test-novel', '000000.png'), '--out', join(root, 'one')]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /000\.png: /);
});

test('caption train --attention none (Show and Tell) and bad input: one line naming the problem', () => {
  const data = dataset();
  const root = tempDir();
  const none = join(root, 'none');
  const r = runCli(['caption', 'train', '--data', data, ...tiny, '--attention', 'none', '--steps', '2', '--out', none]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /without attention \(Show and Tell\)/);
  const e = runCli(['caption', 'eval', '--checkpoint', none, '--data', data, '--images', '2', '--splits', 'test']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).attentionCorrectness, null, 'no attention, no correctness');

  const train = (...more: string[]): ReturnType<typeof runCli> => runCli(['caption', 'train', '--data', data, ...tiny, '--steps', '1', '--out', join(root, `o${Math.random()}`), ...more]);
  assertOneLineError(train('--attention', 'none', '--penalty', '1'), /--penalty applies to --attention soft, not none/, 2);
  assertOneLineError(train('--attention', 'hard'), /unknown --attention "hard"/, 2);
  assertOneLineError(train('--encoder', '4,x'), /--encoder "4,x": expected positive channel counts/, 2);
  assertOneLineError(train('--encoder', '4,4,4,4,4,4,4'), /images of 64×64 are smaller than the 128×128/);
  assertOneLineError(runCli(['caption', 'train', '--data', root, '--steps', '1']), /scenes\/train\.jsonl does not exist/);
  // A reference word the model never saw, an image of the wrong size, another task's checkpoint.
  const test = join(data, 'scenes', 'test.jsonl');
  writeFileSync(test, readFileSync(test, 'utf8').replace('"words":["a"', '"words":["an"'));
  assertOneLineError(runCli(['caption', 'eval', '--checkpoint', none, '--data', data, '--splits', 'test']), /test\.jsonl image \d+ caption \d+: the token "an" .*not in the model's vocabulary/);
  const small = join(root, 'small.png');
  writeFileSync(small, encode({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3), channels: 3, depth: 8 }));
  assertOneLineError(runCli(['caption', 'decode', '--checkpoint', none, '--image', small, '--out', join(root, 'x')]), /small\.png is 32×32, expected 64×64/);
  const other = join(root, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'config.json'), JSON.stringify({ format: 'recurrent-seq2seq/1' }));
  assertOneLineError(runCli(['caption', 'decode', '--checkpoint', other, '--image', small, '--out', join(root, 'y')]), /config\.json is not a recurrent captioner checkpoint \(format "recurrent-seq2seq\/1", expected "recurrent-captioner\/1"\)/);
});

test('caption train|eval|decode --kind numbers: accuracy by number of digits; the checkpoint read as numbers only', () => {
  const data = dataset('numbers,scenes', 64);
  const root = tempDir();
  const a = join(root, 'a');
  const r = runCli(['caption', 'train', '--data', data, '--kind', 'numbers', ...tiny, '--steps', '4', '--eval-every', '4', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /on 64 images of \S*numbers\/train\.jsonl/);

  // No --kind: the checkpoint's; no --splits: the numbers' test split only (no test-novel).
  const e = runCli(['caption', 'eval', '--checkpoint', a, '--data', data]);
  assert.equal(e.code, 0, e.stderr);
  const lines = e.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.split), ['test']);
  const l = lines[0];
  assert.equal(l.images, 8);
  assert.equal(l.sequenceAccuracy, l.exactMatch, 'one caption per number: the exact match');
  const counts = Object.values(l.imagesByDigits as Record<string, number>);
  assert.equal(counts.reduce((x, y) => x + y, 0), 8, 'every image counted once');
  assert.deepEqual(Object.keys(l.accuracyByDigits), Object.keys(l.imagesByDigits));
  for (const [n, acc] of Object.entries(l.accuracyByDigits as Record<string, number>)) {
    assert.ok(['1', '2', '3', '4', '5'].includes(n) && acc >= 0 && acc <= 1, `${n} digits: ${acc}`);
  }
  if (l.attendedWords > 0) assert.ok(l.uniformAttention > 0 && l.uniformAttention < 0.1, `uniform ${l.uniformAttention}: a digit's share of the image`);

  const pics = join(root, 'pics');
  const d = runCli(['caption', 'decode', '--checkpoint', a, '--data', data, '--kind', 'numbers', '--images', '2', '--out', pics]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(readFileSync(join(pics, 'captions.tsv'), 'utf8').trim().split('\n').length, 2);

  assertOneLineError(runCli(['caption', 'eval', '--checkpoint', a, '--data', data, '--kind', 'scenes']), /a was trained on numbers, not --kind scenes/, 1);
  assertOneLineError(runCli(['caption', 'decode', '--checkpoint', a, '--data', data, '--kind', 'scenes', '--out', join(root, 'x')]), /trained on numbers, not --kind scenes/, 1);
  assertOneLineError(runCli(['caption', 'eval', '--checkpoint', a, '--data', data, '--splits', 'test-novel']), /unknown split "test-novel" in --splits \(numbers: train, val, test\)/, 2);
  assertOneLineError(runCli(['caption', 'eval', '--checkpoint', a, '--data', data, '--kind', 'questions']), /unknown --kind "questions" \(choose one of: scenes, numbers\)/, 2);
  assertOneLineError(runCli(['caption', 'train', '--data', data, '--kind', 'digits', '--steps', '1', '--out', join(root, 'y')]), /unknown --kind "digits"/, 2);
  const scenes = join(root, 'scenes');
  assert.equal(runCli(['caption', 'train', '--data', data, ...tiny, '--steps', '1', '--out', scenes]).code, 0);
  assertOneLineError(runCli(['caption', 'train', '--data', data, ...tiny, '--steps', '2', '--out', scenes, '--resume', '--kind', 'numbers']), /cannot resume .*kind scenes, this run asks for numbers/);
  assertOneLineError(runCli(['caption', 'eval', '--checkpoint', `${a},${scenes}`, '--data', data]), /ensemble: \S*scenes was trained on scenes, \S*a on numbers/);
  // --resume without --kind goes on with the checkpoint's kind.
  const resumed = runCli(['caption', 'train', '--data', data, ...tiny, '--steps', '6', '--eval-every', '6', '--out', a, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /numbers\/train\.jsonl/);
});
