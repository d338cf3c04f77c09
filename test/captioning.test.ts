// The captioning task's pieces: which decoded words name which object (or digit), the attention mass inside a mask
// (uniform attention gives the object's share of the image; all mass on the object's cells gives 1 when they
// hold only it), the numbers' accuracy by number of digits, the task's batches (seeded, every image once per epoch) and its evaluation, through the engine.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetItem, pngToTensorData } from '../src/data/caption-dataset.js';
import { objectMask, type NumberImage, type Scene } from '../src/data/scenes.js';
import { maskMass, namedObjects } from '../src/metrics/attention-correctness.js';
import { accuracyByDigits, captioningTask, namedRegions, type CaptionImage, type CaptionSet } from '../src/tasks/captioning.js';
import { Rng } from '../src/random/rng.js';
import { trainTask } from '../src/train/engine.js';
import { memoryStore } from '../src/train/checkpoint-store.js';

const scene: Scene = {
  width: 16, height: 16,
  objects: [
    { shape: 'square', colour: 'red', size: 'small', x: 4, y: 4, r: 3 },
    { shape: 'circle', colour: 'blue', size: 'large', x: 12, y: 12, r: 3 },
    { shape: 'circle', colour: 'blue', size: 'large', x: 12, y: 4, r: 3 },
  ],
};

test('namedObjects: a phrase SIZE COLOUR SHAPE names the one object with those attributes, or nothing', () => {
  const w = 'a small red square left of a large blue circle and a small green circle'.split(' ');
  assert.deepEqual(namedObjects(w, scene), [-1, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]);
  const s2: Scene = { ...scene, objects: scene.objects.slice(0, 2) };
  assert.deepEqual(namedObjects('a large blue circle'.split(' '), s2), [-1, 1, 1, 1], 'unique once the twin is gone');
  assert.deepEqual(namedObjects('small red'.split(' '), scene), [-1, -1], 'a cut phrase names nothing');
});

const numberImage = (digits: number[]): CaptionImage => {
  const number: NumberImage = { width: 64, height: 64, digits, boxes: digits.map((_, i) => [1 + 6 * i, 1, 5, 7]), colour: [0, 0, 0], scale: 1 };
  return { pixels: new Uint8Array(0), captions: [digits.map(String)], number };
};

test('namedRegions on numbers: a digit decoded in its place names its box; after a slip nothing does', () => {
  const im = numberImage([3, 9, 9]);
  assert.deepEqual(namedRegions(['3', '9', '9'], im), [0, 1, 2]);
  assert.deepEqual(namedRegions(['3', '9'], im), [0, 1], 'a dropped last digit');
  assert.deepEqual(namedRegions(['9', '9', '9', '1'], im), [-1, 1, 2, -1], 'a wrong digit and one too many');
});

test('accuracyByDigits: the whole digit string right, overall and by number of digits, with the counts', () => {
  const images = [[1], [2], [1, 2], [4, 5, 6], [7, 8, 9]].map(numberImage);
  const r = accuracyByDigits([['1'], ['3'], ['1', '2'], ['4', '5', '6'], ['7', '8']], images);
  assert.deepEqual(r, { sequenceAccuracy: 3 / 5, accuracyByDigits: { 1: 0.5, 2: 1, 3: 0.5 }, imagesByDigits: { 1: 2, 2: 1, 3: 2 } });
  assert.throws(() => accuracyByDigits([['a']], [{ pixels: new Uint8Array(0), captions: [['a']] }]), /image 0 is not a number/);
});

test('maskMass: a cell\'s α spread over its tile; uniform attention gives the object\'s share of the image', () => {
  // A 16×16 image in a 2×2 grid of 8×8 tiles, row-major.
  const tiles = [0, 1, 2, 3].map((i) => ({ y0: 8 * Math.floor(i / 2), x0: 8 * (i % 2), y1: 8 * Math.floor(i / 2) + 8, x1: 8 * (i % 2) + 8 }));
  const mask = objectMask(scene, 0); // the small red square, inside tile 0
  const area = mask.reduce((a, b) => a + b, 0);
  assert.ok(area > 0);
  assert.ok(Math.abs(maskMass([1, 0, 0, 0], tiles, mask, 16) - area / 64) < 1e-12, 'all on its tile: its share of the tile');
  assert.equal(maskMass([0, 1, 0.5, 0.25], tiles, mask, 16), 0, 'nothing on its tile');
  assert.ok(Math.abs(maskMass([0.25, 0.25, 0.25, 0.25], tiles, mask, 16) - area / 256) < 1e-12, 'uniform: its share of the image');
  assert.throws(() => maskMass([1, 0], tiles, mask, 16), /2 attention weights for 4 grid cells/);
});

function scenes(split: string, n: number): CaptionSet {
  const images = Array.from({ length: n }, (_, i) => {
    const { record, png } = datasetItem('scenes', split, i, 3);
    const r = record as { scene: Scene; captions: Array<{ words: string[] }> };
    const t = pngToTensorData(png, `${split} ${i}`);
    return { pixels: Uint8Array.from(t.data, (x) => Math.round(x * 255)), captions: r.captions.map((c) => c.words), scene: r.scene };
  });
  return { name: split, width: 64, height: 64, images };
}

test('the task: seeded batches that take every image once an epoch; evaluation through the engine; bad data named', async () => {
  const train = scenes('train', 12);
  const val = scenes('val', 3);
  const opts = { batchSize: 4, evalImages: 2, model: { hiddenSize: 8, embeddingSize: 4, encoderChannels: [2, 2, 4] } };
  const def = captioningTask(train, val, opts);
  const task = def.create({ rng: new Rng(1), seed: 5 });
  const firsts: number[][] = [];
  for (let e = 0; e < 2; e++) {
    const seen: Float32Array[] = [];
    for (let k = 0; k < 3; k++) seen.push(...(task.batch(e * 3 + k).src as Float32Array[]));
    // Which training image each source is (their first pixels differ).
    firsts.push(seen.map((s) => train.images.findIndex((im) => im.pixels.every((p, j) => Math.round(s[j] * 255) === p))));
  }
  for (const f of firsts) assert.deepEqual([...f].sort((a, b) => a - b), [...Array(12).keys()], 'every image once an epoch');
  assert.notDeepEqual(firsts[0], firsts[1], 'a new order each epoch');
  const again = def.create({ rng: new Rng(1), seed: 5 });
  assert.deepEqual(again.batch(0).tgt, captioningTask(train, val, opts).create({ rng: new Rng(1), seed: 5 }).batch(0).tgt, 'the same seed, the same batches');
  task.model.dispose();
  again.model.dispose();

  const r = await trainTask(def, { steps: 2, evalEvery: 2 }, { store: memoryStore('captions') });
  const rec = r.evaluations.at(-1)!;
  for (const k of ['valLoss', 'valBleu4', 'valCiderD', 'valExactMatch']) assert.ok(Number.isFinite(rec[k] as number), k);
  r.task.model.dispose();

  const empty: CaptionSet = { ...val, images: [{ ...val.images[0], captions: [[]] }] };
  assert.throws(() => captioningTask(train, empty), /val: image 0 has an empty caption or none/);
  const reserved: CaptionSet = { ...val, images: [{ ...val.images[0], captions: [['a', '</s>']] }] };
  assert.throws(() => captioningTask(train, reserved), /the word <\/s> is reserved/);
  assert.throws(() => captioningTask(train, { ...val, width: 32 }), /val: images are 32×64, train's are 64×64/);
  assert.throws(() => captioningTask(train, val, { model: { attention: 'none' }, penalty: 1 }), /penalty needs attention 'soft'/);
});
