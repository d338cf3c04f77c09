// The captioner's two ONNX graphs in ONNX Runtime against recurrent: the image encoder's grid, initial state
// and projected annotations against Captioner.encode, each decoder step (logits, state, α, β) against
// Captioner.step fed the same words, and the decoder graph driven as a greedy loop against greedyDecode,
// token for token. Soft attention and Show and Tell, CNNs of one and two convolutions per stage on odd image
// sizes and channel counts, and a captioner of annotation grids (no CNN); and a checkpoint from its bytes
// (`recurrent/onnx`), corrupt ones refused in one line. Tensors within 1e-5 of their largest magnitude.
// `recurrent export` of `caption train` checkpoints: onnx-image-cli.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greedyDecode } from '../src/decode/greedy.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { Captioner, type CaptionerConfig } from '../src/nn/captioner.js';
import { checkpointToOnnx, toOnnx } from '../src/onnx.js';
import { captionerToOnnx } from '../src/onnx/captioner-onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, float, int64, session, type ort } from './util/onnx-runtime.js';

const BOS = 0;
const EOS = 1;
const V = 9;
const B = 3;

const variants: Array<{ what: string; config: Partial<CaptionerConfig> }> = [
  { what: 'soft attention, RGB 13×11, one conv per stage', config: { attention: 'soft', image: { channels: 3, height: 13, width: 11 }, encoder: { channels: [4, 6] } } },
  { what: 'soft attention, 1 channel 16×9, two convs per stage, attentionSize 5', config: { attention: 'soft', attentionSize: 5, image: { channels: 1, height: 16, width: 9 }, encoder: { channels: [3, 4, 5], convsPerStage: 2 } } },
  { what: 'Show and Tell, 5 channels 10×7', config: { attention: 'none', image: { channels: 5, height: 10, width: 7 }, encoder: { channels: [4, 6] } } },
  { what: 'soft attention over annotation grids (no CNN)', config: { attention: 'soft', gridCells: 5, annotationSize: 4 } },
  { what: 'Show and Tell over annotation grids (no CNN)', config: { attention: 'none', gridCells: 5, annotationSize: 4 } },
];

