// The Transformer layers beyond their PyTorch fixtures: finite-difference gradient checks of every layer
// (LayerNorm, MultiheadAttention, encoder and decoder layers and stacks, Transformer, positional
// encodings), state_dict names, bad input as one-line errors, the key/value cache against the full causal
// pass, dropout (training only, the returned weights after it) and rows whose keys are all masked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../src/random/rng.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import {
  KeyValueCache, LayerNorm, LearnedPositionalEncoding, MultiheadAttention, SinusoidalPositionalEncoding, Transformer, TransformerDecoder,
  TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer, boolMask, squareSubsequentMask,
} from '../src/nn/transformer/index.js';
import { gradcheck, randomTensor } from './util/gradcheck.js';

const rng = new Rng(77);
const small = { dModel: 6, nhead: 2, dimFeedforward: 5, dropout: 0 };

test('LayerNorm: PyTorch names and defaults, gradients, shape errors', () => {
  const ln = new LayerNorm({ normalizedShape: [2, 3] });
  assert.deepEqual(ln.namedParameters().map(([n, t]) => [n, t.shape]), [['weight', [2, 3]], ['bias', [2, 3]]]);
  assert.equal(ln.eps, 1e-5);
  ln.weight!.data.set([0.5, 1, 1.5, -1, 2, 0.3]);
  ln.bias!.data.set([0.1, -0.2, 0.3, 0, 0.5, -1]);
  const x = randomTensor(rng, [4, 2, 3], 2);
  gradcheck('LayerNorm', () => ln.forward(x), [x, ln.weight!, ln.bias!]);
  assert.deepEqual(new LayerNorm({ normalizedShape: 4, elementwiseAffine: false }).namedParameters(), []);
  assert.deepEqual(new LayerNorm({ normalizedShape: 4, bias: false }).namedParameters().map(([n]) => n), ['weight']);
  assert.throws(() => ln.forward(Tensor.zeros([4, 3, 2])), /^Error: LayerNorm: input of shape \[4, 3, 2\] does not end in normalizedShape \[2, 3\]$/);
  assert.throws(() => new LayerNorm({ normalizedShape: 0 }), /normalizedShape\[0\] must be a positive integer, got 0/);
  assert.throws(() => new LayerNorm({ normalizedShape: 4, elementwise_affine: false } as never), /unknown option "elementwise_affine"/);
});

test('MultiheadAttention: PyTorch names and shapes, zero biases, init bounds', () => {
  const mha = new MultiheadAttention({ embedDim: 8, numHeads: 2 }, rng);
  assert.deepEqual(mha.namedParameters().map(([n, t]) => [n, t.shape]),
    [['in_proj_weight', [24, 8]], ['in_proj_bias', [24]], ['out_proj.weight', [8, 8]], ['out_proj.bias', [8]]]);
  assert.ok(mha.inProjBias!.data.every((v) => v === 0) && mha.outProj.bias!.data.every((v) => v === 0));
  assert.ok(mha.inProjWeight.data.every((v) => Math.abs(v) <= Math.sqrt(6 / 32)), 'Xavier-uniform bound');
  assert.deepEqual(new MultiheadAttention({ embedDim: 8, numHeads: 2, bias: false }, rng).namedParameters().map(([n]) => n), ['in_proj_weight', 'out_proj.weight']);
});

