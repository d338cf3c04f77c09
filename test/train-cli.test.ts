// End-to-end tests of the `recurrent` command: learning to a target loss, exact resume, and a clear
// one-line error (never a stack trace, never a damaged checkpoint) for each kind of bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { assertOneLineError, runCli, runUntilInterrupted, smallCorpus, tempDir } from './util/cli.js';

const tiny = ['--model', 'lstm', '--hidden', '24', '--layers', '1', '--batch-size', '4', '--seq-length', '16', '--sample-length', '40'];

function metrics(dir: string): Array<Record<string, number>> {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('train learns a small text to a target loss, then sample and eval work', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  const r = runCli(['train', '--data', data, ...tiny, '--steps', '300', '--eval-every', '100', '--lr', '1e-2', '--out', out, '--seed', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--- sample ---/);
  const m = metrics(out);
  assert.deepEqual(m.map((x) => x.step), [100, 200, 300]);
  for (const k of ['step', 'tokens', 'trainLoss', 'valLoss', 'tokensPerSec', 'elapsedSec']) assert.ok(k in m[0], k);
  const last = m[m.length - 1];
  assert.equal(last.tokens, 300 * 4 * 16);
  // The text has ~20 distinct characters (ln 20 = 3.0 nats); a model that learned the words is far below.
  assert.ok(last.valLoss < 1.0, `val loss ${last.valLoss} should be < 1.0`);
  assert.ok(m[0].valLoss > last.valLoss, 'val loss decreases');

  const e = runCli(['eval', '--checkpoint', out, '--data', data]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(Math.abs(ev.valLoss - last.valLoss) < 1e-6, `eval ${ev.valLoss} equals the training evaluation ${last.valLoss}`);
  assert.ok(Math.abs(ev.bitsPerChar - ev.valLoss / Math.LN2) < 1e-9);

  const s1 = runCli(['sample', '--checkpoint', out, '--length', '60', '--seed', '5', '--prime', 'the ']);
  const s2 = runCli(['sample', '--checkpoint', out, '--length', '60', '--seed', '5', '--prime', 'the ']);
  assert.equal(s1.code, 0, s1.stderr);
  assert.equal(s1.stdout, s2.stdout, 'same seed, same sample');
  assert.ok(s1.stdout.startsWith('the ') && s1.stdout.length >= 64);
  const g = runCli(['sample', '--checkpoint', out, '--length', '30', '--argmax', '--prime', 'the c']);
  assert.equal(g.code, 0, g.stderr);
  const gRef = runCli(['sample', '--checkpoint', out, '--length', '30', '--argmax', '--prime', 'the c', '--backend', 'reference']);
  assert.equal(gRef.stdout, g.stdout, 'greedy decoding is the same on the reference backend');
  const t = runCli(['sample', '--checkpoint', out, '--length', '30', '--top-k', '3', '--top-p', '0.9', '--temperature', '0.7', '--seed', '1']);
  assert.equal(t.code, 0, t.stderr);
});

test('--time trains for a wall-clock budget and ends with a last evaluation', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  const started = Date.now();
  const r = runCli(['train', '--data', data, ...tiny, '--time', '1.5', '--eval-every', '100000', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = metrics(out);
  assert.equal(m.length, 1);
  assert.ok(m[0].step >= 1, `trained ${m[0].step} steps`);
  assert.ok(Date.now() - started < 60_000);
  // With a cosine schedule the budget is the run's: it decays over it and stops when it is up.
  const cos = join(dir, 'cosine');
  const c = runCli(['train', '--data', data, ...tiny, '--time', '1.5', '--lr-schedule', 'cosine', '--min-lr', '1e-4', '--eval-every', '100000', '--out', cos]);
  assert.equal(c.code, 0, c.stderr);
  const mc = metrics(cos);
  assert.equal(mc.length, 1);
  assert.ok(mc[0].elapsedSec >= 1.5 && mc[0].step >= 1, `${mc[0].step} steps in ${mc[0].elapsedSec} s`);
});

test('an interrupted run resumed to N steps ends exactly as an uninterrupted one', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const common = ['--data', data, ...tiny, '--dropout', '0.2', '--layers', '2', '--eval-every', '7', '--seed', '11'];
  const a = runCli(['train', ...common, '--steps', '20', '--out', join(dir, 'a')]);
  assert.equal(a.code, 0, a.stderr);
  const b1 = runCli(['train', ...common, '--steps', '10', '--out', join(dir, 'b')]);
  assert.equal(b1.code, 0, b1.stderr);
  const b2 = runCli(['train', ...common, '--steps', '20', '--out', join(dir, 'b'), '--resume']);
  assert.equal(b2.code, 0, b2.stderr);
  assert.deepEqual(readFileSync(join(dir, 'b', 'model.safetensors')), readFileSync(join(dir, 'a', 'model.safetensors')), 'same weights');
  const ta = decodeSafetensors(readFileSync(join(dir, 'a', 'training.safetensors'))).tensors;
  const tb = decodeSafetensors(readFileSync(join(dir, 'b', 'training.safetensors'))).tensors;
  assert.deepEqual([...tb.keys()], [...ta.keys()]);
  for (const [k, v] of ta) assert.deepEqual(tb.get(k)!.data, v.data, `optimizer/carried state ${k}`);
  const ma = metrics(join(dir, 'a'));
  const mb = metrics(join(dir, 'b'));
  const at = (m: Array<Record<string, number>>, step: number) => m.find((x) => x.step === step)!;
  for (const step of [7, 14, 20]) {
    assert.equal(at(mb, step).valLoss, at(ma, step).valLoss, `val loss at step ${step}`);
  }
  assert.equal(at(mb, 14).trainLoss, at(ma, 14).trainLoss);
});

test('train --ema: evaluation scores the average and the raw weights, the model file is the average, exact --resume', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const common = ['train', '--data', data, ...tiny, '--ema', '0.9', '--eval-every', '10'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const r = runCli([...common, '--steps', '20', '--out', a]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /bits\/char\), \(raw weights: val loss \d+\.\d+\), /);
  const m = metrics(a);
  assert.deepEqual(Object.keys(m[1]), ['step', 'tokens', 'trainLoss', 'valLoss', 'raw', 'lr', 'tokensPerSec', 'elapsedSec']);
  const raw = m[1].raw as unknown as { valLoss: number };
  assert.notEqual(raw.valLoss, m[1].valLoss, 'the average is not the raw weights');
  const model = decodeSafetensors(readFileSync(join(a, 'model.safetensors'))).tensors;
  const training = decodeSafetensors(readFileSync(join(a, 'training.safetensors'))).tensors;
  const name = 'rnn.weight_hh_l0';
  assert.notDeepEqual([...(model.get(name)!.data as Float32Array)], [...(training.get(`raw.${name}`)!.data as Float32Array)]);
  assert.equal(JSON.parse(readFileSync(join(a, 'config.json'), 'utf8')).train.ema, 0.9);
  // eval reads the average: its validation loss is the one training logged for the average at the end.
  const e = runCli(['eval', '--checkpoint', a, '--data', data]);
  assert.equal(e.code, 0, e.stderr);
  assert.ok(Math.abs(JSON.parse(e.stdout).valLoss - m[1].valLoss) < 1e-6, `${e.stdout} against ${m[1].valLoss}`);
  assert.equal(runCli([...common, '--steps', '10', '--out', b]).code, 0);
  assert.equal(runCli([...common, '--steps', '20', '--out', b, '--resume']).code, 0);
  assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')), 'same average');
  const rawOf = (d: string): number[] => [...(decodeSafetensors(readFileSync(join(d, 'training.safetensors'))).tensors.get(`raw.${name}`)!.data as Float32Array)];
  assert.deepEqual(rawOf(b), rawOf(a), 'same raw weights');
  const ema = (d: string): string[] => common.map((x) => (x === '0.9' ? d : x));
  assertOneLineError(runCli([...ema('0.99'), '--steps', '30', '--out', a, '--resume']), /cannot resume .*ema 0.9, this run asks for 0.99/);
  assertOneLineError(runCli([...ema('1'), '--steps', '30', '--out', join(dir, 'c')]), /--ema must be a number in \[0, 1\)/);
});

test('bad input: one-line errors naming the problem', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const binary = join(dir, 'bin.dat');
  writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0, 0, 0]));
  const short = join(dir, 'short.txt');
  writeFileSync(short, 'hello world, too short\n');
  const out = join(dir, 'x');
  assertOneLineError(runCli(['train', '--data', join(dir, 'nope.txt'), '--out', out]), /nope\.txt does not exist/);
  assertOneLineError(runCli(['train', '--data', empty, '--out', out]), /is empty/);
  assertOneLineError(runCli(['train', '--data', binary, '--out', out]), /binary/);
  assertOneLineError(runCli(['train', '--data', short, '--out', out, '--steps', '1']), /too short/);
  assertOneLineError(runCli(['train', '--data', data, '--model', 'mamba']), /unknown --model "mamba"/);
  assertOneLineError(runCli(['train', '--data', data, '--optimizer', 'lion']), /unknown --optimizer "lion"/);
  assertOneLineError(runCli(['train', '--data', data, '--hidden', '0']), /--hidden must be a positive integer, got "0"/);
  assertOneLineError(runCli(['train', '--data', data, '--batch-size=-3']), /--batch-size must be a positive integer/);
  assertOneLineError(runCli(['train', '--data', data, '--batch-size', '-3']), /--batch-size needs a value/);
  assertOneLineError(runCli(['train', '--data', data, '--steps']), /--steps needs a value/);
  assertOneLineError(runCli(['train', '--data', data, '--lr', 'fast']), /--lr must be a positive number/);
  assertOneLineError(runCli(['train', '--data', data, '--frobnicate']), /unknown option --frobnicate/);
  assertOneLineError(runCli(['train', '--data', data, '--backend', 'cuda']), /backend "cuda"/);
  assertOneLineError(runCli(['train', '--data', data, '--steps', '5', '--time', '5']), /--steps or --time, not both/);
  assertOneLineError(runCli(['train', '--data', data, '--time', '0']), /--time must be a positive number of seconds/);
  assert.ok(!existsSync(out), 'no checkpoint made by failed runs');
  assertOneLineError(runCli(['sample', '--checkpoint', join(dir, 'none')]), /does not exist/);
  assertOneLineError(runCli(['eval', '--checkpoint', dir, '--data', data]), /not a checkpoint/);
});

