// The VQA model's ONNX graph in ONNX Runtime against VqaModel.forward: answer logits and the attention over
// the grid, CNNs of one and two convolutions per stage on odd image sizes and channel counts, questions of
// different lengths with random ids in the padding, and the question-only baseline. Tensors within 1e-5 of
// their largest magnitude. `recurrent export` of `vqa train` checkpoints: onnx-image-cli.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VqaModel, type VqaModelConfig } from '../src/nn/vqa-model.js';
import { vqaToOnnx } from '../src/onnx/vqa-onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, float, int64, session } from './util/onnx-runtime.js';

const VOCAB = 10;
const ANSWERS = 7;
const QUESTIONS = [[1, 2, 3, 4, 5, 6], [7], [8, 9, 1], [2, 2, 2, 2]];

const variants: Array<{ what: string; config: Partial<VqaModelConfig> }> = [
  { what: 'RGB 12×10, one conv per stage', config: { image: { channels: 3, height: 12, width: 10 }, encoder: { channels: [4, 6] } } },
  { what: '2 channels 9×13, two convs per stage', config: { image: { channels: 2, height: 9, width: 13 }, encoder: { channels: [3, 5], convsPerStage: 2 } } },
  { what: '1 channel 17×8, three stages', config: { image: { channels: 1, height: 17, width: 8 }, encoder: { channels: [2, 3, 4] } } },
  { what: 'the question-only baseline', config: {} },
];

for (const { what, config } of variants) {
  test(`vqa ${what}: logits and attention equal recurrent's`, async () => {
    const model = new VqaModel({ vocabSize: VOCAB, numAnswers: ANSWERS, embeddingSize: 5, hiddenSize: 6, ...config }, new Rng(3)).eval();
    const graphs = vqaToOnnx(model);
    assert.deepEqual(graphs.map((g) => g.name), ['vqa']);
    const rng = new Rng(9);
    const B = QUESTIONS.length;
    const T = Math.max(...QUESTIONS.map((q) => q.length));
    const question = QUESTIONS.flatMap((q) => Array.from({ length: T }, (_, t) => (t < q.length ? q[t] : rng.int(VOCAB)))); // padding: random ids, never read
    const img = model.config.image;
    const size = img === undefined ? 0 : img.channels * img.height * img.width;
    const images = img === undefined ? undefined : QUESTIONS.map(() => Float32Array.from({ length: size }, () => rng.uniform()));
    const want = noGrad(() => tidy(() => {
      const out = model.forward({ questions: QUESTIONS, ...(images === undefined ? {} : { images }) });
      return { logits: out.logits.data.slice(), weights: out.weights?.data.slice() };
    }));
    const feeds = {
      question: int64(question, [B, T]), question_lengths: int64(QUESTIONS.map((q) => q.length), [B]),
      ...(images === undefined ? {} : { image: float(images.flatMap((im) => Array.from(im)), [B, img!.channels, img!.height, img!.width]) }),
    };
    const r = await (await session(graphs[0].bytes)).run(feeds);
    assertClose(r.logits, want.logits, 'logits', [B, ANSWERS]);
    if (want.weights === undefined) assert.equal(r.attention, undefined, 'the baseline has no attention');
    else assertClose(r.attention, want.weights, 'attention', [B, want.weights.length / B]);
    model.dispose();
  });
}