/** B random sources of the model's kind: images (C·H·W) with a CNN, else grids (L·D). */
function sources(model: Captioner, rng: Rng): { src: Float32Array[]; dims: number[]; input: string } {
  const { image, gridCells: L, annotationSize: D } = model.config;
  const item = image === undefined ? [L, D] : [image.channels, image.height, image.width];
  const size = item.reduce((a, b) => a * b);
  return {
    src: Array.from({ length: B }, () => Float32Array.from({ length: size }, () => (image === undefined ? rng.uniform() * 2 - 1 : rng.uniform()))),
    dims: [B, ...item],
    input: image === undefined ? 'annotations' : 'image',
  };
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

for (const { what, config } of variants) {
  test(`captioner ${what}: encoder, decoder steps and greedy captions equal recurrent's`, async () => {
    const model = new Captioner({ vocabSize: V, embeddingSize: 4, hiddenSize: 6, bos: BOS, eos: EOS, attention: 'soft', ...config }, new Rng(7)).eval();
    // An untrained model often says eos first; lowered, decoding runs for several steps.
    model.out.bias!.data[EOS] -= 2;
    const soft = model.attention !== null;
    const L = model.config.gridCells;
    const [encoder, decoder] = captionerToOnnx(model);
    assert.deepEqual([encoder.name, decoder.name], ['encoder', 'decoder']);
    const { src, dims, input } = sources(model, new Rng(11));
    const flat = new Float32Array(src.length * src[0].length);
    src.forEach((s, b) => flat.set(s, b * s.length));
    const enc = await (await session(encoder.bytes)).run({ [input]: float(flat, dims) });
    const dec = await session(decoder.bytes);

    // The encoder, then three decoder steps fed the same words on both sides.
    const feedWords = [[BOS, BOS, BOS], [4, 7, 2], [3, 3, 8]];
    const wants = noGrad(() => tidy(() => {
      let { encoded, state } = model.encode(src);
      assertClose(enc.memory, model.annotations(src).data, 'encoder memory (the grid)', [B, L, model.config.annotationSize]);
      assertClose(enc.h, state.h.data, 'encoder h', [1, B, 6]);
      assertClose(enc.c, state.c.data, 'encoder c', [1, B, 6]);
      if (soft) assertClose(enc.memory_keys, encoded.memory!.projected!.data, 'encoder memory_keys');
      else assert.equal(enc.memory_keys, undefined, 'Show and Tell has no memory_keys');
      return feedWords.map((prev) => {
        const out = model.step(encoded, state, Int32Array.from(prev));
        state = out.state;
        return { logits: out.logits.data.slice(), h: state.h.data.slice(), c: state.c.data.slice(), weights: out.weights?.data.slice(), beta: out.beta?.data.slice() };
      });
    }));
    const memoryInputs: Record<string, ort.Tensor> = soft ? { memory: enc.memory, memory_keys: enc.memory_keys } : {};
    const first: Record<string, ort.Tensor> = { h: enc.h, c: enc.c };
    const next = (r: ort.InferenceSession.OnnxValueMapType): Record<string, ort.Tensor> => ({ h: r.h_out, c: r.c_out });
    let state = first;
    for (const [t, prev] of feedWords.entries()) {
      const r = await dec.run({ token: int64(prev, [B]), ...state, ...memoryInputs });
      assertClose(r.logits, wants[t].logits, `step ${t} logits`, [B, V]);
      assertClose(r.h_out, wants[t].h, `step ${t} h_out`, [1, B, 6]);
      assertClose(r.c_out, wants[t].c, `step ${t} c_out`, [1, B, 6]);
      if (soft) {
        assertClose(r.attention, wants[t].weights!, `step ${t} attention`, [B, L]);
        assertClose(r.beta, wants[t].beta!, `step ${t} beta`, [B, 1]);
      } else assert.equal(r.attention, undefined, 'Show and Tell has no attention');
      state = next(r);
    }

    // Greedy captions through the decoder graph, all rows at once as greedyDecode does (finished rows keep stepping).
    const maxLength = 8;
    const want = greedyDecode(model, src, { maxLength }).map((h) => h.tokens);
    const got: number[][] = src.map(() => []);
    const done = src.map(() => false);
    let prev = new Array<number>(B).fill(BOS);
    state = first;
    for (let t = 0; t < maxLength && done.some((d) => !d); t++) {
      const r = await dec.run({ token: int64(prev, [B]), ...state, ...memoryInputs });
      const logits = r.logits.data as Float32Array;
      prev = prev.map((_, b) => {
        const best = argmax(logits.subarray(b * V, (b + 1) * V));
        if (!done[b]) {
          if (best === EOS) done[b] = true;
          else got[b].push(best);
        }
        return best;
      });
      state = next(r);
    }
    assert.ok(want.some((w) => w.length >= 2), `greedy decoding should run past its first step, got ${JSON.stringify(want)}`);
    assert.deepEqual(got, want, 'greedy tokens');
    model.dispose();
  });
}

test('a captioner checkpoint from its bytes: the graphs of the model it describes; a corrupt one is one line', () => {
  const model = new Captioner({ vocabSize: 4, embeddingSize: 4, hiddenSize: 5, attention: 'soft', bos: 0, eos: 1, image: { channels: 3, height: 8, width: 8 }, encoder: { channels: [2, 3] } }, new Rng(2)).eval();
  const config = { format: 'recurrent-captioner/1', model: model.config, vocab: ['<s>', '</s>', 'a', 'b'] };
  const bytes = (c: object): Uint8Array => new TextEncoder().encode(JSON.stringify(c));
  const weights = (m: Captioner): Uint8Array => encodeSafetensors(new Map([...m.stateDict()].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])), {});
  const graphs = checkpointToOnnx({ config: bytes(config), model: weights(model) }, 'cap');
  assert.deepEqual(graphs, toOnnx(model, config), 'the same graphs as the model\'s, the config in their metadata');
  assert.throws(() => checkpointToOnnx({ config: bytes({ ...config, vocab: undefined }), model: weights(model) }, 'cap'), /^Error: cap\/config\.json is corrupt: it lacks the model or the vocabulary$/);
  const other = new Captioner({ ...model.config, encoder: { channels: [3, 3] } }, new Rng(2)); // another CNN, the same grid
  assert.throws(() => checkpointToOnnx({ config: bytes(config), model: weights(other) }, 'cap'), /^Error: cap\/model\.safetensors does not match cap\/config\.json: [^\n]*$/);
  model.dispose();
  other.dispose();
});
