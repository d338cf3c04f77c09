// The generated captioning data: the same seed gives the same bytes; held-out colour–shape pairs never
// reach training; masks are exactly each object's pixels; captions and answers are true of their image;
// numbers are captioned by their digits; PNGs read back as (3, H, W) floats; `recurrent caption data`.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encode } from 'fast-png';
import { HELD_OUT, datasetItem, pngToTensorData, type DatasetRecord } from '../src/data/caption-dataset.js';
import { digitMask, objectMask, randomNumber, randomScene, relation, renderNumber, renderScene, type Scene } from '../src/data/scenes.js';
import { Rng } from '../src/random/rng.js';
import { assertOneLineError, runCli, tempDir } from './util/cli.js';

const isHeldOut = (s: Scene): boolean => s.objects.some((o) => HELD_OUT.some(([c, sh]) => o.colour === c && o.shape === sh));

test('the same seed gives the same item, byte for byte; another seed another', () => {
  for (const kind of ['scenes', 'numbers', 'questions'] as const) {
    const a = datasetItem(kind, 'train', 17, 5);
    assert.deepEqual(datasetItem(kind, 'train', 17, 5), a);
    assert.notDeepEqual(datasetItem(kind, 'train', 17, 6).png, a.png);
    assert.notDeepEqual(datasetItem(kind, 'train', 18, 5).png, a.png);
  }
});

test('scenes: held-out pairs only in test-novel; every mask is exactly its object\'s pixels', () => {
  for (let i = 0; i < 300; i++) {
    for (const split of ['train', 'val', 'test']) {
      const r = datasetItem('scenes', split, i, 1).record as Extract<DatasetRecord, { captions: unknown; scene: Scene }>;
      assert.ok(!isHeldOut(r.scene), `${split} ${i} holds a held-out pair`);
    }
    const novel = datasetItem('scenes', 'test-novel', i, 1).record as { scene: Scene };
    assert.ok(isHeldOut(novel.scene), `test-novel ${i} holds no held-out pair`);
  }
  const rng = new Rng(3);
  for (let n = 0; n < 50; n++) {
    const scene = randomScene(rng);
    const img = renderScene(scene);
    const covered = new Uint8Array(scene.width * scene.height);
    scene.objects.forEach((o, k) => {
      const m = objectMask(scene, k);
      let pixels = 0;
      m.forEach((v, p) => {
        if (v === 0) return;
        pixels++;
        assert.equal(covered[p], 0, 'objects never overlap');
        covered[p] = 1;
      });
      assert.ok(pixels > 20, `object ${k} (${o.size} ${o.shape}) has ${pixels} pixels`);
    });
    // Every pixel off the masks is background; every pixel on one is not.
    covered.forEach((c, p) => assert.equal(img[p * 3] === 235 && img[p * 3 + 1] === 235 && img[p * 3 + 2] === 230, c === 0, `pixel ${p}`));
  }
});

test('scenes: every caption word that names an object names one whose attributes it says; relations hold', () => {
  for (let i = 0; i < 200; i++) {
    const r = datasetItem('scenes', 'train', i, 2).record as { scene: Scene; captions: Array<{ words: string[]; refers: number[] }> };
    assert.ok(r.captions.length >= 1);
    for (const c of r.captions) {
      assert.equal(c.words.length, c.refers.length);
      c.words.forEach((w, t) => {
        const k = c.refers[t];
        if (k < 0) return;
        const o = r.scene.objects[k];
        assert.ok([o.shape, o.colour, o.size].includes(w as never), `"${w}" names object ${k}: ${JSON.stringify(o)}`);
      });
      for (const rel of ['left of', 'right of', 'above', 'below']) {
        const text = c.words.join(' ');
        const at = text.indexOf(` ${rel} `);
        if (at < 0) continue;
        const before = c.refers[text.slice(0, at).split(' ').length - 1];
        const after = c.refers.at(-1)!;
        assert.equal(relation(r.scene.objects[before], r.scene.objects[after]), rel, text);
      }
    }
  }
});

