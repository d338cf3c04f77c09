// The training commands as a new user meets them: a second run on a directory in use is refused, a stale
// lock is taken over, the log reads as one run after a crash, every error is one line, weights that are not
// finite are refused, characters are code points, and checkpoints written before the training engine still
// load and resume exactly (test/fixtures/legacy-checkpoints/, made by the commit before it).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { assertOneLineError, runCli, smallCorpus, tempDir } from './util/cli.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const main = join(here, '..', 'cli', 'recurrent.js');
const legacy = join(here, '..', '..', 'test', 'fixtures', 'legacy-checkpoints');
const tiny = ['--model', 'lstm', '--hidden', '16', '--layers', '1', '--batch-size', '4', '--seq-length', '8', '--sample-length', '0'];

function steps(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
}

function modelStep(dir: string): number {
  return Number(decodeSafetensors(readFileSync(join(dir, 'model.safetensors'))).metadata.step);
}

/** Starts `recurrent ARGS` and resolves once its output matches `ready`, with the child still running. */
function startUntil(args: string[], ready: RegExp): Promise<{ child: ReturnType<typeof spawn>; out: () => string }> {
  const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, RECURRENT_DEBUG: '' } });
  let out = '';
  return new Promise((resolve, reject) => {
    const look = (d: unknown): void => {
      out += String(d);
      if (ready.test(out)) resolve({ child, out: () => out });
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('close', (code) => reject(new Error(`exited (${code}) before ${ready}: ${out}`)));
  });
}

const closed = (child: ReturnType<typeof spawn>): Promise<number | null> => new Promise((r) => child.on('close', r));

