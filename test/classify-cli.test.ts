// End-to-end tests of `recurrent classify`: train → eval → predict on a small generated task (does a digit
// string contain a 7), exact resume, and a one-line error for each kind of bad input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/random/rng.js';
import { runCli, tempDir } from './util/cli.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

/** `seven<TAB>digits` or `none<TAB>digits`, balanced, 3-8 digits. */
function digitLines(n: number, seed: number): string {
  const rng = new Rng(seed);
  let s = '';
  for (let i = 0; i < n; i++) {
    const d = Array.from({ length: 3 + rng.int(6) }, () => { const x = rng.int(9); return x >= 7 ? x + 1 : x; });
    if (i % 2 === 0) d[rng.int(d.length)] = 7;
    s += `${i % 2 === 0 ? 'seven' : 'none'}\t${d.join('')}\n`;
  }
  return s;
}

function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line of error, got:\n${r.stderr}`);
  assert.match(lines[0], /^recurrent: /);
  assert.match(lines[0], pattern);
}

const tiny = ['--model', 'gru', '--hidden', '16', '--batch-size', '16', '--lr', '1e-2'];

test('classify train → eval → predict learns the task far above chance', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  const held = join(dir, 'test.tsv');
  writeFileSync(data, digitLines(300, 1));
  writeFileSync(held, digitLines(100, 2));
  const out = join(dir, 'run');
  const r = runCli(['classify', 'train', '--data', data, ...tiny, '--bidirectional', '--pool', 'mean', '--steps', '120', '--eval-every', '40', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((x) => x.step), [40, 80, 120]);
  assert.deepEqual(Object.keys(m[0]), ['step', 'trainLoss', 'valLoss', 'valAccuracy', 'elapsedSec']);
  assert.ok(m[2].valAccuracy >= 0.9, `val accuracy ${m[2].valAccuracy}`);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.labels, ['none', 'seven']);
  assert.equal(config.model.pool, 'mean');

  const e = runCli(['classify', 'eval', '--checkpoint', out, '--data', held]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stdout.trim().split('\n').length, 1);
  const ev = JSON.parse(e.stdout);
  assert.ok(ev.accuracy >= 0.9, `held-out accuracy ${ev.accuracy} (chance 0.5)`);
  assert.ok(ev.macroF1 >= 0.9, `macro-F1 ${ev.macroF1}`);
  assert.deepEqual(Object.keys(ev.perClass).sort(), ['none', 'seven']);
  for (const c of Object.values(ev.perClass) as Array<Record<string, number>>) assert.deepEqual(Object.keys(c), ['precision', 'recall', 'f1']);

  const texts = join(dir, 'texts.txt');
  writeFileSync(texts, '12372\n555\n7\n');
  const p = runCli(['classify', 'predict', '--checkpoint', out, '--data', texts]);
  assert.equal(p.code, 0, p.stderr);
  const rows = p.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(rows.map((x) => x[0]), ['seven', 'none', 'seven']);
  for (const [, prob] of rows) assert.ok(Number(prob) >= 0.5 && Number(prob) <= 1, prob);
  const s = spawnSync(process.execPath, [main, 'classify', 'predict', '--checkpoint', out], { input: '12372\n555\n7\n', encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout, p.stdout, 'stdin and --data give the same predictions');
});

test('classify train --resume ends exactly as an uninterrupted run', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, digitLines(120, 3));
  const common = ['classify', 'train', '--data', data, ...tiny, '--layers', '2', '--dropout', '0.2', '--eval-every', '10', '--seed', '4'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  assert.equal(runCli([...common, '--steps', '30', '--out', a]).code, 0);
  assert.equal(runCli([...common, '--steps', '20', '--out', b]).code, 0);
  const r = runCli([...common, '--steps', '30', '--out', b, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')));
  const last = (d: string): Record<string, number> => JSON.parse(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
  assert.equal(last(b).valLoss, last(a).valLoss);
  assert.equal(last(b).trainLoss, last(a).trainLoss);

  assertOneLineError(runCli([...common, '--steps', '30', '--out', a]), /already holds a checkpoint; pass --resume/);
  assertOneLineError(runCli([...common, '--steps', '40', '--out', a, '--resume', '--pool', 'max']), /cannot resume .*pool last, this run asks for max/);
});

test('classify: each bad input is a one-line error', () => {
  const dir = tempDir();
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const train = (data: string): ReturnType<typeof runCli> => runCli(['classify', 'train', '--data', data, ...tiny, '--steps', '5', '--out', join(dir, `run-${Math.random()}`)]);
  assertOneLineError(train(file('notab.tsv', 'a\t12\nb\t34\nb 56\n')), /notab\.tsv line 3: expected "label<TAB>text", found no tab/);
  assertOneLineError(train(file('nolabel.tsv', 'a\t12\n\t34\n')), /nolabel\.tsv line 2: the label is empty/);
  assertOneLineError(train(file('notext.tsv', 'a\t12\nb\t\n')), /notext\.tsv line 2: the text is empty/);
  assertOneLineError(train(file('blank.tsv', 'a\t12\n\nb\t3\n')), /blank\.tsv line 2: expected "label<TAB>text"/);
  assertOneLineError(train(file('onelabel.tsv', 'a\t12\na\t34\n')), /single label "a"; classification needs at least 2/);
  assertOneLineError(train(join(dir, 'missing.tsv')), /data file .*missing\.tsv does not exist/);
  assertOneLineError(runCli(['classify', 'train', '--data', 'x', '--pool', 'sum']), /unknown --pool "sum" \(choose one of: last, mean, max\)/, 2);
  assertOneLineError(runCli(['classify', 'train']), /classify train needs --data FILE/, 2);
  assertOneLineError(runCli(['classify', 'fit']), /unknown classify command "fit"/, 2);

  const out = join(dir, 'ok');
  const ok = runCli(['classify', 'train', '--data', file('ok.tsv', digitLines(40, 5)), ...tiny, '--steps', '5', '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', out, '--data', file('label.tsv', 'seven\t17\neight\t8\n')]), /label\.tsv line 2: unknown label "eight" \(the model knows "none", "seven"\)/);
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', out, '--data', file('char.tsv', 'seven\t17\nnone\t1x2\n')]), /char\.tsv line 2: the character "x" \(column 2\) is not in the model's vocabulary/);
  assertOneLineError(runCli(['classify', 'predict', '--checkpoint', out, '--data', file('p.txt', '123\n45a\n')]), /p\.txt line 2: the character "a" \(column 3\)/);
  const s = spawnSync(process.execPath, [main, 'classify', 'predict', '--checkpoint', out], { input: '12\n\n3\n', encoding: 'utf8' });
  assertOneLineError({ code: s.status ?? -1, stderr: s.stderr }, /stdin line 2: the line is empty/);
  assert.equal(s.stdout, '', 'nothing is printed before the error');
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', join(dir, 'nope'), '--data', join(dir, 'ok.tsv')]), /checkpoint directory .*nope does not exist/);
});
