// The captioning and question datasets as files: `recurrent caption data --out DIR --seed S` writes, for
// each kind (scenes, numbers, questions) and split, DIR/KIND/SPLIT.jsonl (one record per image: its PNG's
// path, what is in it, and its captions or questions) and the PNGs under DIR/KIND/images/SPLIT/. Every item
// comes from its own generator (scenes.ts: itemRng), so the same seed writes the same bytes. Scenes keep two
// colour–shape pairs out of training (HELD_OUT): `test-novel` holds only scenes with one of them, so a model
// that composes colour and shape can be told from one that memorises pairs. Plain data and bytes: the
// writing and reading of files is the caller's (cli/caption.ts).

import { decode, encode } from 'fast-png';
import {
  numberCaption, randomNumber, randomScene, renderNumber, renderScene, sceneCaptions, sceneQuestions, itemRng,
  type Caption, type Colour, type NumberImage, type Question, type Scene, type Shape,
} from './scenes.js';

export type DatasetKind = 'scenes' | 'numbers' | 'questions';
export const DATASET_KINDS: readonly DatasetKind[] = ['scenes', 'numbers', 'questions'];

/** Colour–shape pairs no training scene holds; `test-novel` scenes each hold one. */
export const HELD_OUT: ReadonlyArray<readonly [Colour, Shape]> = [['red', 'square'], ['blue', 'triangle']];

export const SPLITS: { readonly [K in DatasetKind]: Readonly<Record<string, number>> } = {
  scenes: { train: 8000, val: 500, test: 1000, 'test-novel': 1000 },
  numbers: { train: 8000, val: 500, test: 1000 },
  questions: { train: 8000, val: 500, test: 1000 },
};

export type DatasetRecord =
  | { image: string; scene: Scene; captions: Caption[] }
  | { image: string; number: NumberImage; captions: Caption[] }
  | { image: string; scene: Scene; questions: Question[] };

const heldOut = (c: Colour, s: Shape): boolean => HELD_OUT.some(([hc, hs]) => hc === c && hs === s);

/** Item `index` of a split: its record and its PNG. */
export function datasetItem(kind: DatasetKind, split: string, index: number, seed: number): { record: DatasetRecord; png: Uint8Array } {
  const rng = itemRng(seed, `${kind}/${split}`, index);
  const image = `images/${split}/${String(index).padStart(6, '0')}.png`;
  const png = (pixels: Uint8Array, w: number, h: number): Uint8Array => encode({ width: w, height: h, data: pixels, channels: 3, depth: 8 });
  if (kind === 'numbers') {
    const number = randomNumber(rng);
    return { record: { image, number, captions: [numberCaption(number)] }, png: png(renderNumber(number), number.width, number.height) };
  }
  let scene: Scene;
  if (kind === 'scenes' && split === 'test-novel') {
    do scene = randomScene(rng); while (!scene.objects.some((o) => heldOut(o.colour, o.shape)));
  } else {
    scene = randomScene(rng, { allowed: (c, s) => !heldOut(c, s) });
  }
  const pixels = png(renderScene(scene), scene.width, scene.height);
  return kind === 'scenes'
    ? { record: { image, scene, captions: sceneCaptions(scene, rng) }, png: pixels }
    : { record: { image, scene, questions: sceneQuestions(scene, rng) }, png: pixels };
}

/** A PNG's pixels as (3, H, W) floats in [0, 1], the layout the image encoder reads; `expect` checks the size. */
export function pngToTensorData(bytes: Uint8Array, what: string, expect?: { width: number; height: number }): { data: Float32Array; width: number; height: number } {
  let img: ReturnType<typeof decode>;
  try {
    img = decode(bytes);
  } catch (e) {
    throw new Error(`${what} is not a PNG image: ${(e as Error).message}`);
  }
  const { width: W, height: H, channels: C } = img;
  if (img.depth !== 8) throw new Error(`${what} has ${img.depth}-bit channels, expected 8`);
  if (C !== 3 && C !== 4) throw new Error(`${what} has ${C} channels, expected RGB (3) or RGBA (4)`);
  if (expect !== undefined && (W !== expect.width || H !== expect.height)) throw new Error(`${what} is ${W}×${H}, expected ${expect.width}×${expect.height}`);
  const data = new Float32Array(3 * H * W); // (3, H, W)
  const px = img.data;
  for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) data[c * H * W + i] = px[i * C + c] / 255;
  return { data, width: W, height: H };
}