test('checkpoints: corrupt, truncated or mismatched ones are refused; NaN keeps the last good one', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '4', '--eval-every', '2', '--out', out]).code, 0);
  const model = readFileSync(join(out, 'model.safetensors'));
  const training = readFileSync(join(out, 'training.safetensors'));

  // training over an existing checkpoint without --resume would destroy it: refused
  assertOneLineError(runCli(['train', '--data', data, ...tiny, '--steps', '4', '--out', out]), /already holds a checkpoint.*--resume/);
  // resuming with a different architecture
  assertOneLineError(runCli(['train', '--data', data, ...tiny, '--hidden', '32', '--steps', '8', '--out', out, '--resume']), /hiddenSize 24.*32/);
  // prime with characters outside the vocabulary
  assertOneLineError(runCli(['sample', '--checkpoint', out, '--prime', 'ZQ#']), /prime text has the character "Z"/);
  // NaN: an absurd learning rate makes the loss blow up; training stops and names the step
  const nan = runCli(['train', '--data', data, ...tiny, '--steps', '40', '--eval-every', '1000', '--lr', '1e38', '--clip', '0', '--out', out, '--resume']);
  assert.equal(nan.code, 3, nan.stderr);
  assert.match(nan.stderr, /(loss|gradient norm) became (NaN|Infinity|-Infinity) at step \d+/);
  assert.deepEqual(readFileSync(join(out, 'model.safetensors')), model, 'last good checkpoint kept');
  assert.deepEqual(readFileSync(join(out, 'training.safetensors')), training);

  // truncated weights
  writeFileSync(join(out, 'model.safetensors'), model.subarray(0, model.length - 10));
  assertOneLineError(runCli(['sample', '--checkpoint', out]), /model\.safetensors/);
  // corrupt config
  writeFileSync(join(out, 'model.safetensors'), model);
  const config = readFileSync(join(out, 'config.json'), 'utf8');
  writeFileSync(join(out, 'config.json'), config.slice(0, 40));
  assertOneLineError(runCli(['eval', '--checkpoint', out, '--data', data]), /config\.json is corrupt/);
  // config that does not match the weights
  writeFileSync(join(out, 'config.json'), config.replace('"hiddenSize": 24', '"hiddenSize": 20'));
  assertOneLineError(runCli(['sample', '--checkpoint', out]), /does not match/);
});

test('Ctrl-C saves a checkpoint at the current step, and --resume continues from it', async () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  const { code, stderr } = await runUntilInterrupted(['train', '--data', data, ...tiny, '--steps', '100000', '--eval-every', '100000', '--out', out]);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted at step \d+: checkpoint saved in .*; continue with --resume/);
  const step = Number(decodeSafetensors(readFileSync(join(out, 'model.safetensors'))).metadata.step);
  assert.ok(step >= 1 && step < 100000, `saved at step ${step}`);
  const r = runCli(['train', '--data', data, ...tiny, '--steps', String(step + 3), '--eval-every', '100000', '--out', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(metrics(out).at(-1)!.step, step + 3);
});

test('--help after a command prints that command\'s help, as `recurrent help NAME` does', () => {
  for (const [args, heading] of [[['train', '--help'], /^recurrent train: /], [['seq2seq', 'train', '-h'], /^recurrent seq2seq/], [['sample', '--help'], /^recurrent — /]] as const) {
    const r = runCli([...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, heading);
  }
  assert.equal(runCli(['train', '--help']).stdout, runCli(['help', 'train']).stdout);
});
