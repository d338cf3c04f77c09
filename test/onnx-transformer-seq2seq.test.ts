// The Transformer encoder–decoder's two ONNX graphs in ONNX Runtime against recurrent: the encoder's memory
// and cross-attention keys and values against TransformerSeq2Seq.encode, each decoder step (logits, the
// grown cache, the attention) against decodeStep fed the same tokens, and the decoder graph driven as a
// greedy loop from bos against greedyDecode, token for token. Post-norm and pre-norm, relu and gelu,
// sinusoidal and learned positions, tied and untied heads, 1–3 layers a side, 1–4 heads, sources of different
// lengths padded with a real id. Each model is fitted for a few steps to reverse its sources, so that greedy
// decoding writes different tokens and ends with eos (an untrained one repeats one token and never stops).
// Tensors within 1e-5 of their largest magnitude.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward } from '../src/autograd/tape.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { TransformerSeq2Seq, type TransformerSeq2SeqConfig } from '../src/nn/transformer-seq2seq.js';
import { toOnnx } from '../src/onnx.js';
import { createOptimizer, disposeOptimizer, optimizerStep } from '../src/optim/optimizer.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, int64, ort, session } from './util/onnx-runtime.js';

const V = 12;
const BOS = 10;
const EOS = 11;
const SRC = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 1]];
const TGT = SRC.map((s) => [...s].reverse());
const B = SRC.length;
const S = Math.max(...SRC.map((s) => s.length));
const LENGTHS = SRC.map((s) => s.length);

type Variant = Pick<TransformerSeq2SeqConfig, 'dModel' | 'nhead' | 'numEncoderLayers' | 'numDecoderLayers' | 'activation' | 'normFirst' | 'positions' | 'tieEmbeddings'>;
const variants: Variant[] = [
  { dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, activation: 'relu', normFirst: false, positions: 'sinusoidal', tieEmbeddings: false },
  { dModel: 8, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 2, activation: 'gelu', normFirst: true, positions: 'learned', tieEmbeddings: true },
  { dModel: 6, nhead: 1, numEncoderLayers: 2, numDecoderLayers: 1, activation: 'gelu', normFirst: false, positions: 'learned', tieEmbeddings: false },
  { dModel: 12, nhead: 3, numEncoderLayers: 3, numDecoderLayers: 3, activation: 'relu', normFirst: true, positions: 'sinusoidal', tieEmbeddings: true },
];

/** A model fitted for 30 Adam steps to the reversal of SRC (a loss of about 0.1), in eval mode. */
function model(v: Variant, seed: number): TransformerSeq2Seq {
  const m = new TransformerSeq2Seq({ arch: 'transformer', srcVocabSize: 10, tgtVocabSize: V, dimFeedforward: 10, dropout: 0, maxLength: 12, bos: BOS, eos: EOS, ...v }, new Rng(seed));
  const params = m.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 3e-2 });
  for (let step = 0; step < 30; step++) {
    tidy(() => backward(m.forward({ src: SRC, tgt: TGT }).loss));
    optimizerStep(optim, params);
    m.zeroGrad();
  }
  disposeOptimizer(optim);
  return m.eval();
}

/** Rows (b, s) with s < the source's length, in (b, s) order, of a tensor laid out with strides per b and s of `width` features each. */
function validRows(x: ArrayLike<number>, strideB: number, strideS: number, width: number): number[] {
  const out: number[] = [];
  SRC.forEach((seq, b) => { for (let s = 0; s < seq.length; s++) for (let f = 0; f < width; f++) out.push(x[b * strideB + s * strideS + f]); });
  return out;
}

/** (B, heads, S, D) per head -> valid (b, s) rows of heads·D features, as recurrent's (S, B, E) [k | v] columns hold them. */
function headRows(t: ort.Tensor): number[] {
  const [, H, Sx, D] = t.dims;
  const x = t.data as Float32Array;
  const out: number[] = [];
  SRC.forEach((seq, b) => { for (let s = 0; s < seq.length; s++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) out.push(x[((b * H + h) * Sx + s) * D + d]); });
  return out;
}

function argmaxRows(logits: Float32Array): number[] {
  return Array.from({ length: B }, (_, b) => {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[b * V + j] > logits[b * V + best]) best = j;
    return best;
  });
}