test('a second run on a directory in use fails naming the process that holds it; a lock left by a dead process is taken over', async () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  const first = await startUntil(['train', '--data', data, ...tiny, '--steps', '1000000', '--eval-every', '1000000', '--out', out], /step [1-9]\d*\//);
  const second = runCli(['train', '--data', data, ...tiny, '--steps', '10', '--out', out, '--resume']);
  assertOneLineError(second, new RegExp(`${out.replace(/[/\\]/g, '.')} is in use by process ${first.child.pid} \\(training since .*\\); wait for it to end, or choose another --out`));
  const labelled = join(dir, 'labelled.tsv');
  writeFileSync(labelled, 'a\tone\nb\ttwo\na\tthree\nb\tfour\n');
  assertOneLineError(runCli(['classify', 'train', '--data', labelled, '--out', out, '--resume']), new RegExp(`is in use by process ${first.child.pid} `));
  first.child.kill('SIGINT');
  assert.equal(await closed(first.child), 130);
  assert.ok(!existsSync(join(out, '.lock')), 'the lock goes with the run');

  // A lock whose process no longer runs (killed with -9, say) is taken over, saying so.
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(join(out, '.lock'), JSON.stringify({ pid: gone, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
  const step = modelStep(out);
  const r = runCli(['train', '--data', data, ...tiny, '--steps', String(step + 2), '--out', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`recurrent: .*run: took over the lock of process ${gone}, which no longer runs`));
  assert.ok(!existsSync(join(out, '.lock')));
  // An unreadable lock is in use while it is young (another version may be writing it), taken over when old.
  writeFileSync(join(out, '.lock'), '{"pid": 12');
  assertOneLineError(runCli(['train', '--data', data, ...tiny, '--steps', String(step + 3), '--out', out, '--resume']), /is in use \(its \.lock is not readable/);
  utimesSync(join(out, '.lock'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  const t = runCli(['train', '--data', data, ...tiny, '--steps', String(step + 3), '--out', out, '--resume']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /took over an unreadable lock/);
});

test('runs started together on one directory, fresh or with a dead run\'s lock: exactly one trains', async () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  for (const stale of [false, true]) {
    const out = join(dir, stale ? 'stale' : 'fresh');
    if (stale) {
      assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '2', '--out', out]).code, 0);
      const gone = spawnSync(process.execPath, ['-e', '']).pid!;
      writeFileSync(join(out, '.lock'), JSON.stringify({ pid: gone, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
    }
    const runs = Array.from({ length: 6 }, () => spawn(process.execPath, [main, 'train', '--data', data, ...tiny, '--steps', '1000000', '--eval-every', '1000000', '--out', out, ...(stale ? ['--resume'] : [])], { env: { ...process.env, RECURRENT_DEBUG: '' } }));
    const outcomes = runs.map((child) => {
      let err = '';
      child.stderr!.on('data', (d) => (err += String(d)));
      return { child, err: () => err, exit: closed(child) };
    });
    // The losers exit at once; the winner trains until it is stopped.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && outcomes.filter((o) => o.child.exitCode === null).length > 1) await new Promise((r) => setTimeout(r, 100));
    const running = outcomes.filter((o) => o.child.exitCode === null);
    assert.equal(running.length, 1, `${running.length} runs hold ${out}`);
    for (const o of outcomes) if (o !== running[0]) assert.match(o.err(), /is in use by process \d+/);
    running[0].child.kill('SIGINT');
    assert.equal(await running[0].exit, 130);
  }
});

test('the log after a crash: records past the checkpoint are dropped on resume, so the log reads as one run', async () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  // Simulated: the evaluation of step 6 was logged, then the process died before its checkpoint.
  const out = join(dir, 'sim');
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '4', '--eval-every', '2', '--out', out]).code, 0);
  writeFileSync(join(out, 'metrics.jsonl'), readFileSync(join(out, 'metrics.jsonl'), 'utf8') + '{"step":6,"tokens":192,"trainLoss":1}\n{"step":7,"tok');
  const r = runCli(['train', '--data', data, ...tiny, '--steps', '8', '--eval-every', '2', '--out', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /dropped 2 metrics records written after the checkpoint of step 4/);
  assert.deepEqual(steps(out), [2, 4, 6, 8]);

  // Real: kill -9 in the middle of a run that evaluates every step, then resume.
  const real = join(dir, 'real');
  const run = await startUntil(['classify', 'train', '--data', writeLabeled(dir), '--model', 'bow', '--min-docs', '1', '--steps', '1000000', '--eval-every', '1', '--out', real], /step [3-9]\d*: /);
  run.child.kill('SIGKILL');
  await closed(run.child);
  const at = modelStep(real);
  const again = runCli(['classify', 'train', '--data', writeLabeled(dir), '--model', 'bow', '--min-docs', '1', '--steps', String(at + 3), '--eval-every', '1', '--out', real, '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /took over the lock of process \d+, which no longer runs/);
  const logged = steps(real);
  assert.deepEqual(logged, Array.from({ length: at + 3 }, (_, i) => i + 1), 'every step logged once, in order');
});

test('a crash while saving: a committed checkpoint is finished on resume, an uncommitted one is dropped, never a mix', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const at4 = join(dir, 'at4');
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '4', '--eval-every', '2', '--out', at4]).code, 0);
  const at6 = join(dir, 'at6');
  cpSync(at4, at6, { recursive: true });
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '6', '--eval-every', '2', '--out', at6, '--resume']).code, 0);
  const files = ['config.json', 'model.safetensors', 'training.safetensors'];
  const through8 = (d: string) => runCli(['train', '--data', data, ...tiny, '--steps', '8', '--eval-every', '2', '--out', d, '--resume']);

  // Killed in phase two of saving step 6: the record written, training.safetensors renamed, the other two not yet.
  const committed = join(dir, 'committed');
  cpSync(at4, committed, { recursive: true });
  cpSync(join(at6, 'training.safetensors'), join(committed, 'training.safetensors'));
  cpSync(join(at6, 'metrics.jsonl'), join(committed, 'metrics.jsonl')); // step 6's evaluation was logged first
  for (const f of ['config.json', 'model.safetensors']) cpSync(join(at6, f), join(committed, `.${f}.next`));
  writeFileSync(join(committed, '.checkpoint-commit'), JSON.stringify(files));
  writeFileSync(join(committed, '.model.safetensors.123.0badf00d.tmp'), 'debris of an atomic write a kill interrupted');
  // A reader (no lock, no renames) already sees the committed step.
  const ev = runCli(['eval', '--checkpoint', committed, '--data', data]);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).step, 6);
  const r = through8(committed);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /finished saving the checkpoint an interrupted run had written/);
  assert.ok(!existsSync(join(committed, '.checkpoint-commit')) && !existsSync(join(committed, '.model.safetensors.next')));
  assert.ok(!existsSync(join(committed, '.model.safetensors.123.0badf00d.tmp')), 'the debris is removed');
  assert.deepEqual(steps(committed), [2, 4, 6, 8], 'resumed from step 6');
  assert.equal(through8(at6).code, 0);
  assert.deepEqual(readFileSync(join(committed, 'model.safetensors')), readFileSync(join(at6, 'model.safetensors')), 'as the run that was never killed');

  // Killed in phase one: step 6's files written beside their places, no record: step 4 is the checkpoint.
  const uncommitted = join(dir, 'uncommitted');
  cpSync(at4, uncommitted, { recursive: true });
  for (const f of files) cpSync(join(at6, f), join(uncommitted, `.${f}.next`));
  const u = through8(uncommitted);
  assert.equal(u.code, 0, u.stderr);
  assert.ok(!existsSync(join(uncommitted, '.model.safetensors.next')), 'the uncommitted files are removed');
  assert.equal(modelStep(uncommitted), 8);
  assert.deepEqual(readFileSync(join(uncommitted, 'model.safetensors')), readFileSync(join(at6, 'model.safetensors')), 'resumed from step 4 to the same step 8');
});

