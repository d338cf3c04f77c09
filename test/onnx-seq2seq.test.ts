// The encoder–decoder's two ONNX graphs in ONNX Runtime against recurrent: the encoder's outputs against
// Seq2Seq.encode, each decoder step against Seq2Seq.step fed the same tokens, and the decoder graph driven
// as a greedy loop (argmax, feed back, stop at eos) against greedyDecode, token for token. Every cell kind,
// every attention kind, bidirectional and bridged encoders, two layers, input feeding, sources of
// different lengths. Tensors within 1e-5 of their largest magnitude.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greedyDecode } from '../src/decode/greedy.js';
import { cellKinds } from '../src/nn/recurrent/index.js';
import { Seq2Seq, type Seq2SeqConfig } from '../src/nn/seq2seq.js';
import { seq2seqToOnnx } from '../src/onnx/seq2seq-onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, int64, ort, session } from './util/onnx-runtime.js';

const BOS = 10;
const EOS = 11;
const SRC = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 1]];

const variants: Array<Partial<Seq2SeqConfig>> = [
  ...cellKinds.map((cell) => ({ cell, attention: 'luong-general' as const, numLayers: 2 })),
  { cell: 'lstm', attention: 'bahdanau', bidirectional: true },
  { cell: 'gru', attention: 'bahdanau', numLayers: 2, attentionSize: 7 },
  { cell: 'mut3', attention: 'bahdanau', bidirectional: true },
  { cell: 'lstm', attention: 'luong-dot', bidirectional: true, encoderHiddenSize: 3 },
  { cell: 'gru_cho', attention: 'luong-dot' },
  { cell: 'lstm', attention: 'luong-general', bidirectional: true, inputFeeding: true, numLayers: 2 },
  { cell: 'rnn_tanh', attention: 'luong-dot', inputFeeding: true },
  { cell: 'gru', attention: 'none', bidirectional: true },
  { cell: 'lstm', attention: 'none', encoderHiddenSize: 4, numLayers: 2 },
];

for (const v of variants) {
  test(`seq2seq ${JSON.stringify(v)}: encoder, decoder steps and greedy decoding equal recurrent's`, async () => {
    // MUT1 and MUT2 need each layer's input as wide as its state: embeddings of the hidden size.
    const model = new Seq2Seq({ srcVocabSize: 10, tgtVocabSize: 12, embeddingSize: 6, hiddenSize: 6, bos: BOS, eos: EOS, cell: 'gru', ...v }, new Rng(5)).eval();
    // An untrained model often says eos first; lowered, decoding runs for several steps.
    model.head.bias!.data[EOS] -= 2;
    const { attention, inputFeeding } = model.config;
    const [encoder, decoder] = seq2seqToOnnx(model);
    assert.deepEqual([encoder.name, decoder.name], ['encoder', 'decoder']);
    const B = SRC.length;
    const S = Math.max(...SRC.map((s) => s.length));
    const lengths = SRC.map((s) => s.length);
    const src = new Float64Array(B * S).fill(3); // padding: a real id, never read
    SRC.forEach((s, b) => s.forEach((id, i) => (src[b * S + i] = id)));
    const enc = await (await session(encoder.bytes)).run({ src: int64(src, [B, S]), src_lengths: int64(lengths, [B]) });
    const dec = await session(decoder.bytes);

    // The encoder, then three decoder steps fed the same tokens on both sides.
    const feedTokens = [[BOS, BOS, BOS], [4, 7, 1], [2, 2, 9]];
    noGrad(() => tidy(() => {
      const { encoded, state } = model.encode(SRC);
      assertClose(enc.h, state.h.data, 'encoder h');
      if (state.c !== null) assertClose(enc.c, state.c.data, 'encoder c');
      if (encoded.memory !== null) {
        assertClose(enc.memory, encoded.memory.keys.data, 'encoder memory');
        if (encoded.memory.projected !== null) assertClose(enc.memory_keys, encoded.memory.projected.data, 'encoder memory_keys');
      }
    }));
    const memoryInputs = attention === 'none' ? {} : {
      memory: enc.memory, src_lengths: int64(lengths, [B]), ...(attention === 'luong-dot' ? {} : { memory_keys: enc.memory_keys }),
    };
    const stateOf = (r: ort.InferenceSession.OnnxValueMapType, first: boolean): Record<string, ort.Tensor> => ({
      h: first ? r.h : r.h_out,
      ...(model.config.cell === 'lstm' ? { c: first ? r.c : r.c_out } : {}),
      ...(inputFeeding ? { feed: first ? r.feed : r.feed_out } : {}),
    });
    let onnxState = stateOf(enc, true);
    const wants = noGrad(() => tidy(() => {
      let { encoded, state } = model.encode(SRC);
      return feedTokens.map((prev) => {
        const out = model.step(encoded, state, Int32Array.from(prev));
        state = out.state;
        return { logits: out.logits.data.slice(), h: out.state.h.data.slice(), weights: out.weights?.data.slice() ?? null };
      });
    }));
    for (const [t, prev] of feedTokens.entries()) {
      const r = await dec.run({ token: int64(prev, [B]), ...onnxState, ...memoryInputs });
      assertClose(r.logits, wants[t].logits, `step ${t} logits`, [B, 12]);
      assertClose(r.h_out, wants[t].h, `step ${t} h_out`);
      if (wants[t].weights !== null) assertClose(r.attention, wants[t].weights!, `step ${t} attention`, [B, S]);
      onnxState = stateOf(r, false);
    }

    // Greedy decoding through the decoder graph, row by row as greedyDecode does (finished rows keep stepping).
    const maxLength = 8;
    const want = greedyDecode(model, SRC, { maxLength }).map((h) => h.tokens);
    const got: number[][] = SRC.map(() => []);
    const done = SRC.map(() => false);
    let prev = new Array<number>(B).fill(BOS);
    onnxState = stateOf(enc, true);
    for (let t = 0; t < maxLength && done.some((d) => !d); t++) {
      const r = await dec.run({ token: int64(prev, [B]), ...onnxState, ...memoryInputs });
      const logits = r.logits.data as Float32Array;
      prev = prev.map((_, b) => {
        let best = 0;
        for (let j = 1; j < 12; j++) if (logits[b * 12 + j] > logits[b * 12 + best]) best = j;
        if (!done[b]) {
          if (best === EOS) done[b] = true;
          else got[b].push(best);
        }
        return best;
      });
      onnxState = stateOf(r, false);
    }
    assert.ok(want.some((w) => w.length >= 2), `greedy decoding should run past its first step, got ${JSON.stringify(want)}`);
    assert.deepEqual(got, want, 'greedy tokens');
    model.dispose();
  });
}
