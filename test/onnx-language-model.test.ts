// The language model's ONNX graphs run in ONNX Runtime against recurrent's own forward pass: every cell
// kind, several layers, the step graph fed token by token with its state carried, the sequence graph from
// a non-zero state. Every tensor within 1e-5 of its largest magnitude.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LanguageModel, disposeState } from '../src/nn/language-model.js';
import { cellKinds } from '../src/nn/recurrent/index.js';
import { languageModelToOnnx } from '../src/onnx/language-model-onnx.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, float, int64, session, zeros } from './util/onnx-runtime.js';

const V = 11;
const T = 5;
const B = 3;

/** (T, B, ·) time-major rows to (B, T, ·) batch-first. */
function batchFirst(x: Float32Array, F: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(x.subarray((t * B + b) * F, (t * B + b + 1) * F), (b * T + t) * F);
  return out;
}

for (const cell of cellKinds) {
  test(`language model (${cell}, 2 layers): the step and sequence graphs equal recurrent's forward`, async () => {
    const rng = new Rng(7);
    const H = 6;
    const L = 2;
    const model = new LanguageModel({ cell, vocabSize: V, hiddenSize: H, numLayers: L, dropout: 0 }, rng).eval();
    const ids = Int32Array.from({ length: T * B }, () => rng.int(V)); // (T, B)
    const h0 = Float32Array.from({ length: L * B * H }, () => rng.normal() * 0.5);
    const c0 = Float32Array.from({ length: L * B * H }, () => rng.normal() * 0.5);
    const lstm = cell === 'lstm';
    const want = noGrad(() => tidy(() => {
      const state = { h: Tensor.from(h0, [L, B, H]), c: lstm ? Tensor.from(c0, [L, B, H]) : null };
      const r = model.forward(ids, T, B, state);
      return { logits: r.logits.data.slice(), h: r.state.h.data.slice(), c: r.state.c?.data.slice() ?? null };
    }));
    const [step, sequence] = languageModelToOnnx(model);
    assert.deepEqual([step.name, sequence.name], ['step', 'sequence']);

    // The sequence graph: tokens (B, T) batch-first, logits (B, T, V).
    const seq = await session(sequence.bytes);
    const tokens = int64(batchFirst(Float32Array.from(ids), 1), [B, T]);
    const out = await seq.run({ tokens, h: float(h0, [L, B, H]), ...(lstm ? { c: float(c0, [L, B, H]) } : {}) });
    assertClose(out.logits, batchFirst(want.logits, V), `${cell} sequence logits`, [B, T, V]);
    assertClose(out.h_out, want.h, `${cell} sequence h_out`, [L, B, H]);
    if (lstm) assertClose(out.c_out, want.c!, `${cell} sequence c_out`, [L, B, H]);

    // The step graph, fed one position at a time with its state carried.
    const stepper = await session(step.bytes);
    let h = float(h0, [L, B, H]);
    let c = lstm ? float(c0, [L, B, H]) : null;
    for (let t = 0; t < T; t++) {
      const r = await stepper.run({ token: int64(ids.subarray(t * B, (t + 1) * B), [B]), h, ...(c === null ? {} : { c }) });
      assertClose(r.logits, want.logits.subarray(t * B * V, (t + 1) * B * V), `${cell} step ${t} logits`, [B, V]);
      h = r.h_out;
      c = lstm ? r.c_out : null;
    }
    assertClose(h, want.h, `${cell} step h_out`);
    if (lstm) assertClose(c!, want.c!, `${cell} step c_out`);
    model.dispose();
  });
}

test('language model: a zero state starts a sequence, as recurrent with no state', async () => {
  const rng = new Rng(3);
  const model = new LanguageModel({ cell: 'gru', vocabSize: V, hiddenSize: 8, numLayers: 1, dropout: 0 }, rng).eval();
  const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
  const want = noGrad(() => tidy(() => {
    const r = model.forward(ids, T, B, null);
    disposeState(null);
    return r.logits.data.slice();
  }));
  const [, sequence] = languageModelToOnnx(model);
  const out = await (await session(sequence.bytes)).run({ tokens: int64(batchFirst(Float32Array.from(ids), 1), [B, T]), h: zeros([1, B, 8]) });
  assertClose(out.logits, batchFirst(want, V), 'logits');
  model.dispose();
});