for (const [i, v] of variants.entries()) {
  test(`Transformer seq2seq ${JSON.stringify(v)}: encoder, decoder steps and greedy decoding equal recurrent's`, async () => {
    const m = model(v, 20 + i);
    const { dModel: E, nhead: heads, numDecoderLayers: L } = m.config;
    const D = E / heads;
    const [encoder, decoder] = toOnnx(m);
    assert.deepEqual([encoder.name, decoder.name], ['encoder', 'decoder']);
    const src = new Float64Array(B * S).fill(3); // padding: a real id, never read
    SRC.forEach((s, b) => s.forEach((id, k) => (src[b * S + k] = id)));
    const enc = await (await session(encoder.bytes)).run({ src: int64(src, [B, S]), src_lengths: int64(LENGTHS, [B]) });
    const dec = await session(decoder.bytes);

    // The encoder: memory and every decoder layer's projected memory at the real positions (padding rows are never read).
    noGrad(() => tidy(() => {
      const { encoded } = m.encode(SRC);
      assert.deepEqual(enc.memory.dims, [B, S, E]);
      assertClose(validRows(enc.memory.data as Float32Array, S * E, E, E), validRows(encoded.memory.data, E, B * E, E), 'encoder memory');
      for (let l = 0; l < L; l++) {
        const kv = encoded.memoryKeyValues[l].data; // (S, B, 2E)
        assertClose(headRows(enc[`memory_key_${l}`]), validRows(kv, 2 * E, B * 2 * E, E), `encoder memory_key_${l}`);
        assertClose(headRows(enc[`memory_value_${l}`]), validRows(kv.subarray(E), 2 * E, B * 2 * E, E), `encoder memory_value_${l}`);
        for (const p of ['key', 'value']) assert.deepEqual(enc[`past_${p}_${l}`].dims, [B, heads, 0, D], `encoder past_${p}_${l}`);
      }
    }));
    const memoryInputs: Record<string, ort.Tensor> = { src_lengths: int64(LENGTHS, [B]) };
    const firstPast: Record<string, ort.Tensor> = {};
    for (let l = 0; l < L; l++) {
      for (const p of ['key', 'value']) {
        memoryInputs[`memory_${p}_${l}`] = enc[`memory_${p}_${l}`];
        firstPast[`past_${p}_${l}`] = enc[`past_${p}_${l}`];
      }
    }
    const pastOf = (r: ort.InferenceSession.OnnxValueMapType): Record<string, ort.Tensor> => Object.fromEntries(Object.keys(firstPast).map((k) => [k, r[k.replace('past', 'present')]]));

    // Five decoder steps fed the same tokens on both sides.
    const feedTokens = [[BOS, BOS, BOS], [4, 7, 1], [2, 2, 9], [0, 5, 3], [6, 6, 6]];
    const wants = noGrad(() => tidy(() => {
      let { encoded, state } = m.encode(SRC);
      return feedTokens.map((prev) => {
        const out = m.decodeStep(encoded, state, Int32Array.from(prev));
        state = out.state;
        return { logits: out.logits.data.slice(), weights: out.weights!.data.slice() };
      });
    }));
    let past = firstPast;
    for (const [t, prev] of feedTokens.entries()) {
      const r = await dec.run({ token: int64(prev, [B]), ...past, ...memoryInputs });
      assertClose(r.logits, wants[t].logits, `step ${t} logits`, [B, V]);
      assertClose(r.attention, wants[t].weights, `step ${t} attention`, [B, S]);
      for (let l = 0; l < L; l++) assert.deepEqual(r[`present_key_${l}`].dims, [B, heads, t + 1, D], `present_key_${l} after step ${t}`);
      past = pastOf(r);
    }

    // Greedy decoding through the decoder graph from bos, row by row as greedyDecode does (finished rows keep stepping).
    const maxLength = 8;
    const hyps = greedyDecode(m, SRC, { maxLength });
    const want = hyps.map((h) => h.tokens);
    const got: number[][] = SRC.map(() => []);
    const done = SRC.map(() => false);
    let prev = new Array<number>(B).fill(BOS);
    past = firstPast;
    for (let t = 0; t < maxLength && done.some((d) => !d); t++) {
      const r = await dec.run({ token: int64(prev, [B]), ...past, ...memoryInputs });
      prev = argmaxRows(r.logits.data as Float32Array);
      prev.forEach((best, b) => {
        if (done[b]) return;
        if (best === EOS) done[b] = true;
        else got[b].push(best);
      });
      past = pastOf(r);
    }
    assert.ok(hyps.every((h) => h.finished && new Set(h.tokens).size >= 2), `greedy decoding should write different tokens and end with eos, got ${JSON.stringify(want)}`);
    assert.deepEqual(got, want, 'greedy tokens');
    m.dispose();
  });
}