test('MultiheadAttention: gradients (self, key = value, separate; masks; per head and averaged weights; batch-first)', () => {
  const mha = new MultiheadAttention({ embedDim: 6, numHeads: 3 }, rng);
  for (const p of mha.parameters()) p.data.forEach((_, i, d) => { d[i] = rng.uniform() - 0.5; });
  const params = mha.parameters();
  const x = randomTensor(rng, [4, 2, 6]);
  gradcheck('mha self causal', () => {
    const r = mha.forward(x, x, x, { isCausal: true, keyPaddingMask: boolMask([0, 0, 0, 0, 0, 0, 1, 1], [2, 4]) });
    return [r.output, r.weights!];
  }, [x, ...params], { maxPerInput: 20 });
  const q = randomTensor(rng, [3, 2, 6]);
  const kv = randomTensor(rng, [5, 2, 6]);
  const v = randomTensor(rng, [5, 2, 6]);
  const m = Tensor.from(Array.from({ length: 15 }, (_, i) => (i % 4 === 1 ? -Infinity : 0.2 * i)), [3, 5]);
  gradcheck('mha key = value, float mask, per head', () => {
    const r = mha.forward(q, kv, kv, { attnMask: m, averageAttnWeights: false });
    return [r.output, r.weights!];
  }, [q, kv, ...params], { maxPerInput: 20 });
  const bf = new MultiheadAttention({ embedDim: 6, numHeads: 2, batchFirst: true }, rng);
  const qb = randomTensor(rng, [2, 3, 6]);
  const kb = randomTensor(rng, [2, 4, 6]);
  const vb = randomTensor(rng, [2, 4, 6]);
  const m3 = boolMask(Array.from({ length: 4 * 3 * 4 }, (_, i) => i % 5 === 2 && i % 4 !== 0), [4, 3, 4]);
  gradcheck('mha separate, batch-first, 3-D bool mask', () => bf.forward(qb, kb, vb, { attnMask: m3, needWeights: false }).output, [qb, kb, vb, ...bf.parameters()], { maxPerInput: 20 });
  void v;
});

test('MultiheadAttention: bad options and inputs are one-line errors naming them', () => {
  const one = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: Error) => re.test(e.message) && !e.message.includes('\n'));
  };
  one(() => new MultiheadAttention({ embedDim: 10, numHeads: 3 }, rng), /numHeads 3 does not divide embedDim 10/);
  one(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, kdim: 4 }, rng), /kdim 4 ≠ embedDim 8 .* not supported/);
  one(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, vdim: 6 }, rng), /vdim 6 ≠ embedDim 8/);
  one(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, addBiasKv: true }, rng), /addBiasKv .* is not supported/);
  one(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, addZeroAttn: true }, rng), /addZeroAttn .* is not supported/);
  one(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, add_bias_kv: true } as never, rng), /unknown option "add_bias_kv"/);
  assert.doesNotThrow(() => new MultiheadAttention({ embedDim: 8, numHeads: 2, kdim: 8, vdim: null }, rng)); // the defaults
  const mha = new MultiheadAttention({ embedDim: 8, numHeads: 2 }, rng);
  noGrad(() => tidy(() => {
    const x = Tensor.zeros([5, 2, 8]);
    const k = Tensor.zeros([7, 2, 8]);
    one(() => mha.forward(x, k, k, { attnMask: Tensor.zeros([5, 5]) }), /attnMask has shape \[5, 5\], but should be \[5, 7\] \(L, S\) or \[4, 5, 7\]/);
    one(() => mha.forward(x, k, k, { keyPaddingMask: boolMask([0, 0], [2, 1]) }), /keyPaddingMask has shape \[2, 1\], but should be \[2, 7\]/);
    one(() => mha.forward(x, k, k, { attnMask: [[0]] as never }), /attnMask must be a float Tensor or a BoolMask/);
    one(() => mha.forward(Tensor.zeros([5, 8]), k, k), /query must have shape \(T, B, embedDim\) with embedDim 8, got \[5, 8\]/);
    one(() => mha.forward(x, Tensor.zeros([7, 3, 8]), Tensor.zeros([7, 3, 8])), /must have query's batch 2/);
    one(() => mha.forward(x, x, x, { need_weights: false } as never), /unknown option "need_weights"/);
  }));
});

