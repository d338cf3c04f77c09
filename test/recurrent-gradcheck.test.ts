// Finite-difference gradient checks of the fused recurrent layers: every cell kind, through x, h0 (c0)
// and every parameter, on stacked, bidirectional, variable-length and batch-first configurations.

import { test } from 'node:test';
import { cellKinds, createRecurrent, type CellKind } from '../src/nn/recurrent/index.js';
import { Rng, type MaskKernel } from '../src/random/rng.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';
import type { LayerCase } from './util/layer-case.js';

/** Output, h and c: gradcheck seeds each with its own random upstream gradient. */
function results(r: { output: Tensor; h: Tensor; c: Tensor | null }): Tensor[] {
  return r.c === null ? [r.output, r.h] : [r.output, r.h, r.c];
}

const square = (cell: CellKind): boolean => cell === 'mut1' || cell === 'mut2';

function cases(cell: CellKind): LayerCase[] {
  return [
    // MUT1/MUT2 cannot stack bidirectional layers (their x term needs an H-wide input).
    { name: 'L2 bidi lengths', opts: { numLayers: 2, bidirectional: !square(cell) }, T: 4, B: 3, lengths: [4, 1, 3] },
    { name: 'L1 bidi batchFirst lengths', opts: { bidirectional: true, batchFirst: true }, T: 5, B: 2, lengths: [2, 5] },
    { name: 'L2 batchFirst no-bias', opts: { numLayers: 2, batchFirst: true, bias: false }, T: 3, B: 2 },
  ];
}

for (const cell of cellKinds) {
  test(`gradcheck: ${cell}`, () => {
    for (const c of cases(cell)) {
      const rng = new Rng(17 + cellKinds.indexOf(cell));
      const H = 3;
      const D = square(cell) ? H : 2;
      const layer = createRecurrent(cell, { inputSize: D, hiddenSize: H, ...c.opts }, rng);
      const dirs = layer.bidirectional ? 2 : 1;
      const x = randomTensor(rng, layer.batchFirst ? [c.B, c.T, D] : [c.T, c.B, D]);
      const h0 = randomTensor(rng, [layer.numLayers * dirs, c.B, H], 0.8);
      const c0 = cell === 'lstm' ? randomTensor(rng, [layer.numLayers * dirs, c.B, H], 0.8) : undefined;
      const inputs = [x, h0, ...(c0 === undefined ? [] : [c0]), ...layer.parameters()];
      // NOTE: relu has kinks; a smaller step makes crossing one while differencing unlikely.
      const eps = cell === 'rnn_relu' ? 1e-3 : 1e-2;
      gradcheck(`${cell} ${c.name}`, () => results(layer.forward(x, { h0, c0, lengths: c.lengths })), inputs, { eps, maxPerInput: 24 });
      for (const t of [x, h0, c0]) t?.dispose();
      layer.dispose();
    }
  });
}

/** An rng that replays the same draws after each reset(), so dropout masks repeat across evaluations. */
class ReplayRng extends Rng {
  private inner: Rng;
  constructor(private readonly seed: number) {
    super(seed);
    this.inner = new Rng(seed);
  }
  reset(): void {
    this.inner = new Rng(this.seed);
  }
  override uniform(): number {
    return this.inner.uniform();
  }
  override dropoutMask(out: Float32Array, p: number, keep: number, kernel?: MaskKernel): void {
    this.inner.dropoutMask(out, p, keep, kernel);
  }
}

test('gradcheck: dropout between layers (masks held fixed)', () => {
  for (const cell of ['lstm', 'gru_cho'] as const) {
    const rng = new ReplayRng(5);
    const layer = createRecurrent(cell, { inputSize: 2, hiddenSize: 3, numLayers: 3, dropout: 0.3, bidirectional: true }, rng);
    const data = new Rng(6);
    const x = randomTensor(data, [3, 2, 2]);
    gradcheck(`${cell} dropout`, () => {
      rng.reset();
      return results(layer.forward(x, { lengths: [3, 2] }));
    }, [x, ...layer.parameters()], { maxPerInput: 12 });
    x.dispose();
    layer.dispose();
  }
});
