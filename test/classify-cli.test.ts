// End-to-end tests of `recurrent classify`: train → eval → predict on small generated tasks (does a digit
// string contain a 7; which sentiment word a line has, for the bag of words), exact resume, Ctrl-C,
// --max-length and --backend, and a one-line error for each kind of bad input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/random/rng.js';
import { assertOneLineError, runCli, runUntilInterrupted, tempDir } from './util/cli.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'recurrent.js');

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
  assert.deepEqual(Object.keys(m[0]), ['step', 'tokens', 'trainLoss', 'valLoss', 'valAccuracy', 'lr', 'tokensPerSec', 'elapsedSec']);
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

test('classify train --ema: validation scores the average and the raw weights, the model file is the average, exact --resume', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  writeFileSync(data, digitLines(200, 8));
  const common = ['classify', 'train', '--data', data, ...tiny, '--ema', '0.9', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const r = runCli([...common, '--steps', '20', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\(raw weights: val loss \d+\.\d+, accuracy \d\.\d+\)/);
  const m = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(m[1]), ['step', 'tokens', 'trainLoss', 'valLoss', 'valAccuracy', 'raw', 'lr', 'tokensPerSec', 'elapsedSec']);
  assert.deepEqual(Object.keys(m[1].raw), ['valLoss', 'valAccuracy']);
  assert.notEqual(m[1].raw.valLoss, m[1].valLoss, 'the average is not the raw weights');
  const model = decodeSafetensors(readFileSync(join(a, 'model.safetensors'))).tensors;
  const training = decodeSafetensors(readFileSync(join(a, 'training.safetensors'))).tensors;
  const name = 'rnn.weight_hh_l0';
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

/** `pos<TAB>words` or `neg<TAB>words`: one sentiment word (first when `first`) among 3-7 neutral words. */
function wordLines(n: number, seed: number, first = false): string {
  const rng = new Rng(seed);
  const pos = ['great', 'superb'];
  const neg = ['awful', 'dull'];
  const neutral = ['the', 'film', 'plot', 'was', 'and', 'music', 'cast', 'quite', 'very', 'it'];
  let s = '';
  for (let i = 0; i < n; i++) {
    const words = Array.from({ length: 3 + rng.int(5) }, () => neutral[rng.int(neutral.length)]);
    const w = i % 2 === 0 ? pos[rng.int(2)] : neg[rng.int(2)];
    words.splice(first ? 0 : rng.int(words.length + 1), 0, i % 3 === 0 ? w.toUpperCase() : w);
    s += `${i % 2 === 0 ? 'pos' : 'neg'}\t${words.join(' ')}\n`;
  }
  return s;
}

const bow = ['--model', 'bow', '--batch-size', '16', '--lr', '5e-2', '--min-docs', '1'];
const modelStep = (dir: string): number => Number(decodeSafetensors(readFileSync(join(dir, 'model.safetensors'))).metadata.step);

test('classify --model bow: train → eval → predict; the checkpoint holds its word table', () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  const held = join(dir, 'test.tsv');
  writeFileSync(data, wordLines(200, 1));
  writeFileSync(held, wordLines(100, 2));
  const out = join(dir, 'run');
  const r = runCli(['classify', 'train', '--data', data, ...bow, '--steps', '60', '--eval-every', '30', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /training bag of words \(14 words, log features\)/);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.format, 'recurrent-bow-classifier/1');
  assert.deepEqual([...config.words].sort(), ['and', 'awful', 'cast', 'dull', 'film', 'great', 'it', 'music', 'plot', 'quite', 'superb', 'the', 'very', 'was']);
  assert.deepEqual(config.model, { vocabSize: 14, numClasses: 2, features: 'log' });
  assert.deepEqual(config.labels, ['neg', 'pos']);
  assert.equal(config.train.maxWords, 20000);
  const m = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((x) => x.step), [30, 60]);
  assert.ok(m[1].valAccuracy >= 0.95, `val accuracy ${m[1].valAccuracy}`);

  const e = runCli(['classify', 'eval', '--checkpoint', out, '--data', held]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(ev.accuracy >= 0.95, `held-out accuracy ${ev.accuracy} (chance 0.5)`);
  assert.ok(ev.perClass.pos.f1 >= 0.95, `pos F1 ${ev.perClass.pos.f1}`);

  // Unknown words are left out; a line of them alone still gets the learned prior, not an error.
  const p = runCli(['classify', 'predict', '--checkpoint', out, '--data', writeTemp(dir, 'p.txt', 'A SUPERB plot!\nthe cast was dull\nzebra\n')]);
  assert.equal(p.code, 0, p.stderr);
  const rows = p.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(rows.slice(0, 2).map((x) => x[0]), ['pos', 'neg']);
  assert.equal(rows.length, 3);

  // --max-words and --min-docs cut the table; --features is recorded.
  const small = join(dir, 'small');
  const s = runCli(['classify', 'train', '--data', data, ...bow, '--max-words', '3', '--features', 'binary', '--steps', '2', '--out', small]);
  assert.equal(s.code, 0, s.stderr);
  const sc = JSON.parse(readFileSync(join(small, 'config.json'), 'utf8'));
  assert.equal(sc.words.length, 3);
  assert.equal(sc.model.features, 'binary');
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--model', 'bow', '--min-docs', '1000', '--out', join(dir, 'none')]), /has no word found in 1000 or more lines \(lower --min-docs\)/);
});

function writeTemp(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('--max-length: training, eval and predict read only the first N characters', () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', digitLines(60, 6));
  const out = join(dir, 'run');
  const r = runCli(['classify', 'train', '--data', data, ...tiny, '--max-length', '3', '--steps', '5', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /texts cut to 3 characters/);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.maxLength, 3);
  // Texts that agree on their first 3 characters get the same answer; "x" past the cut is never read.
  const p = runCli(['classify', 'predict', '--checkpoint', out, '--data', writeTemp(dir, 'p.txt', '123456\n123999\n123x\n')]);
  assert.equal(p.code, 0, p.stderr);
  const rows = p.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  assert.ok(rows[0] === rows[1] && rows[1] === rows[2], p.stdout);
  assert.equal(runCli(['classify', 'eval', '--checkpoint', out, '--data', writeTemp(dir, 'e.tsv', 'seven\t127x\nnone\t12\n')]).code, 0);

  // The bag of words builds its table from the cut texts: only the first words survive ("superb" as "super").
  const bowOut = join(dir, 'bow');
  const b = runCli(['classify', 'train', '--data', writeTemp(dir, 'w.tsv', wordLines(60, 7, true)), ...bow, '--max-length', '5', '--steps', '2', '--out', bowOut]);
  assert.equal(b.code, 0, b.stderr);
  const words: string[] = JSON.parse(readFileSync(join(bowOut, 'config.json'), 'utf8')).words;
  assert.ok(words.length > 0 && words.every((w) => ['great', 'super', 'awful', 'dull'].includes(w)), words.join(' '));
});

test('--backend picks the kernels for train, eval and predict; an unknown one is a usage error', () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', wordLines(40, 8));
  const out = join(dir, 'run');
  const r = runCli(['classify', 'train', '--data', data, ...bow, '--steps', '3', '--backend', 'reference', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(runCli(['classify', 'eval', '--checkpoint', out, '--data', data, '--backend', 'reference']).code, 0);
  assert.equal(runCli(['classify', 'predict', '--checkpoint', out, '--data', writeTemp(dir, 'p.txt', 'great\n'), '--backend', 'reference']).code, 0);
  for (const cmd of [['train', '--data', data], ['eval', '--checkpoint', out, '--data', data], ['predict', '--checkpoint', out]]) {
    assertOneLineError(runCli(['classify', ...cmd, '--backend', 'cuda']), /--backend: .*cuda/, 2);
  }
});

test('Ctrl-C saves a checkpoint at the current step; --resume then ends exactly as an uninterrupted run', async () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', wordLines(100, 9));
  const common = ['classify', 'train', '--data', data, ...bow, '--eval-every', '1000000'];
  const a = join(dir, 'a');
  const { code, stderr } = await runUntilInterrupted([...common, '--steps', '1000000', '--out', a]);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted at step \d+: checkpoint saved in .*; continue with --resume/);
  const step = modelStep(a);
  assert.ok(step >= 1 && step < 1000000, `saved at step ${step}`);
  const r = runCli([...common, '--steps', String(step + 3), '--out', a, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  const b = join(dir, 'b');
  assert.equal(runCli([...common, '--steps', String(step + 3), '--out', b]).code, 0);
  assert.deepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')));
  const last = (d: string): Record<string, number> => JSON.parse(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
  assert.equal(last(a).step, step + 3);
  assert.equal(last(a).trainLoss, last(b).trainLoss);
});

test('classify: each bad new option is a one-line error; checkpoints from before the options still load', () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', wordLines(40, 10));
  const train = (...args: string[]): ReturnType<typeof runCli> => runCli(['classify', 'train', '--data', data, '--steps', '2', '--out', join(dir, `run-${Math.random()}`), ...args]);
  assertOneLineError(train('--model', 'bow', '--hidden', '8'), /--hidden applies to the recurrent models, not --model bow/, 2);
  assertOneLineError(train('--model', 'bow', '--bidirectional'), /--bidirectional applies to the recurrent models, not --model bow/, 2);
  assertOneLineError(train('--model', 'gru', '--max-words', '10'), /--max-words applies to --model bow, not --model gru/, 2);
  assertOneLineError(train('--features', 'binary'), /--features applies to --model bow, not --model lstm/, 2);
  assertOneLineError(train('--model', 'bow', '--max-words', '0'), /--max-words must be a positive integer, got "0"/, 2);
  assertOneLineError(train('--model', 'bow', '--min-docs', 'two'), /--min-docs must be a positive integer, got "two"/, 2);
  assertOneLineError(train('--model', 'bow', '--features', 'tfidf'), /unknown --features "tfidf" \(choose one of: binary, count, log\)/, 2);
  assertOneLineError(train('--model', 'bag'), /unknown --model "bag" \(choose one of: bow, rnn, /, 2);
  assertOneLineError(train('--max-length', '2.5'), /--max-length must be a non-negative integer, got "2.5"/, 2);
  assertOneLineError(train('--weight-decay=-1'), /--weight-decay must be a non-negative number, got "-1"/, 2);
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--time', '0']), /--time must be a positive number of seconds, got "0"/, 2);
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--steps', '5', '--time', '3']), /give --steps or --time, not both/, 2);
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--steps', '5', '--clock', 'cpu']), /--clock applies to --time/, 2);
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--time', '3', '--clock', 'gpu']), /unknown --clock "gpu" \(choose one of: wall, cpu\)/, 2);

  // --time bounds the run by wall time; the last step is validated and saved.
  const timed = join(dir, 'timed');
  const t = runCli(['classify', 'train', '--data', data, ...bow, '--time', '0.5', '--eval-every', '1000000', '--out', timed]);
  assert.equal(t.code, 0, t.stderr);
  const tm = readFileSync(join(timed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(tm.length, 1);
  assert.ok(tm[0].step >= 1 && tm[0].step === modelStep(timed), `stopped at step ${tm[0].step}`);
  assert.equal(JSON.parse(readFileSync(join(timed, 'config.json'), 'utf8')).train.timeSec, 0.5);

  // A bag-of-words checkpoint cannot be resumed as a recurrent model, nor with other bow options.
  const out = join(dir, 'bow');
  assert.equal(runCli(['classify', 'train', '--data', data, ...bow, '--steps', '2', '--out', out]).code, 0);
  assertOneLineError(runCli(['classify', 'train', '--data', data, '--model', 'gru', '--steps', '4', '--out', out, '--resume']), /cannot resume .*: it holds a bow model, this run asks for gru/);
  assertOneLineError(runCli(['classify', 'train', '--data', data, ...bow, '--features', 'count', '--steps', '4', '--out', out, '--resume']), /cannot resume .*features log, this run asks for count/);
  assertOneLineError(runCli(['classify', 'train', '--data', data, ...bow, '--weight-decay', '0.5', '--steps', '4', '--out', out, '--resume']), /cannot resume .*weightDecay 0, this run asks for 0.5/);

  // A character checkpoint written before --max-length and --weight-decay existed: read whole, the optimizer's decay.
  const old = join(dir, 'old');
  const digits = writeTemp(dir, 'digits.tsv', digitLines(40, 11));
  assert.equal(runCli(['classify', 'train', '--data', digits, ...tiny, '--steps', '4', '--eval-every', '2', '--out', old]).code, 0);
  const config = JSON.parse(readFileSync(join(old, 'config.json'), 'utf8'));
  assert.equal(config.train.weightDecay, 0);
  delete config.train.maxLength;
  delete config.train.weightDecay;
  writeFileSync(join(old, 'config.json'), JSON.stringify(config));
  assert.equal(runCli(['classify', 'eval', '--checkpoint', old, '--data', digits]).code, 0);
  const resumed = runCli(['classify', 'train', '--data', digits, ...tiny, '--steps', '6', '--eval-every', '2', '--out', old, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(modelStep(old), 6);
});

/** Rewrites the training metadata of checkpoint `dir` with `edit` (the tensors are kept as they are). */
function editTraining(dir: string, edit: (meta: Record<string, unknown>) => Record<string, unknown>): void {
  const path = join(dir, 'training.safetensors');
  const { tensors, metadata } = decodeSafetensors(readFileSync(path));
  writeFileSync(path, encodeSafetensors(tensors, { ...metadata, training: JSON.stringify(edit(JSON.parse(metadata.training))) }));
}

test('a checkpoint in the old layout (counters at the top level of the training metadata) still resumes exactly', () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', wordLines(60, 12));
  const common = ['classify', 'train', '--data', data, ...bow, '--eval-every', '3'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  assert.equal(runCli([...common, '--steps', '6', '--out', a]).code, 0);
  assert.equal(runCli([...common, '--steps', '3', '--out', b]).code, 0);
  // New checkpoints keep the loop's counters under `counters`; the old layout had them beside step, rng, optimizer.
  let meta: Record<string, unknown> = {};
  editTraining(b, (m) => {
    meta = m;
    const { counters, ...rest } = m as { counters: Record<string, number> };
    return { ...rest, ...counters };
  });
  assert.deepEqual(Object.keys(meta).sort(), ['counters', 'optimizer', 'rng', 'step']);
  assert.deepEqual(Object.keys(meta.counters as object).sort(), ['elapsedSec', 'lossCount', 'lossSum', 'tokens', 'trainSec']);
  const old = JSON.parse(decodeSafetensors(readFileSync(join(b, 'training.safetensors'))).metadata.training);
  assert.deepEqual(Object.keys(old).sort(), ['elapsedSec', 'lossCount', 'lossSum', 'optimizer', 'rng', 'step', 'tokens', 'trainSec']);
  assert.equal(runCli(['classify', 'eval', '--checkpoint', b, '--data', data]).code, 0);
  const r = runCli([...common, '--steps', '6', '--out', b, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')));
  const last = (d: string): Record<string, number> => JSON.parse(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
  assert.equal(last(b).trainLoss, last(a).trainLoss);
  // Saved again, it is in the new layout.
  assert.ok('counters' in JSON.parse(decodeSafetensors(readFileSync(join(b, 'training.safetensors'))).metadata.training));
});

test('classify: a damaged checkpoint is a one-line error naming what is wrong', () => {
  const dir = tempDir();
  const data = writeTemp(dir, 'train.tsv', wordLines(40, 13));
  const common = ['classify', 'train', '--data', data, ...bow, '--eval-every', '3'];
  const out = join(dir, 'run');
  assert.equal(runCli([...common, '--steps', '3', '--out', out]).code, 0);
  const resume = (): ReturnType<typeof runCli> => runCli([...common, '--steps', '4', '--out', out, '--resume']);
  const original = readFileSync(join(out, 'training.safetensors'));
  const restore = (): void => writeFileSync(join(out, 'training.safetensors'), original);

  editTraining(out, (m) => ({ ...m, step: 2 }));
  assertOneLineError(resume(), /run is inconsistent: model\.safetensors is at step 3, training\.safetensors at step 2/);
  restore();
  editTraining(out, (m) => ({ ...m, counters: { lossSum: 0, elapsedSec: 1 } }));
  assertOneLineError(resume(), /training\.safetensors is corrupt: training\.counters\.lossCount is missing/);
  restore();
  editTraining(out, (m) => {
    const { counters, ...rest } = m as { counters: Record<string, number> };
    return { ...rest, ...counters, lossSum: null };
  });
  assertOneLineError(resume(), /training\.safetensors is corrupt: training\.lossSum is null/);
  rmSync(join(out, 'training.safetensors'));
  assertOneLineError(resume(), /run has no training\.safetensors: it cannot be resumed/);
  restore();

  const configPath = join(out, 'config.json');
  const config = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, config.replace('recurrent-bow-classifier/1', 'recurrent-seq2seq/1'));
  assertOneLineError(
    runCli(['classify', 'eval', '--checkpoint', out, '--data', data]),
    /config\.json is not a recurrent classifier checkpoint \(format "recurrent-seq2seq\/1", expected "recurrent-sequence-classifier\/1" or "recurrent-bow-classifier\/1"\)/,
  );
  writeFileSync(configPath, config.replace('"words"', '"wordz"'));
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', out, '--data', data]), /config\.json is not a recurrent classifier checkpoint \(format "recurrent-bow-classifier\/1"\): it lacks/);
  writeFileSync(configPath, '{"format": ');
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', out, '--data', data]), /config\.json is corrupt/);
  writeFileSync(configPath, config);
  assert.equal(resume().code, 0, 'restored, it resumes');
});
