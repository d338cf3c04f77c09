// End-to-end tests of `recurrent vqa train|eval|answer` on a tiny generated questions dataset: the metrics
// log with accuracy per question type, exact resume, the question-only baseline, and bad input.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli, tempDir } from './util/cli.js';

const tiny = ['--encoder', '4,4,8', '--hidden', '16', '--embedding', '8', '--batch-size', '8'];

test('vqa train → eval → answer, exact --resume, the baseline, bad input', () => {
  const data = join(tempDir(), 'data');
  assert.equal(runCli(['caption', 'data', '--out', data, '--kinds', 'questions', '--train', '32']).code, 0);
  const root = tempDir();
  const a = join(root, 'a');
  const common = ['vqa', 'train', '--data', data, ...tiny, '--eval-every', '3'];
  const r = runCli([...common, '--steps', '6', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  const m = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((x) => x.step), [3, 6]);
  assert.ok(Number.isFinite(m[1].valAccuracy) && Number.isFinite(m[1].valAccuracy_count));
  const b = join(root, 'b');
  assert.equal(runCli([...common, '--steps', '3', '--out', b]).code, 0);
  assert.equal(runCli([...common, '--steps', '6', '--out', b, '--resume']).code, 0);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same weights after a resume');
  const e = runCli(['vqa', 'eval', '--checkpoint', a, '--data', data]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.equal(ev.image, true);
  for (const k of ['loss', 'accuracy', 'accuracy_colour', 'accuracy_count']) assert.ok(Number.isFinite(ev[k]), k);
  const img = join(data, 'questions', 'images', 'test', '000000.png');
  const ans = runCli(['vqa', 'answer', '--checkpoint', a, '--question', 'how many circles are there ?', '--image', img]);
  assert.equal(ans.code, 0, ans.stderr);
  assert.equal(ans.stdout.trim().split('\n').length, 1);
  assertOneLineError(runCli(['vqa', 'answer', '--checkpoint', a, '--question', 'how many hexagons are there ?', '--image', img]), /--question: the token "hexagons" .*not in the model's vocabulary/);
  assertOneLineError(runCli(['vqa', 'answer', '--checkpoint', a, '--question', 'how many circles are there ?']), /needs --image FILE\.png/, 2);

  const q = join(root, 'q');
  const bl = runCli(['vqa', 'train', '--data', data, '--no-image', '--hidden', '16', '--embedding', '8', '--steps', '2', '--out', q]);
  assert.equal(bl.code, 0, bl.stderr);
  assert.match(bl.stdout, /question-only baseline \(no image\)/);
  assert.equal(JSON.parse(runCli(['vqa', 'eval', '--checkpoint', q, '--data', data]).stdout).image, false);
  assertOneLineError(runCli(['vqa', 'answer', '--checkpoint', q, '--question', 'how many circles are there ?', '--image', img]), /question-only baseline, it never sees an image/, 2);
  assertOneLineError(runCli(['vqa', 'train', '--data', data, '--no-image', '--encoder', '4', '--out', join(root, 'x')]), /--encoder applies to a model that sees the image/, 2);
  assertOneLineError(runCli(['vqa', 'eval', '--checkpoint', a, '--data', data, '--split', 'train']), /unknown --split "train"/, 2);
});
