// VqaModel: finite-difference gradients through the question LSTM, the grid attention, the CNN and the
// classifier, and of the question-only baseline; the baseline's answers do not depend on any image; the task
// scores accuracy per question type; bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetItem, pngToTensorData } from '../src/data/caption-dataset.js';
import type { Question } from '../src/data/scenes.js';
import { VqaModel, type VqaModelConfig } from '../src/nn/vqa-model.js';
import { Rng } from '../src/random/rng.js';
import { vqaScores, vqaTask, type VqaSet } from '../src/tasks/vqa.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { gradcheck } from './util/gradcheck.js';

const withImage: VqaModelConfig = { vocabSize: 7, numAnswers: 4, embeddingSize: 3, hiddenSize: 5, image: { channels: 3, height: 8, width: 8 }, encoder: { channels: [3, 4] } };
const { image: _i, encoder: _e, ...baseline } = withImage;
const questions = [[1, 2, 3], [4], [5, 6, 0, 2]];
const answers = [0, 3, 2];
const rng = new Rng(2);
const images = Array.from({ length: 3 }, () => Float32Array.from({ length: 3 * 64 }, () => rng.uniform()));

test('gradients of the answer loss, with attention over the grid and for the question-only baseline', () => {
  const m = new VqaModel(withImage, new Rng(3));
  gradcheck('vqa with image', () => m.forward({ images, questions, answers }).loss!, m.parameters(), { maxPerInput: 6 });
  const b = new VqaModel(baseline, new Rng(3));
  gradcheck('vqa baseline', () => b.forward({ questions, answers }).loss!, b.parameters(), { maxPerInput: 6 });
  assert.deepEqual(b.namedParameters().map(([k]) => k), [
    'embedding.weight', 'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'hidden.weight', 'hidden.bias', 'answer.weight', 'answer.bias',
  ]);
  const w = noGrad(() => tidy(() => m.forward({ images, questions }).weights!.toArray()));
  for (let r = 0; r < 3; r++) assert.ok(Math.abs(w.slice(r * 4, r * 4 + 4).reduce((a, x) => a + x, 0) - 1) < 1e-5, 'α over the 2×2 grid sums to 1');
});

test('the image changes the answer logits of the attention model; the baseline takes none; bad input is named', () => {
  const m = new VqaModel(withImage, new Rng(4));
  const logits = (imgs: Float32Array[]): number[] => noGrad(() => tidy(() => m.forward({ images: imgs, questions }).logits.toArray()));
  assert.notDeepEqual(logits(images), logits([images[1], images[2], images[0]]));
  const b = new VqaModel(baseline, new Rng(4));
  assert.throws(() => b.forward({ images, questions }), /the question-only baseline takes no images/);
  assert.throws(() => m.forward({ questions }), /images must hold one image per question \(3\)/);
  assert.throws(() => m.forward({ images: [images[0].slice(1), images[1], images[2]], questions }), /image 0 must have 192 numbers/);
  assert.throws(() => m.forward({ images, questions, answers: [0, 9, 1] }), /answers\[1\] = 9 is outside \[0, numAnswers = 4\)/);
  assert.throws(() => m.forward({ images, questions: [[1], [], [2]] }), /questions\[1\]/);
  assert.throws(() => new VqaModel({ ...baseline, image: withImage.image }, new Rng(1)), /config.image and config.encoder go together/);
});

function questionSet(split: string, n: number): VqaSet {
  return {
    name: split, width: 64, height: 64,
    images: Array.from({ length: n }, (_, i) => {
      const { record, png } = datasetItem('questions', split, i, 2);
      const t = pngToTensorData(png, `${split} ${i}`);
      return { pixels: Uint8Array.from(t.data, (x) => Math.round(x * 255)), questions: (record as { questions: Question[] }).questions };
    }),
  };
}

test('the task: accuracy overall and per question type, the same for the same seed', () => {
  const train = questionSet('train', 16);
  const val = questionSet('val', 4);
  const def = vqaTask(train, val, { batchSize: 8, model: { hiddenSize: 8, embeddingSize: 4, encoderChannels: [2, 2, 4] } });
  const task = def.create({ rng: new Rng(1), seed: 1 });
  const s = vqaScores(task.model, val, task.vocab, task.answers);
  assert.ok(s.accuracy >= 0 && s.accuracy <= 1 && Number.isFinite(s.loss));
  const n = val.images.reduce((a, im) => a + im.questions.length, 0);
  const byType = ['colour', 'shape', 'count', 'relation'].map((t) => val.images.reduce((a, im) => a + im.questions.filter((q) => q.type === t).length, 0));
  const weighted = ['colour', 'shape', 'count', 'relation'].reduce((a, t, i) => a + (byType[i] > 0 ? s[`accuracy_${t}`] * byType[i] : 0), 0);
  assert.ok(Math.abs(weighted / n - s.accuracy) < 1e-12, 'the per-type accuracies weight up to the overall one');
  const again = def.create({ rng: new Rng(1), seed: 1 });
  assert.deepEqual(again.batch(0).answers, task.batch(0).answers);
  task.model.dispose();
  again.model.dispose();
});