test('MultiheadAttention: a query whose keys are all masked gets zero weights and the out_proj bias (PyTorch: NaN)', () => {
  const mha = new MultiheadAttention({ embedDim: 4, numHeads: 2 }, rng);
  mha.outProj.bias!.data.set([1, 2, 3, 4]);
  noGrad(() => tidy(() => {
    const x = randomTensor(rng, [3, 1, 4], 1, false);
    const { output, weights } = mha.forward(x, x, x, { attnMask: boolMask([1, 1, 1, 0, 0, 0, 0, 0, 0], [3, 3]) });
    assert.deepEqual(Array.from(weights!.data.subarray(0, 3)), [0, 0, 0]);
    assert.deepEqual(Array.from(output.data.subarray(0, 4)), [1, 2, 3, 4]);
    assert.ok(output.data.every(Number.isFinite));
  }));
});

test('MultiheadAttention: dropout applies in training only, and the weights returned are the dropped ones', () => {
  const mha = new MultiheadAttention({ embedDim: 4, numHeads: 1, dropout: 0.5 }, new Rng(3));
  noGrad(() => tidy(() => {
    const x = randomTensor(rng, [6, 2, 4], 1, false);
    const train = mha.forward(x, x, x).weights!.toArray();
    assert.ok(train.some((w) => w === 0), 'some weights dropped');
    assert.ok(train.some((w) => w > 0.5 / 6 * 2), 'kept ones scaled by 1/(1-p)');
    mha.eval();
    const evalW = mha.forward(x, x, x).weights!.toArray();
    for (let r = 0; r < 12; r++) assert.ok(Math.abs(evalW.slice(r * 6, r * 6 + 6).reduce((a, b) => a + b, 0) - 1) < 1e-5, 'eval rows sum to 1');
  }));
});

test('encoder and decoder layers: PyTorch state_dict names and gradients (post-norm and pre-norm, relu and gelu)', () => {
  const enc = new TransformerEncoderLayer({ dModel: 8, nhead: 2 }, rng);
  assert.deepEqual(enc.namedParameters().map(([n]) => n), [
    'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
    'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
  ]);
  assert.deepEqual(enc.namedParameters()[4][1].shape, [2048, 8], 'dimFeedforward defaults to 2048');
  assert.equal(enc.options.dropout, 0.1);
  const dec = new TransformerDecoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 4, bias: false }, rng);
  assert.deepEqual(dec.namedParameters().map(([n]) => n), [
    'self_attn.in_proj_weight', 'self_attn.out_proj.weight', 'multihead_attn.in_proj_weight', 'multihead_attn.out_proj.weight',
    'linear1.weight', 'linear2.weight', 'norm1.weight', 'norm2.weight', 'norm3.weight',
  ]);
  for (const [normFirst, activation] of [[false, 'relu'], [true, 'gelu']] as const) {
    const e = new TransformerEncoderLayer({ ...small, normFirst, activation }, rng);
    const x = randomTensor(rng, [3, 2, 6]);
    gradcheck(`encoder layer normFirst ${normFirst} ${activation}`, () => e.forward(x, { isCausal: true }), [x, ...e.parameters()], { maxPerInput: 12 });
    const d = new TransformerDecoderLayer({ ...small, normFirst, activation, batchFirst: true }, rng);
    const t = randomTensor(rng, [2, 3, 6]);
    const m = randomTensor(rng, [2, 4, 6]);
    gradcheck(`decoder layer normFirst ${normFirst} ${activation}`, () => {
      const r = d.forwardWithWeights(t, m, { tgtIsCausal: true, memoryKeyPaddingMask: boolMask([0, 0, 0, 1, 0, 0, 0, 0], [2, 4]) });
      return [r.output, r.crossWeights];
    }, [t, m, ...d.parameters()], { maxPerInput: 12 });
  }
});

