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
