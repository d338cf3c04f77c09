// The checkpoints the README's ONNX examples start from: `recurrent train` on a short text into DIR/runs/lm,
// and with --model transformer into DIR/runs/gpt.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from './cli.js';

export function readmeCheckpoint(model: 'lstm' | 'transformer' = 'lstm'): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'input.txt'), 'The cat sat on the mat. The dog ran to the cat.\n'.repeat(40));
  mkdirSync(join(dir, 'runs'));
  const shape = model === 'lstm' ? ['--seq-length', '16'] : ['--model', 'transformer', '--heads', '2', '--context', '16'];
  const t = runCli(['train', '--data', join(dir, 'input.txt'), ...shape, '--hidden', '32', '--layers', '2', '--batch-size', '8',
    '--steps', '60', '--lr', '1e-2', '--eval-every', '60', '--sample-length', '0', '--out', join(dir, 'runs', model === 'lstm' ? 'lm' : 'gpt')]);
  assert.equal(t.code, 0, t.stderr);
  return dir;
}
