// Hand-derived BPTT against the tape: every cell kind, built once as the fused layer and once from
// autograd primitives (util/tape-recurrent.ts) on the same parameter tensors; outputs and every
// gradient of sum(out ⊙ dOut) + sum(h ⊙ dh) (+ sum(c ⊙ dc)) must agree to ~1e-5 of each tensor's scale.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { cellKinds, createRecurrent, type CellKind, type Recurrent } from '../src/nn/recurrent/index.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { randomTensor } from './util/gradcheck.js';
import { replayDropoutMasks, tapeRecurrent } from './util/tape-recurrent.js';
import type { LayerCase } from './util/layer-case.js';

interface Case extends LayerCase {
  initialState: boolean;
  /** Which results the loss reads (the others' gradients are null). */
  uses: 'all' | 'output' | 'h';
}

/** MUT1/MUT2 add x to an H-wide gate: their input is H wide and a deep stack cannot be bidirectional. */
const needsSquare = (cell: CellKind): boolean => cell === 'mut1' || cell === 'mut2';

function cases(cell: CellKind): Case[] {
  const deepBidi = !needsSquare(cell);
  return [
    { name: 'L2 bidi lengths h0', opts: { numLayers: 2, bidirectional: deepBidi }, T: 5, B: 3, lengths: [5, 2, 4], initialState: true, uses: 'all' },
    { name: 'L1 bidi batchFirst no-bias lengths', opts: { bidirectional: true, batchFirst: true, bias: false }, T: 4, B: 3, lengths: [1, 4, 3], initialState: false, uses: 'all' },
    { name: 'L3 dropout batchFirst', opts: { numLayers: 3, dropout: 0.4, batchFirst: true }, T: 4, B: 2, initialState: true, uses: 'all' },
    { name: 'L2 only h used', opts: { numLayers: 2, bidirectional: deepBidi }, T: 3, B: 2, lengths: [3, 1], initialState: true, uses: 'h' },
    { name: 'L1 only output used', opts: {}, T: 3, B: 2, initialState: true, uses: 'output' },
  ];
}

interface Snapshot {
  values: Map<string, Float32Array>;
}

function run(
  layer: Recurrent, forward: () => { output: Tensor; h: Tensor; c: Tensor | null }, inputs: Map<string, Tensor>,
  up: { out: Tensor; h: Tensor; c: Tensor | null }, uses: Case['uses'],
): Snapshot {
  for (const t of inputs.values()) t.zeroGrad();
  layer.zeroGrad();
  return tidy(() => {
    const r = forward();
    const terms: Tensor[] = [];
    if (uses !== 'h') terms.push(ops.sum(ops.mul(r.output, up.out)));
    if (uses !== 'output') terms.push(ops.sum(ops.mul(r.h, up.h)));
    if (uses === 'all' && r.c !== null) terms.push(ops.sum(ops.mul(r.c, up.c!)));
    backward(terms.reduce((a, b) => ops.add(a, b)));
    const values = new Map<string, Float32Array>([['output', r.output.data.slice()], ['h', r.h.data.slice()]]);
    if (r.c !== null) values.set('c', r.c.data.slice());
    for (const [k, t] of inputs) values.set(`grad ${k}`, t.grad?.data.slice() ?? new Float32Array(t.size));
    for (const [k, p] of layer.namedParameters()) values.set(`grad ${k}`, p.grad?.data.slice() ?? new Float32Array(p.size));
    return { values };
  });
}

function assertClose(what: string, got: Snapshot, want: Snapshot): void {
  assert.deepEqual([...got.values.keys()], [...want.values.keys()], `${what}: the same results and gradients`);
  for (const [k, w] of want.values) {
    const g = got.values.get(k)!;
    let scale = 0;
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    let err = 0;
    let at = 0;
    for (let i = 0; i < w.length; i++) {
      const e = Math.abs(g[i] - w[i]);
      if (!(e <= err)) [err, at] = [e, i]; // NaN counts as worst
    }
    assert.ok(err <= 1e-5 * scale + 1e-7, `${what}: ${k}[${at}] fused ${g[at]} vs tape ${w[at]} (max error ${err.toExponential(2)}, scale ${scale.toExponential(2)})`);
  }
}

for (const cell of cellKinds) {
  test(`hand BPTT matches the tape: ${cell}`, () => {
    for (const c of cases(cell)) {
      const rng = new Rng(cellKinds.indexOf(cell) * 100 + c.T * 10 + c.B);
      const H = 3;
      const D = needsSquare(cell) ? H : 2;
      const layer = createRecurrent(cell, { inputSize: D, hiddenSize: H, ...c.opts }, rng);
      const dirs = layer.bidirectional ? 2 : 1;
      const L = layer.numLayers;
      const x = randomTensor(rng, layer.batchFirst ? [c.B, c.T, D] : [c.T, c.B, D]);
      const inputs = new Map<string, Tensor>([['x', x]]);
      const opts: { h0?: Tensor; c0?: Tensor; lengths?: number[] } = { lengths: c.lengths };
      if (c.initialState) {
        inputs.set('h0', (opts.h0 = randomTensor(rng, [L * dirs, c.B, H], 0.8)));
        if (cell === 'lstm') inputs.set('c0', (opts.c0 = randomTensor(rng, [L * dirs, c.B, H], 0.8)));
      }
      const up = {
        out: randomTensor(rng, layer.batchFirst ? [c.B, c.T, dirs * H] : [c.T, c.B, dirs * H], 1, false),
        h: randomTensor(rng, [L * dirs, c.B, H], 1, false),
        c: cell === 'lstm' ? randomTensor(rng, [L * dirs, c.B, H], 1, false) : null,
      };
      const before = rng.getState(); // the dropout masks the fused forward will draw
      const fused = run(layer, () => layer.forward(x, opts), inputs, up, c.uses);
      const drawn = rng.getState();
      if (layer.dropout > 0) assert.notDeepEqual(drawn, before, 'dropout drew its masks from the layer rng');
      else assert.deepEqual(drawn, before, 'without dropout the forward draws nothing');
      const dropMasks = replayDropoutMasks(before, layer, c.T, c.B);
      const tape = run(layer, () => tapeRecurrent(layer, x, { ...opts, dropMasks: layer.dropout > 0 ? dropMasks : undefined }), inputs, up, c.uses);
      assertClose(`${cell} ${c.name}`, fused, tape);
      for (const t of [x, opts.h0, opts.c0, up.out, up.h, up.c, ...dropMasks]) t?.dispose();
      layer.dispose();
    }
  });
}
