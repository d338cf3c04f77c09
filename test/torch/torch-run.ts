// What the PyTorch round-trip tests of the classifier, the encoder–decoder and the Transformers share: running
// the twin (python/recurrent_torch/) in PyTorch and under torchrun, its outputs read back, and the comparisons
// of a DDP continuation with recurrent's own. Not a test file: test/torch/*.test.ts import it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { runCli } from '../util/cli.js';
import { relativeError } from '../util/onnx-runtime.js';

export const python = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'python'); // dist/test/torch -> repo/python
// Debian's torch 1.13 on Python 3.11: torchrun's default --redirects 0 / --tee 0 crash (see the README).
export const TORCHRUN = ['--redirects', '2', '--tee', '2'];

export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, RECURRENT_DEBUG: '' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stderr}`);
  return r.stderr;
}

/** PyTorch's outputs (python/torch_forward.py) of the checkpoint in dir over the lines of the file `data`, or a language model's over `{ text }`. */
export function torchForward(dir: string, data: string | { text: string }): Map<string, Float32Array> {
  const out = join(dir, '..', `torch-forward-${Math.random().toString(16).slice(2)}.safetensors`);
  const input = typeof data === 'string' ? ['--data', data] : ['--text', data.text];
  run('/usr/bin/python3', [join(python, 'torch_forward.py'), '--checkpoint', dir, ...input, '--out', out]);
  return new Map([...decodeSafetensors(readFileSync(out)).tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

/** A port no one listens on now: torchrun's default (29500) is taken whenever another round trip runs beside this one. */
export function freePort(): string {
  return run('/usr/bin/python3', ['-c', "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', 0)); sys.stderr.write(str(s.getsockname()[1]))"]);
}

/** The arguments of a torchrun command (its workarounds and a free port first, then `args`). */
export function torchrunArgs(args: string[], port = freePort()): string[] {
  return [...TORCHRUN, '--master_port', port, ...args];
}

/** `nproc` DDP processes (torchrun, gloo; 2 unless told) continue the checkpoint in `start` to `steps` in all, into `out`; returns their log. */
export function trainDdp(start: string, data: string, steps: number, out: string, extra: string[] = [], nproc = 2): string {
  return run('torchrun', torchrunArgs(['--nproc_per_node', String(nproc), join(python, 'train_ddp.py'), '--checkpoint', start, '--data', data, '--steps', String(steps), '--out', out, ...extra]));
}

export function weights(dir: string): Map<string, Float32Array> {
  return new Map([...decodeSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

/**
 * The worst difference between two checkpoints' tensors, each relative to its largest magnitude (the names must
 * agree), and apart from it the worst absolute difference of the key third of each attention's in_proj_bias:
 * that bias's gradient is zero in exact arithmetic (it adds q·b_k to all of a query's scores, which the softmax
 * ignores), so each run moves it by Adam-scaled rounding noise that no output sees.
 */
export function weightDifferences(a: string, b: string): { worst: number; keyBias: number } {
  const wa = weights(a);
  const wb = weights(b);
  assert.deepEqual([...wa.keys()].sort(), [...wb.keys()].sort());
  let worst = 0;
  let keyBias = 0;
  for (const [k, want] of wb) {
    const got = wa.get(k)!.slice();
    if (k.endsWith('attn.in_proj_bias')) {
      const E = want.length / 3;
      for (let i = E; i < 2 * E; i++) {
        keyBias = Math.max(keyBias, Math.abs(got[i] - want[i]));
        got[i] = want[i];
      }
    }
    worst = Math.max(worst, relativeError(got, want));
  }
  return { worst, keyBias };
}

/** weightDifferences' worst, of models without attention's key biases (asserted). */
export function worstWeightDifference(a: string, b: string): number {
  const { worst, keyBias } = weightDifferences(a, b);
  assert.equal(keyBias, 0);
  return worst;
}

export function metrics(dir: string): Array<Record<string, number>> {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/**
 * A checkpoint trained by `command` (e.g. ['classify', 'train']) to step `from` in dir/start, then continued
 * to step `to` both by recurrent's own --resume (dir/own) and by `ddp.nproc` (2) DDP processes given `ddp.extra` (dir/ddp, their log returned).
 */
export function continueBothWays(dir: string, command: string[], data: string, flags: string[], from = 10, to = 20,
  ddpRun: { nproc?: number; extra?: string[] } = {}): { start: string; own: string; ddp: string; log: string } {
  const start = join(dir, 'start');
  const first = runCli([...command, '--data', data, ...flags, '--steps', String(from), '--out', start]);
  assert.equal(first.code, 0, first.stderr);
  const own = join(dir, 'own');
  cpSync(start, own, { recursive: true });
  const c = runCli([...command, '--data', data, ...flags, '--steps', String(to), '--out', own, '--resume']);
  assert.equal(c.code, 0, c.stderr);
  const ddp = join(dir, 'ddp');
  return { start, own, ddp, log: trainDdp(start, data, to, ddp, ddpRun.extra, ddpRun.nproc) };
}
