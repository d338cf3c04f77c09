// The checkpoint the README's ONNX examples start from: `recurrent train` on a short text into DIR/runs/lm.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from './cli.js';

export function readmeCheckpoint(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'input.txt'), 'The cat sat on the mat. The dog ran to the cat.\n'.repeat(40));
  mkdirSync(join(dir, 'runs'));
  const t = runCli(['train', '--data', join(dir, 'input.txt'), '--hidden', '32', '--layers', '2', '--seq-length', '16', '--batch-size', '8',
    '--steps', '60', '--lr', '1e-2', '--eval-every', '60', '--sample-length', '0', '--out', join(dir, 'runs', 'lm')]);
  assert.equal(t.code, 0, t.stderr);
  return dir;
}