test('TransformerEncoder, TransformerDecoder and Transformer: names (layers.0..., norm), gradients, masks passed through', () => {
  // GELU: finite differences of ±1e-2 would cross ReLU's kink somewhere in a stack (the fixtures check ReLU against PyTorch).
  const tr = new Transformer({ ...small, activation: 'gelu', numEncoderLayers: 2, numDecoderLayers: 1 }, rng);
  const names = tr.namedParameters().map(([n]) => n);
  for (const n of ['encoder.layers.0.self_attn.in_proj_weight', 'encoder.layers.1.norm2.bias', 'encoder.norm.weight', 'decoder.layers.0.multihead_attn.out_proj.bias', 'decoder.norm.bias']) {
    assert.ok(names.includes(n), `no ${n}`);
  }
  assert.ok(!names.some((n) => n.startsWith('decoder.layers.1')));
  assert.equal(new Transformer({}, rng).dModel, 512, "nn.Transformer's defaults: d_model 512");
  const src = randomTensor(rng, [4, 2, 6]);
  const tgt = randomTensor(rng, [3, 2, 6]);
  gradcheck('Transformer', () => tr.forward(src, tgt, { tgtMask: squareSubsequentMask(3), srcKeyPaddingMask: boolMask([0, 0, 0, 0, 0, 0, 1, 1], [2, 4]), memoryKeyPaddingMask: boolMask([0, 0, 0, 0, 0, 0, 1, 1], [2, 4]) }),
    [src, tgt, ...tr.parameters()], { maxPerInput: 6 });
  const enc = new TransformerEncoder({ layer: small, numLayers: 2, norm: true }, rng);
  assert.deepEqual(enc.namedParameters().slice(-2).map(([n]) => n), ['norm.weight', 'norm.bias']);
  const decoder = new TransformerDecoder({ layer: small, numLayers: 2 }, rng);
  noGrad(() => tidy(() => {
    const r = decoder.forwardWithWeights(tgt, src);
    assert.equal(r.crossWeights.length, 2);
    assert.deepEqual(r.crossWeights[0].shape, [2, 2, 3, 4], '(B, nhead, T, S) per layer');
    assert.throws(() => tr.forward(src, randomTensor(rng, [3, 3, 6], 1, false)), /must be 3-D with one batch size/);
    assert.throws(() => new Transformer({ ...small, customEncoder: enc } as never, rng), /unknown option "customEncoder"/);
    assert.throws(() => new TransformerEncoderLayer({ dModel: 6, nhead: 4 }, rng), /^Error: TransformerEncoderLayer: nhead 4 does not divide dModel 6$/);
    assert.throws(() => new TransformerEncoderLayer({ ...small, activation: 'tanh' as never }, rng), /activation must be 'relu' or 'gelu', got "tanh"/);
    assert.throws(() => enc.forward(src, { caches: [] }), /caches must hold one KeyValueCache per layer \(2\), got 0/);
  }));
});