function writeLabeled(dir: string): string {
  const p = join(dir, 'labeled.tsv');
  writeFileSync(p, Array.from({ length: 40 }, (_, i) => `${i % 2 ? 'odd' : 'even'}\tnumber ${i} is ${i % 2 ? 'odd' : 'even'}`).join('\n') + '\n');
  return p;
}

test('every error is one line: a corrupt config.json, whose parser message quotes the file across lines', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '2', '--out', out]).code, 0);
  writeFileSync(join(out, 'config.json'), '{\n  "format": oops,\n  "vocab": []\n}\n');
  for (const args of [['sample', '--checkpoint', out], ['eval', '--checkpoint', out, '--data', data], ['train', '--data', data, ...tiny, '--steps', '4', '--out', out, '--resume']]) {
    assertOneLineError(runCli(args), /config\.json is corrupt: Unexpected token 'o'$/);
  }
  assertOneLineError(runCli(['classify', 'eval', '--checkpoint', out, '--data', data]), /config\.json is corrupt/);
  assertOneLineError(runCli(['seq2seq', 'decode', '--checkpoint', out, '--data', data]), /config\.json is corrupt/);
});

test('a checkpoint whose weights are not finite is refused by sample, eval and resume, naming the tensor', () => {
  const dir = tempDir();
  const data = join(dir, 'data.txt');
  writeFileSync(data, smallCorpus());
  const out = join(dir, 'run');
  assert.equal(runCli(['train', '--data', data, ...tiny, '--steps', '2', '--out', out]).code, 0);
  const path = join(out, 'model.safetensors');
  const { tensors, metadata } = decodeSafetensors(readFileSync(path));
  const w = tensors.get('head.weight')!;
  (w.data as Float32Array)[7] = Number.NaN;
  writeFileSync(path, encodeSafetensors(tensors, metadata));
  for (const args of [['sample', '--checkpoint', out], ['eval', '--checkpoint', out, '--data', data], ['train', '--data', data, ...tiny, '--steps', '4', '--out', out, '--resume']]) {
    assertOneLineError(runCli(args), /model\.safetensors: tensor "head\.weight" holds NaN \(element 7\); the checkpoint's weights are not finite/);
  }
});

test('characters are code points everywhere: the header counts what the vocabulary and evaluation count', () => {
  const dir = tempDir();
  const data = join(dir, 'astral.txt');
  const text = smallCorpus(60).replace(/a/g, '𝒶').replace(/t/g, '😀'); // outside the Basic Multilingual Plane
  writeFileSync(data, text);
  const chars = Array.from(text).length;
  assert.notEqual(chars, text.length);
  const out = join(dir, 'run');
  const r = runCli(['train', '--data', data, ...tiny, '--steps', '2', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`on .*astral\\.txt \\(${chars} characters\\)`));
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.data.chars, chars);
  assert.ok(config.vocab.includes('😀') && config.vocab.includes('𝒶'));
  const e = JSON.parse(runCli(['eval', '--checkpoint', out, '--data', data]).stdout);
  const streamLength = Math.floor((chars - Math.floor(chars * 0.9)) / 4); // the last 10%, in 4 streams
  assert.equal(e.characters, Math.floor((streamLength - 1) / 8) * 8 * 4, 'evaluation counts code points');
});

