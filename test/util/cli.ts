// Runs the compiled `recurrent` command in a child process, for end-to-end tests.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'recurrent.js');

export function runCli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, RECURRENT_DEBUG: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the command and sends it Ctrl-C (SIGINT) once its progress bar shows a step; resolves with its exit code and stderr. */
export async function runUntilInterrupted(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, RECURRENT_DEBUG: '' } });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
    if (/step [1-9]\d*\//.test(stderr) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'recurrent-test-'));
}

/** A small, learnable text: a few sentences repeated with a counter so it is not pure repetition. */
export function smallCorpus(lines = 400): string {
  const words = ['the cat sat on the mat.', 'a dog ran in the park.', 'we sing to the sea.', 'it is a fine day.'];
  let s = '';
  for (let i = 0; i < lines; i++) s += `${words[i % words.length]} ${words[(i * 7 + 3) % words.length]}\n`;
  return s;
}

/** A failed run that printed exactly one line, "recurrent: …" matching `pattern`, no stack trace, and exited with `code` (any non-zero code if omitted). */
export function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp, code?: number): void {
  if (code === undefined) assert.notEqual(r.code, 0, `exit code should be non-zero (stderr: ${r.stderr})`);
  else assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line of error, got:\n${r.stderr}`);
  assert.match(lines[0], /^recurrent: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