test('questions: answers are true of the scene', () => {
  const counts = ['zero', 'one', 'two', 'three', 'four'];
  const types = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const r = datasetItem('questions', 'train', i, 3).record as { scene: Scene; questions: Array<{ type: string; words: string[]; answer: string }> };
    const objs = r.scene.objects;
    for (const q of r.questions) {
      types.add(q.type);
      const text = q.words.join(' ');
      if (q.type === 'count') {
        const shape = q.words[2].replace(/s$/, '');
        assert.equal(q.answer, counts[objs.filter((o) => o.shape === shape).length], text);
      } else if (q.type === 'colour') {
        assert.equal(q.answer, objs.find((o) => o.shape === q.words[4])!.colour, text);
      } else if (q.type === 'shape') {
        assert.equal(q.answer, objs.find((o) => o.colour === q.words[4])!.shape, text);
      } else {
        const rel = text.match(/^is the (\w+) (.+) the (\w+) \?$/)!;
        const a = objs.find((o) => o.shape === rel[1])!;
        const b = objs.find((o) => o.shape === rel[3])!;
        assert.equal(q.answer, relation(a, b) === rel[2] ? 'yes' : 'no', text);
      }
    }
  }
  assert.deepEqual([...types].sort(), ['colour', 'count', 'relation', 'shape']);
});

test('numbers: the caption is the digits left to right, each drawn inside its box', () => {
  const rng = new Rng(4);
  for (let n = 0; n < 100; n++) {
    const num = randomNumber(rng);
    const img = renderNumber(num);
    let inBoxes = 0;
    const boxes = num.digits.map((_, i) => digitMask(num, i));
    for (let p = 0; p < num.width * num.height; p++) {
      const ink = !(img[p * 3] === 235 && img[p * 3 + 1] === 235 && img[p * 3 + 2] === 230);
      if (ink) {
        assert.ok(boxes.some((m) => m[p] === 1), 'ink only inside the boxes');
        inBoxes++;
      }
    }
    assert.ok(inBoxes >= num.digits.length * 7, 'every digit has ink');
    for (let i = 1; i < num.boxes.length; i++) assert.ok(num.boxes[i][0] > num.boxes[i - 1][0] + num.boxes[i - 1][2] - 1, 'left to right');
  }
});

test('a PNG reads back as (3, H, W) in [0, 1]; the wrong size or channels is an error naming it', () => {
  const { png, record } = datasetItem('scenes', 'train', 0, 1);
  const scene = (record as { scene: Scene }).scene;
  const t = pngToTensorData(png, 'x.png', { width: 64, height: 64 });
  const img = renderScene(scene);
  for (let p = 0; p < 64 * 64; p++) for (let c = 0; c < 3; c++) assert.equal(t.data[c * 64 * 64 + p], Math.fround(img[p * 3 + c] / 255));
  assert.throws(() => pngToTensorData(png, 'x.png', { width: 32, height: 32 }), /^Error: x\.png is 64×64, expected 32×32$/);
  const gray = encode({ width: 4, height: 4, data: new Uint8Array(16), channels: 1, depth: 8 });
  assert.throws(() => pngToTensorData(gray, 'g.png'), /g\.png has 1 channels, expected RGB/);
  assert.throws(() => pngToTensorData(new Uint8Array([1, 2, 3]), 'bad.png'), /bad\.png is not a PNG image/);
});

test('recurrent caption data writes every kind and split, the same bytes for the same seed, never over another dataset', () => {
  const dir = tempDir();
  const run = (out: string, seed: string): ReturnType<typeof runCli> => runCli(['caption', 'data', '--out', join(dir, out), '--train', '32', '--seed', seed]);
  assert.equal(run('a', '7').code, 0);
  assert.equal(run('b', '7').code, 0);
  assert.equal(run('c', '8').code, 0);
  for (const kind of ['scenes', 'numbers', 'questions']) {
    const a = readFileSync(join(dir, 'a', kind, 'train.jsonl'), 'utf8');
    assert.equal(a.trim().split('\n').length, 32);
    assert.equal(a, readFileSync(join(dir, 'b', kind, 'train.jsonl'), 'utf8'));
    assert.notEqual(a, readFileSync(join(dir, 'c', kind, 'train.jsonl'), 'utf8'));
    assert.deepEqual(readFileSync(join(dir, 'a', kind, 'images', 'test', '000001.png')), readFileSync(join(dir, 'b', kind, 'images', 'test', '000001.png')));
    assert.equal(readdirSync(join(dir, 'a', kind, 'images', 'val')).length, 2);
  }
  assert.equal(readFileSync(join(dir, 'a', 'scenes', 'test-novel.jsonl'), 'utf8').trim().split('\n').length, 4);
  assertOneLineError(run('a', '7'), /is not empty; choose a new --out/);
  writeFileSync(join(dir, 'x'), '');
  assertOneLineError(runCli(['caption', 'data', '--out', join(dir, 'd'), '--kinds', 'faces']), /unknown --kinds "faces"/, 2);
});