// The fixtures were made by the commit before the engine (ccf5cb7) with --backend reference:
//   train --data lm.txt --model lstm --hidden 8 --layers 1 --batch-size 4 --seq-length 8 --steps 6 --eval-every 3 --sample-length 10 --ema 0.9 --out lm
//   classify train --data clf.tsv --model gru --hidden 8 --steps 6 --eval-every 3 --batch-size 4 --ema 0.9 --out clf
//   classify train --data clf.tsv --model bow --min-docs 1 --steps 6 --eval-every 3 --batch-size 4 --out bow
//   seq2seq train --data s2s.tsv --tgt-split space --hidden 8 --steps 6 --eval-every 3 --batch-size 4 --ema 0.9 --attention bahdanau --dropout 0.1 --out s2s
const LEGACY: Record<string, string[]> = {
  lm: ['train', '--data', 'lm.txt', '--model', 'lstm', '--hidden', '8', '--layers', '1', '--batch-size', '4', '--seq-length', '8', '--eval-every', '3', '--sample-length', '10', '--ema', '0.9'],
  clf: ['classify', 'train', '--data', 'clf.tsv', '--model', 'gru', '--hidden', '8', '--eval-every', '3', '--batch-size', '4', '--ema', '0.9'],
  bow: ['classify', 'train', '--data', 'clf.tsv', '--model', 'bow', '--min-docs', '1', '--eval-every', '3', '--batch-size', '4'],
  s2s: ['seq2seq', 'train', '--data', 's2s.tsv', '--tgt-split', 'space', '--hidden', '8', '--eval-every', '3', '--batch-size', '4', '--ema', '0.9', '--attention', 'bahdanau', '--dropout', '0.1'],
};

test('checkpoints written before the engine load, and resume exactly as an uninterrupted run of the engine', () => {
  const dir = tempDir();
  cpSync(legacy, join(dir, 'old'), { recursive: true });
  const at = (f: string): string => join(dir, 'old', f);
  const withData = (args: string[]): string[] => args.map((a) => (/\.(txt|tsv)$/.test(a) ? at(a) : a));
  for (const [kind, args] of Object.entries(LEGACY)) {
    const old = at(kind);
    const fresh = join(dir, `fresh-${kind}`);
    // The engine trains exactly as the loops it replaced: step 6 from scratch is the fixture's step 6...
    assert.equal(runCli([...withData(args), '--steps', '6', '--out', join(dir, `six-${kind}`), '--backend', 'reference']).code, 0);
    assert.deepEqual(readFileSync(join(dir, `six-${kind}`, 'model.safetensors')), readFileSync(join(old, 'model.safetensors')), `${kind}: the same weights at step 6`);
    // ...and the fixture resumed to 9 is a run of 9 from scratch.
    const r = runCli([...withData(args), '--steps', '9', '--out', old, '--resume', '--backend', 'reference']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(runCli([...withData(args), '--steps', '9', '--out', fresh, '--backend', 'reference']).code, 0);
    assert.deepEqual(readFileSync(join(old, 'model.safetensors')), readFileSync(join(fresh, 'model.safetensors')), `${kind}: the same weights at step 9`);
    const last = (d: string): Record<string, unknown> => JSON.parse(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
    assert.equal(last(old).trainLoss, last(fresh).trainLoss, `${kind}: the same training loss`);
    assert.equal(last(old).valLoss, last(fresh).valLoss, `${kind}: the same validation loss`);
    assert.deepEqual(steps(old), [3, 6, 9]);
  }
  // Inference reads them too.
  assert.equal(runCli(['sample', '--checkpoint', join(legacy, 'lm'), '--length', '5', '--seed', '1']).code, 0);
  assert.equal(runCli(['classify', 'eval', '--checkpoint', join(legacy, 'bow'), '--data', join(legacy, 'clf.tsv')]).code, 0);
  assert.equal(runCli(['seq2seq', 'decode', '--checkpoint', join(legacy, 's2s'), '--data', writeSources(dir)]).code, 0);
});

function writeSources(dir: string): string {
  const p = join(dir, 'sources.txt');
  writeFileSync(p, 'abab\ncdda\n');
  return p;
}
