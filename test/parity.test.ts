// PyTorch parity of the recurrent layers: every test/fixtures/*.safetensors (made by
// scripts/make-fixtures.py; see test/fixtures/README.md) is rebuilt from its metadata, loaded with
// the PyTorch state_dict names as they are, run forward and backward on sum(out ⊙ dOut) + sum(h ⊙ dh)
// (+ sum(c ⊙ dc)), and every output and gradient is compared. New fixtures are picked up by name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { createRecurrent, type CellKind } from '../src/nn/recurrent/index.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { compareToFixture, f32, fixturesDir, type F32Array } from './util/fixtures.js';

/** Relative tolerance: |got - expected| <= TOL * max|expected| over each whole tensor. */
const TOL = 1e-4;
/** Below this, a tensor's scale is taken as this (an all-zero reference must come out ~zero). */
const FLOOR = 1e-6;

const CELLS: readonly CellKind[] = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_cho', 'mut1', 'mut2', 'mut3'];

interface FixtureConfig {
  cell: CellKind;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bias: boolean;
  batchFirst: boolean;
  bidirectional: boolean;
  dropout: number;
  seqLen: number;
  batch: number;
  variableLengths: boolean;
  initialState: boolean;
}

const dir = fixturesDir();
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];

function readConfig(file: string, metadata: Record<string, string>): FixtureConfig {
  assert.ok(metadata.config, `${file}: no "config" in __metadata__`);
  const c = JSON.parse(metadata.config) as FixtureConfig;
  assert.ok(CELLS.includes(c.cell), `${file}: unknown cell ${JSON.stringify(c.cell)}`);
  return c;
}

/** The worst element of `got` against `want`, or null when within tolerance. */
function compare(label: string, got: Tensor | null, want: F32Array): string | null {
  return compareToFixture(label, got, want, TOL, FLOOR);
}

/** Runs `fn`, prefixing any error with the fixture's name (a layer or state-dict error alone would not say which). */
function inFixture<R>(file: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

test('fixtures are present and cover the required configurations', () => {
  assert.ok(files.length > 0, `no fixtures in ${dir} (run: npm run fixtures)`);
  const configs = files.map((f) => readConfig(f, decodeSafetensors(readFileSync(join(dir, f)), f).metadata));
  for (const cell of ['rnn_tanh', 'rnn_relu', 'lstm', 'gru'] as const) assert.ok(configs.some((c) => c.cell === cell), `no ${cell} fixture`);
  for (const L of [1, 2, 3]) assert.ok(configs.some((c) => c.numLayers === L), `no fixture with ${L} layers`);
  assert.ok(configs.some((c) => c.bidirectional), 'no bidirectional fixture');
  assert.ok(configs.some((c) => c.batchFirst), 'no batch-first fixture');
  assert.ok(configs.some((c) => c.variableLengths), 'no variable-length fixture');
  assert.ok(configs.some((c) => !c.bias), 'no bias=false fixture');
  assert.ok(configs.some((c) => !c.initialState), 'no fixture without an initial state');
  assert.ok(configs.some((c) => c.inputSize !== c.hiddenSize), 'no fixture with D != H');
});

for (const file of files) {
  test(`PyTorch parity: ${file}`, () => {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
    const cfg = readConfig(file, metadata);
    const layer = inFixture(file, () => createRecurrent(
      cfg.cell,
      {
        inputSize: cfg.inputSize,
        hiddenSize: cfg.hiddenSize,
        numLayers: cfg.numLayers,
        bias: cfg.bias,
        batchFirst: cfg.batchFirst,
        bidirectional: cfg.bidirectional,
        ...(cfg.dropout ? { dropout: cfg.dropout } : {}),
      },
      new Rng(0),
    ));
    // Parity is defined without dropout masks: a fixture with dropout > 0 was made in eval mode.
    layer.eval();
    const owned: Tensor[] = [];
    const leaf = (name: string): Tensor | undefined => {
      if (!tensors.has(name)) return undefined;
      const t = f32(file, tensors, name);
      const out = Tensor.from(t.data, t.shape, true);
      owned.push(out);
      return out;
    };
    try {
      // Parameters carry their PyTorch names; everything else is namespaced with a dot.
      const state = new Map([...tensors].filter(([k]) => !k.includes('.')).map(([k, t]) => [k, { shape: t.shape, data: f32(file, tensors, k).data }]));
      inFixture(file, () => layer.loadStateDict(state));

      const x = leaf('input.x')!; // (T, B, D) or (B, T, D)
      const h0 = leaf('input.h0'); // (L*dirs, B, H)
      const c0 = leaf('input.c0');
      const lengthsRaw = tensors.get('input.lengths');
      const lengths = lengthsRaw === undefined ? undefined : Array.from(lengthsRaw.data as Int32Array);
      assert.equal(lengths !== undefined, cfg.variableLengths, `${file}: input.lengths vs config.variableLengths`);
      layer.zeroGrad();

      const problems: string[] = [];
      tidy(() => {
        const { output, h, c } = inFixture(file, () => layer.forward(x, { ...(h0 && { h0 }), ...(c0 && { c0 }), ...(lengths && { lengths }) }));
        for (const [label, got, name] of [['output', output, 'expected.output'], ['h', h, 'expected.h'], ['c', c, 'expected.c']] as const) {
          if (!tensors.has(name)) {
            if (got !== null) problems.push(`${label}: the layer returned one, the fixture (cell ${cfg.cell}) has none`);
            continue;
          }
          const p = got === null ? `${label}: the layer returned null` : compare(label, got, f32(file, tensors, name));
          if (p) problems.push(p);
        }
        // loss = sum(out ⊙ dOut) + sum(h ⊙ dh) (+ sum(c ⊙ dc)), one scalar so the fused node runs once.
        const dot = (t: Tensor, name: string): Tensor => {
          const d = f32(file, tensors, name);
          return ops.sum(ops.mul(t, Tensor.from(d.data, d.shape)));
        };
        let loss = ops.add(dot(output, 'upstream.output'), dot(h, 'upstream.h'));
        if (c !== null && tensors.has('upstream.c')) loss = ops.add(loss, dot(c, 'upstream.c'));
        backward(loss);
      });

      const grads: Array<[string, Tensor | null]> = [['grad.x', x.grad]];
      if (h0) grads.push(['grad.h0', h0.grad]);
      if (c0) grads.push(['grad.c0', c0.grad]);
      for (const [name, p] of layer.namedParameters()) grads.push([`grad.${name}`, p.grad]);
      for (const [name, g] of grads) {
        const p = compare(name, g, f32(file, tensors, name));
        if (p) problems.push(p);
      }
      const expectedGrads = [...tensors.keys()].filter((k) => k.startsWith('grad.'));
      for (const k of expectedGrads) if (!grads.some(([n]) => n === k)) problems.push(`${k}: in the fixture but not checked (no such input or parameter)`);

      const shape = `${cfg.cell} D=${cfg.inputSize} H=${cfg.hiddenSize} L=${cfg.numLayers}${cfg.bidirectional ? ' bi' : ''}${cfg.batchFirst ? ' batchFirst' : ''}${cfg.bias ? '' : ' bias=false'}${lengths ? ` lengths=[${lengths.join(',')}]` : ''} T=${cfg.seqLen} B=${cfg.batch}`;
      assert.ok(problems.length === 0, `${file} (${shape}):\n  ${problems.join('\n  ')}`);
    } finally {
      for (const t of owned) t.dispose();
      layer.dispose();
    }
  });
}
