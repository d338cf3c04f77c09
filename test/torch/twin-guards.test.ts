// The PyTorch twin's guards (`npm run test:torch`): its lock on a checkpoint directory is recurrent's (a recurrent
// run and a twin run refuse each other, dead and unreadable locks are taken over alike), it locks before it reads
// and will not overwrite another run, it continues a run in place as --resume does (metrics past the checkpoint
// dropped, the --eval-every it used recorded, the seconds counted in the checkpoint's clock), and what it cannot
// do is one line on stderr. Single-process runs of python/train_ddp.py: no torchrun needed.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkpointDirectory } from '../../src/train/checkpoint-directory.js';
import { runCli, smallCorpus, tempDir } from '../util/cli.js';
import { metrics, python } from './torch-run.js';

const PY = '/usr/bin/python3';
const lmFlags = ['--hidden', '8', '--layers', '1', '--seq-length', '8', '--batch-size', '2', '--sample-length', '0'];

/** Runs python/recurrent_torch code (`code`, with `sys`, `lock` and `CheckpointError` imported); a CheckpointError is one line, exit 1. */
function py(code: string, args: string[] = [], extra: string[] = []): { code: number; stdout: string; stderr: string } {
  const prelude = `import sys; sys.path.insert(0, ${JSON.stringify(python)})\nfrom recurrent_torch.lock import lock\nfrom recurrent_torch.checkpoint import CheckpointError\n`;
  const guarded = `${prelude}try:\n${code.split('\n').map((l) => `    ${l}`).join('\n')}\nexcept CheckpointError as e:\n    print(f'recurrent_torch: {e}', file=sys.stderr); sys.exit(1)\n`;
  const r = spawnSync(PY, [...extra, '-c', guarded, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The twin (one process) on `args`. */
function twin(args: string[], env: Record<string, string> = {}): { code: number; stderr: string } {
  const r = spawnSync(PY, [join(python, 'train_ddp.py'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stderr: r.stderr };
}

function assertOneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^recurrent_torch: /);
  assert.match(lines[0], pattern);
}

/** A process id that no longer runs. */
function deadPid(): number {
  const r = spawnSync(PY, ['-c', 'import os; print(os.getpid())'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/** A tiny language model checkpoint trained `steps` steps on a small text, in dir/lm; returns [checkpoint, data]. */
function languageModel(dir: string, steps = 4, extra: string[] = []): [string, string] {
  const data = join(dir, 'text.txt');
  writeFileSync(data, smallCorpus(60));
  const out = join(dir, 'lm');
  const r = runCli(['train', '--data', data, ...lmFlags, ...(steps > 0 ? ['--steps', String(steps)] : []), ...extra, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  return [out, data];
}

test("a recurrent run's lock refuses the twin, before the twin reads anything", () => {
  const dir = join(tempDir(), 'run');
  mkdirSync(dir);
  const store = checkpointDirectory(dir);
  store.lock!();
  try {
    // No config.json: a twin that read first would call it "not a checkpoint".
    const r = twin(['--checkpoint', dir, '--data', join(dir, 'none.txt'), '--steps', '1']);
    assertOneLine(r, new RegExp(`${dir} is in use by process ${process.pid} \\(training since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); wait for it to end, or choose another --out$`));
  } finally {
    store.unlock!();
  }
});

test("the twin's lock refuses a recurrent run, and is released whole", async () => {
  const dir = join(tempDir(), 'run');
  const code = "note, release = lock(sys.argv[1])\nprint('locked', flush=True)\nsys.stdin.readline()\nrelease()";
  const prelude = `import sys; sys.path.insert(0, ${JSON.stringify(python)})\nfrom recurrent_torch.lock import lock\n`;
  const child = spawn(PY, ['-c', prelude + code, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('locked') && resolve()));
  const lock = JSON.parse(readFileSync(join(dir, '.lock'), 'utf8'));
  assert.deepEqual(Object.keys(lock), ['pid', 'host', 'started'], "recurrent's fields");
  assert.equal(lock.host, hostname());
  assert.throws(() => checkpointDirectory(dir).lock!(), new RegExp(`is in use by process ${child.pid} \\(training since ${lock.started.replace(/\./g, '\\.')}\\)`));
  child.stdin.end('\n');
  assert.equal(await new Promise((resolve) => child.on('close', resolve)), 0);
  assert.ok(!existsSync(dir), 'the lock is gone, and the directory the lock made, left empty');
});

test("the twin takes over a dead run's lock and an old unreadable one, as recurrent does, and refuses a young unreadable one", () => {
  const dir = tempDir();
  const lockPath = join(dir, '.lock');
  const take = "note, release = lock(sys.argv[1])\nprint(note)\nrelease()";
  const pid = deadPid();
  writeFileSync(lockPath, JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
  const dead = py(take, [dir]);
  assert.equal(dead.code, 0, dead.stderr);
  assert.equal(dead.stdout.trim(), `${dir}: took over the lock of process ${pid}, which no longer runs (it was training since 2026-01-01T00:00:00.000Z)`);
  assert.ok(!existsSync(lockPath) && !existsSync(`${lockPath}.takeover`));

  writeFileSync(lockPath, '{"pid": 12');
  assertOneLine(py(take, [dir]), /is in use \(its \.lock is not readable: another version's run may be starting\); wait, or remove .*\.lock if no run uses it$/);
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockPath, old, old);
  const unreadable = py(take, [dir]);
  assert.equal(unreadable.stdout.trim(), `${dir}: took over an unreadable lock (.lock) left by a run that crashed`, unreadable.stderr);

  // A lock without `started` (by hand, or another version) is still a lock: no KeyError, the same words as recurrent's.
  writeFileSync(lockPath, JSON.stringify({ pid: process.pid, host: hostname() }));
  assertOneLine(py(take, [dir]), new RegExp(`in use by process ${process.pid} \\(training since an unknown time\\)`));
  assert.throws(() => checkpointDirectory(dir).lock!(), /in use by process \d+ \(training since an unknown time\)/);
});

test('the twin releases a lock only while it is its own', () => {
  const dir = tempDir();
  const lockPath = join(dir, '.lock');
  const other = JSON.stringify({ pid: process.pid, host: hostname(), started: 'later' });
  const r = py(`note, release = lock(sys.argv[1])\nopen(sys.argv[1] + '/.lock', 'w').write(sys.argv[2])\nrelease()`, [dir, other]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(lockPath, 'utf8'), other, "another run's lock is left");
});

test('the twin will not overwrite another run given as --out, and the directory is left as it was', () => {
  const [start, data] = languageModel(tempDir());
  const other = join(start, '..', 'other');
  cpSync(start, other, { recursive: true });
  const before = readFileSync(join(other, 'model.safetensors'));
  assertOneLine(twin(['--checkpoint', start, '--data', data, '--steps', '6', '--out', other]),
    new RegExp(`^recurrent_torch: ${other} already holds another run; choose another --out, or leave --out out to continue ${start} in place$`));
  assert.deepEqual(readFileSync(join(other, 'model.safetensors')), before);
  assert.ok(!existsSync(join(other, '.lock')));
});

test('continued in place, the twin drops metrics past the checkpoint (as --resume does) and records the --eval-every it used', () => {
  const [start, data] = languageModel(tempDir(), 4, ['--eval-every', '2']);
  assert.deepEqual(metrics(start).map((m) => m.step), [2, 4]);
  // What a run that crashed after its last checkpoint leaves: a record past it, and a torn line.
  appendFileSync(join(start, 'metrics.jsonl'), '{"step":6,"valLoss":123}\n{"step":8,"va');
  const r = twin(['--checkpoint', start, '--data', data, '--steps', '6', '--eval-every', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${start}: dropped 2 metrics records written after the checkpoint of step 4`));
  const m = metrics(start);
  assert.deepEqual(m.map((x) => x.step), [2, 4, 6]);
  assert.notEqual(m[2].valLoss, 123);
  assert.equal(JSON.parse(readFileSync(join(start, 'config.json'), 'utf8')).train.evalEvery, 3);
  const resumed = runCli(['train', '--data', data, ...lmFlags, '--eval-every', '3', '--steps', '9', '--out', start, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(metrics(start).map((x) => x.step), [2, 4, 6, 9]);
});

test("the twin counts a --clock cpu run's seconds in CPU time: a pause of the process is not counted", async () => {
  const [start, data] = languageModel(tempDir(), 0, ['--time', '0.5', '--clock', 'cpu', '--lr-schedule', 'cosine', '--eval-every', '1000000']);
  const last = metrics(start).at(-1)!;
  const PAUSE_SEC = 4;
  const child = spawn(PY, [join(python, 'train_ddp.py'), '--checkpoint', start, '--data', data, '--steps', String(last.step + 300)],
    { env: { ...process.env, OMP_NUM_THREADS: '1' } });
  let stderr = '';
  let paused = false;
  let exitedEarly = false;
  child.on('exit', () => {
    if (!paused) exitedEarly = true;
  });
  child.stderr.on('data', (d) => {
    stderr += String(d);
    if (!paused && / from step /.test(stderr)) {
      paused = true;
      child.kill('SIGSTOP');
      setTimeout(() => {
        assert.ok(!exitedEarly, 'the run was paused while it trained');
        child.kill('SIGCONT');
      }, PAUSE_SEC * 1000);
    }
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.ok(paused && !exitedEarly, stderr);
  const end = metrics(start).at(-1)!;
  assert.equal(end.step, last.step + 300);
  const counted = end.elapsedSec - last.elapsedSec;
  assert.ok(counted < PAUSE_SEC, `the twin counted ${counted.toFixed(2)} s of a run paused ${PAUSE_SEC} s: wall-clock, not CPU time`);
});

test("the twin's forward pass names a missing --text or --data, a character outside the vocabulary, a checkpoint without its options", () => {
  const dir = tempDir();
  const [lm] = languageModel(dir, 2);
  const forward = (args: string[]) => {
    const r = spawnSync(PY, [join(python, 'torch_forward.py'), '--out', join(dir, 'out.safetensors'), ...args], { encoding: 'utf8' });
    return { code: r.status ?? -1, stderr: r.stderr };
  };
  assertOneLine(forward(['--checkpoint', lm]), new RegExp(`${lm} holds a language model: give it --text to read$`));
  assertOneLine(forward(['--checkpoint', lm, '--text', 'the Z']), new RegExp(`--text holds "Z", a character outside the vocabulary of ${lm}$`));
  const bare = join(dir, 'bare');
  cpSync(lm, bare, { recursive: true });
  const config = JSON.parse(readFileSync(join(bare, 'config.json'), 'utf8'));
  delete config.train;
  writeFileSync(join(bare, 'config.json'), JSON.stringify(config));
  assertOneLine(forward(['--checkpoint', bare, '--text', 'the']), /bare\/config\.json has no "train" record \(the options it was trained with\)$/);

  const labelled = join(dir, 'labelled.tsv');
  writeFileSync(labelled, Array.from({ length: 30 }, (_, i) => (i % 2 ? 'pos\tgood day' : 'neg\tbad day')).join('\n') + '\n');
  const clf = join(dir, 'clf');
  const c = runCli(['classify', 'train', '--data', labelled, '--hidden', '8', '--batch-size', '4', '--steps', '2', '--out', clf]);
  assert.equal(c.code, 0, c.stderr);
  assertOneLine(forward(['--checkpoint', clf]), new RegExp(`${clf} holds a recurrent-sequence-classifier/1 checkpoint: give it --data, the lines to read$`));
  assertOneLine(forward(['--checkpoint', clf, '--data', join(dir, 'none.tsv')]), /cannot read --data .*none\.tsv: No such file or directory$/);
});

test("a captioner's or a visual question answerer's checkpoint is one line from the twin, naming the task", () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'text.txt'), 'a\n');
  for (const [format, task] of [['recurrent-captioner/1', 'an image captioner'], ['recurrent-vqa/1', 'a visual question answerer']]) {
    const ckpt = join(dir, format.replace('/', '-'));
    mkdirSync(ckpt);
    writeFileSync(join(ckpt, 'config.json'), JSON.stringify({ format, model: {}, train: {} }));
    assertOneLine(twin(['--checkpoint', ckpt, '--data', join(dir, 'text.txt'), '--steps', '2']),
      new RegExp(`^recurrent_torch: ${ckpt}/config\\.json holds ${task} \\(recurrent (caption|vqa) train\\); the PyTorch twin continues`));
    assert.ok(!existsSync(join(ckpt, '.lock')), 'the lock is released');
  }
});

test('reading a commit record leaves no file open', () => {
  const dir = tempDir();
  writeFileSync(join(dir, '.checkpoint-commit'), JSON.stringify(['config.json']));
  writeFileSync(join(dir, '.config.json.next'), '{}');
  // -X dev shows the ResourceWarning of a file left for the garbage collector to close.
  const r = py("from recurrent_torch.checkpoint import read_committed\nprint(read_committed(sys.argv[1], 'config.json'))", [dir], ['-X', 'dev']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "b'{}'");
  assert.doesNotMatch(r.stderr, /ResourceWarning/);
});

test('a training file without its training record is one line from the twin', () => {
  const [start, data] = languageModel(tempDir(), 2);
  const strip = "from recurrent_torch import safetensors_io as st\npath = sys.argv[1] + '/training.safetensors'\ntensors, meta = st.read(path)\nmeta.pop('training')\nst.write(path, tensors, meta)";
  assert.equal(py(strip, [start]).code, 0);
  assertOneLine(twin(['--checkpoint', start, '--data', data, '--steps', '4']),
    /training\.safetensors has no readable training record \(metadata "training"\): it cannot be continued$/);
});
