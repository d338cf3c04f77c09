// The VQA model's ONNX graph in ONNX Runtime against VqaModel.forward: answer logits and the attention over
// the grid, CNNs of one and two convolutions per stage on odd image sizes and channel counts, questions of
// different lengths with random ids in the padding, and the question-only baseline; and `recurrent export`
// of a `vqa train` checkpoint, whose answers are `vqa answer`'s. Tensors within 1e-5 of their largest magnitude.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pngToTensorData } from '../src/data/caption-dataset.js';
import { VqaModel, type VqaModelConfig } from '../src/nn/vqa-model.js';
import { vqaToOnnx } from '../src/onnx/vqa-onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { runCli, tempDir } from './util/cli.js';
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

test('export a vqa train checkpoint: one graph, whose answers are vqa answer\'s', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  assert.equal(runCli(['caption', 'data', '--out', data, '--kinds', 'questions', '--train', '32']).code, 0);
  const run = join(dir, 'vqa');
  const t = runCli(['vqa', 'train', '--data', data, '--encoder', '4,4,8', '--hidden', '16', '--embedding', '8', '--batch-size', '8', '--steps', '40', '--lr', '1e-2', '--eval-every', '40', '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'vqa.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vqa\.onnx  vqa graph, [\d.]+ KiB\n$/);

  // Questions of different lengths about different images, asked one by one on the command line and all at once of the graph.
  const records = readFileSync(join(data, 'questions', 'test.jsonl'), 'utf8').trim().split('\n').slice(0, 4).map((l) => JSON.parse(l));
  const asked = records.map((rec, i) => ({ file: join(data, 'questions', rec.image as string), words: rec.questions[i % rec.questions.length].words as string[] }));
  const want = asked.map(({ file, words }) => {
    const a = runCli(['vqa', 'answer', '--checkpoint', run, '--question', words.join(' '), '--image', file]);
    assert.equal(a.code, 0, a.stderr);
    return a.stdout.trim();
  });
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const { image } = config.model;
  const B = asked.length;
  const T = Math.max(...asked.map((q) => q.words.length));
  const question = asked.flatMap((q) => Array.from({ length: T }, (_, k) => (k < q.words.length ? config.vocab.indexOf(q.words[k]) : 0)));
  const pixels = asked.flatMap(({ file }) => Array.from(pngToTensorData(readFileSync(file), file).data));
  const out = await (await session(readFileSync(join(dir, 'vqa.onnx')))).run({
    image: float(pixels, [B, image.channels, image.height, image.width]), question: int64(question, [B, T]), question_lengths: int64(asked.map((q) => q.words.length), [B]),
  });
  const A = config.answers.length;
  const logits = out.logits.data as Float32Array;
  const got = asked.map((_, b) => {
    const row = Array.from(logits.subarray(b * A, (b + 1) * A));
    return config.answers[row.indexOf(Math.max(...row))];
  });
  assert.ok(new Set(want).size >= 2, `the answers should differ: ${JSON.stringify(want)}`);
  assert.deepEqual(got, want);
});