test('the key/value cache: decoding step by step equals the full causal pass (GPT-style pre-norm blocks and decoder layers)', () => {
  for (const batchFirst of [false, true]) {
    const enc = new TransformerEncoder({ layer: { ...small, normFirst: true, batchFirst, activation: 'gelu' }, numLayers: 2, norm: true }, rng).eval();
    const dec = new TransformerDecoder({ layer: { ...small, batchFirst }, numLayers: 2, norm: true }, rng).eval();
    const T = 5;
    const B = 2;
    noGrad(() => tidy(() => {
      const x = randomTensor(rng, batchFirst ? [B, T, 6] : [T, B, 6], 1, false);
      const memory = randomTensor(rng, batchFirst ? [B, 4, 6] : [4, B, 6], 1, false);
      const full = enc.forward(x, { isCausal: true }).toArray();
      const fullDec = dec.forward(x, memory, { tgtIsCausal: true }).toArray();
      const caches = [0, 1].map(() => new KeyValueCache({ batch: B, capacity: T, embedDim: 6 }));
      const decCaches = [0, 1].map(() => new KeyValueCache({ batch: B, capacity: T, embedDim: 6 }));
      const at = (i: number, t: number, b: number): number => (batchFirst ? (b * T + t) * 6 + i : (t * B + b) * 6 + i);
      // Steps 0-1 as one chunk of two, then one at a time.
      for (const [t0, n] of [[0, 2], [2, 1], [3, 1], [4, 1]]) {
        const xs = new Tensor(batchFirst ? [B, n, 6] : [n, B, 6]);
        for (let t = 0; t < n; t++) for (let b = 0; b < B; b++) for (let i = 0; i < 6; i++) xs.data[batchFirst ? (b * n + t) * 6 + i : (t * B + b) * 6 + i] = x.data[at(i, t0 + t, b)];
        const y = enc.forward(xs, { isCausal: true, caches }).data;
        const yd = dec.forward(xs, memory, { tgtIsCausal: true, caches: decCaches }).data;
        for (let t = 0; t < n; t++) {
          for (let b = 0; b < B; b++) {
            for (let i = 0; i < 6; i++) {
              const o = batchFirst ? (b * n + t) * 6 + i : (t * B + b) * 6 + i;
              assert.ok(Math.abs(y[o] - full[at(i, t0 + t, b)]) < 1e-5, `encoder step ${t0 + t} b ${b}: ${y[o]} vs ${full[at(i, t0 + t, b)]}`);
              assert.ok(Math.abs(yd[o] - fullDec[at(i, t0 + t, b)]) < 1e-5, `decoder step ${t0 + t} b ${b}`);
            }
          }
        }
      }
      assert.equal(caches[0].length, T);
      assert.throws(() => enc.forward(xs1(batchFirst, B), { isCausal: true, caches }), /5 cached steps \+ 1 new ones exceed the cache's capacity 5/);
      for (const c of [...caches, ...decCaches]) c.dispose();
    }));
  }
  const mha = new MultiheadAttention({ embedDim: 6, numHeads: 2 }, rng);
  const cache = new KeyValueCache({ batch: 1, capacity: 4, embedDim: 6 });
  const x = randomTensor(rng, [1, 1, 6]);
  assert.throws(() => mha.forward(x, x, x, { cache }), /a key\/value cache is for inference; run it under noGrad\(\)/);
  cache.dispose();
});
const xs1 = (batchFirst: boolean, B: number): Tensor => new Tensor(batchFirst ? [B, 1, 6] : [1, B, 6]);

test('positional encodings: the sinusoid table (not a parameter), learned positions (weight), offsets, gradients', () => {
  const pe = new SinusoidalPositionalEncoding({ embedDim: 5, maxLength: 10 });
  assert.deepEqual(pe.namedParameters(), []);
  const p = 3;
  const want = [Math.sin(p), Math.cos(p), Math.sin(p / 10000 ** (2 / 5)), Math.cos(p / 10000 ** (2 / 5)), Math.sin(p / 10000 ** (4 / 5))];
  want.forEach((w, i) => assert.ok(Math.abs(pe.table.data[p * 5 + i] - w) < 1e-6, `PE[3, ${i}]`));
  const x = randomTensor(rng, [4, 2, 5]);
  gradcheck('sinusoidal', () => pe.forward(x, 6), [x]);
  assert.throws(() => pe.forward(x, 7), /positions \[7, 11\) are outside the 10 it holds \(maxLength\)/);
  const learned = new LearnedPositionalEncoding({ embedDim: 5, maxLength: 8, batchFirst: true, std: 0.02 }, rng);
  assert.deepEqual(learned.namedParameters().map(([n, t]) => [n, t.shape]), [['weight', [8, 5]]]);
  assert.ok(learned.weight.data.every((v) => Math.abs(v) < 0.2));
  const xb = randomTensor(rng, [2, 3, 5]);
  gradcheck('learned', () => learned.forward(xb, 2), [xb, learned.weight]);
  pe.dispose();
});
