// Generated images for captioning and visual questions, seeded and deterministic: scenes of one to four
// objects (a shape, a colour, a size, a position) on a plain background, captions from a small grammar
// ("a small red circle above a large blue square"), questions with one-word answers ("what colour is the
// circle ?"), and numbers drawn with a bitmap font whose caption is their digits. Every caption word that
// names an object records which one, and every object's pixels can be recovered (objectMask), so attention
// can be scored against where the object is. Images are RGB, 8 bits, row-major (H, W, 3).

import { Rng } from '../random/rng.js';

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
export const SIZES = ['small', 'large'] as const;
export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Size = (typeof SIZES)[number];

const RGB: { readonly [C in Colour]: readonly [number, number, number] } = {
  red: [214, 39, 40], green: [44, 160, 44], blue: [31, 90, 200], yellow: [230, 190, 30],
};
/** Half the extent of an object, in pixels of a 64-pixel image (scaled with the image). */
const HALF: { readonly [S in Size]: number } = { small: 6, large: 10 };
const BACKGROUND = [235, 235, 230] as const;

export interface SceneObject {
  shape: Shape;
  colour: Colour;
  size: Size;
  /** Centre, in pixels. */
  x: number;
  y: number;
  /** Half extent, in pixels. */
  r: number;
}

export interface Scene {
  width: number;
  height: number;
  objects: SceneObject[];
}

/** A caption as words, and for each word the object it names (its index in the scene), or -1. */
export interface Caption {
  words: string[];
  refers: number[];
}

/** Whether pixel (px, py) is inside the object. */
function inside(o: SceneObject, px: number, py: number): boolean {
  const dx = px + 0.5 - o.x;
  const dy = py + 0.5 - o.y;
  switch (o.shape) {
    case 'circle':
      return dx * dx + dy * dy <= o.r * o.r;
    case 'square':
      return Math.abs(dx) <= o.r * 0.85 && Math.abs(dy) <= o.r * 0.85;
    case 'triangle': // apex up: the half width grows from 0 at the top to r at the bottom
      return dy >= -o.r && dy <= o.r && Math.abs(dx) <= (o.r * (dy + o.r)) / (2 * o.r);
    default:
      return o.shape satisfies never;
  }
}

/** The pixels (H·W, 1 inside) of object `k`; objects never overlap, so this is what the image shows of it. */
export function objectMask(scene: Scene, k: number): Uint8Array {
  const { width: W, height: H } = scene;
  const o = scene.objects[k];
  if (o === undefined) throw new Error(`objectMask: the scene has ${scene.objects.length} objects, not ${k + 1}`);
  const m = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) m[y * W + x] = inside(o, x, y) ? 1 : 0;
  return m;
}

/** The scene drawn: (H, W, 3) RGB bytes. */
export function renderScene(scene: Scene): Uint8Array {
  const { width: W, height: H } = scene;
  const img = new Uint8Array(H * W * 3);
  for (let i = 0; i < H * W; i++) img.set(BACKGROUND, i * 3);
  for (const o of scene.objects) {
    const c = RGB[o.colour];
    for (let y = Math.max(0, Math.floor(o.y - o.r - 1)); y < Math.min(H, Math.ceil(o.y + o.r + 1)); y++) {
      for (let x = Math.max(0, Math.floor(o.x - o.r - 1)); x < Math.min(W, Math.ceil(o.x + o.r + 1)); x++) {
        if (inside(o, x, y)) img.set(c, (y * W + x) * 3);
      }
    }
  }
  return img;
}

function pick<T>(xs: readonly T[], rng: Rng): T {
  return xs[rng.int(xs.length)];
}

export interface SceneOptions {
  /** Image side in pixels (default 64). */
  size?: number;
  /** Objects per scene, at least 1 and at most 4 (default 1-4). */
  minObjects?: number;
  maxObjects?: number;
  /** Whether a colour–shape pair may appear (default: any). */
  allowed?(colour: Colour, shape: Shape): boolean;
}

/** One scene: objects placed at random without touching each other (fewer when they do not fit). */
export function randomScene(rng: Rng, o: SceneOptions = {}): Scene {
  const S = o.size ?? 64;
  const minN = o.minObjects ?? 1;
  const maxN = o.maxObjects ?? 4;
  if (!(Number.isInteger(minN) && Number.isInteger(maxN) && minN >= 1 && maxN <= 4 && minN <= maxN)) {
    throw new Error(`randomScene: objects must be 1 ≤ minObjects ≤ maxObjects ≤ 4, got ${minN} and ${maxN}`);
  }
  if (!(Number.isInteger(S) && S >= 32)) throw new Error(`randomScene: size must be an integer of at least 32 pixels, got ${S}`);
  const n = minN + rng.int(maxN - minN + 1);
  const objects: SceneObject[] = [];
  for (let tries = 0; objects.length < n && tries < 200; tries++) {
    let colour = pick(COLOURS, rng);
    let shape = pick(SHAPES, rng);
    for (let t = 0; o.allowed !== undefined && !o.allowed(colour, shape); t++) {
      if (t > 100) throw new Error('randomScene: no colour–shape pair is allowed');
      colour = pick(COLOURS, rng);
      shape = pick(SHAPES, rng);
    }
    const size = pick(SIZES, rng);
    const r = (HALF[size] * S) / 64;
    const x = r + 1 + rng.uniform() * (S - 2 * r - 2);
    const y = r + 1 + rng.uniform() * (S - 2 * r - 2);
    if (objects.every((p) => Math.hypot(p.x - x, p.y - y) > p.r + r + 3)) objects.push({ shape, colour, size, x, y, r });
  }
  return { width: S, height: S, objects };
}

/** `a` relative to `b`, when one axis clearly dominates (else null: the caption would be ambiguous). */
export function relation(a: SceneObject, b: SceneObject): 'left of' | 'right of' | 'above' | 'below' | null {
  const dx = b.x - a.x;
  const dy = b.y - a.y; // y grows downwards
  if (Math.abs(dx) > 1.5 * Math.abs(dy)) return dx > 0 ? 'left of' : 'right of';
  if (Math.abs(dy) > 1.5 * Math.abs(dx)) return dy > 0 ? 'above' : 'below';
  return null;
}

function phrase(o: SceneObject, k: number): Caption {
  return { words: ['a', o.size, o.colour, o.shape], refers: [-1, k, k, k] };
}

function joinCaptions(parts: Array<Caption | string>): Caption {
  const out: Caption = { words: [], refers: [] };
  for (const p of parts) {
    if (typeof p === 'string') {
      for (const w of p.split(' ')) {
        out.words.push(w);
        out.refers.push(-1);
      }
    } else {
      out.words.push(...p.words);
      out.refers.push(...p.refers);
    }
  }
  return out;
}

/**
 * Up to `max` distinct captions of a scene: for one object, its phrase; for more, a relation for each pair
 * with a clear one (both ways round), and the objects from left to right joined by "and".
 */
export function sceneCaptions(scene: Scene, rng: Rng, max = 5): Caption[] {
  const objs = scene.objects;
  const all: Caption[] = [];
  if (objs.length === 1) all.push(phrase(objs[0], 0));
  for (let i = 0; i < objs.length; i++) {
    for (let j = 0; j < objs.length; j++) {
      const rel = i === j ? null : relation(objs[i], objs[j]);
      if (rel !== null) all.push(joinCaptions([phrase(objs[i], i), rel, phrase(objs[j], j)]));
    }
  }
  if (objs.length > 1) {
    const order = objs.map((_, k) => k).sort((a, b) => objs[a].x - objs[b].x);
    all.push(joinCaptions(order.flatMap((k, i) => (i === 0 ? [phrase(objs[k], k)] : ['and', phrase(objs[k], k)]))));
  }
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, max);
}

export type QuestionType = 'colour' | 'shape' | 'count' | 'relation';
export const QUESTION_TYPES: readonly QuestionType[] = ['colour', 'shape', 'count', 'relation'];
const COUNT_WORDS = ['zero', 'one', 'two', 'three', 'four'];

export interface Question {
  type: QuestionType;
  words: string[];
  answer: string;
}

/** The questions a scene answers without ambiguity, of each type it can (a shape named must be unique for colour and relation). */
export function sceneQuestions(scene: Scene, rng: Rng): Question[] {
  const objs = scene.objects;
  const q = (type: QuestionType, text: string, answer: string): Question => ({ type, words: text.split(' '), answer });
  const out: Question[] = [];
  const unique = SHAPES.filter((s) => objs.filter((o) => o.shape === s).length === 1);
  if (unique.length > 0) {
    const s = pick(unique, rng);
    out.push(q('colour', `what colour is the ${s} ?`, objs.find((o) => o.shape === s)!.colour));
  }
  const uniqueColours = COLOURS.filter((c) => objs.filter((o) => o.colour === c).length === 1);
  if (uniqueColours.length > 0) {
    const c = pick(uniqueColours, rng);
    out.push(q('shape', `what shape is the ${c} object ?`, objs.find((o) => o.colour === c)!.shape));
  }
  const s = pick(SHAPES, rng);
  out.push(q('count', `how many ${s}s are there ?`, COUNT_WORDS[objs.filter((o) => o.shape === s).length]));
  const pairs: Array<[SceneObject, SceneObject]> = [];
  for (const a of objs) for (const b of objs) if (a !== b && unique.includes(a.shape) && unique.includes(b.shape) && relation(a, b) !== null) pairs.push([a, b]);
  if (pairs.length > 0) {
    const [a, b] = pick(pairs, rng);
    const asked = pick(['left of', 'right of', 'above', 'below'] as const, rng);
    out.push(q('relation', `is the ${a.shape} ${asked} the ${b.shape} ?`, relation(a, b) === asked ? 'yes' : 'no'));
  }
  return out;
}

// ---- numbers ----

/** 5×7 glyphs of the digits, one string of 7 rows of 5 pixels each. */
const GLYPHS = [
  '01110100011001110101110011000101110', '00100011000010000100001000010001110', '01110100010000100010001000100011111',
  '11111000100010000010000011000101110', '00010001100101010010111110001000010', '11111100001111000001000011000101110',
  '00110010001000011110100011000101110', '11111000010001000100010000100001000', '01110100011000101110100011000101110',
  '01110100011000101111000010001001100',
];

export interface NumberImage {
  width: number;
  height: number;
  digits: number[];
  /** Each digit's box: left, top, width, height in pixels. */
  boxes: Array<[number, number, number, number]>;
  colour: [number, number, number];
  scale: number;
}

/** A number of `minDigits`-`maxDigits` digits at a random position, spacing, scale and colour. */
export function randomNumber(rng: Rng, o: { size?: number; minDigits?: number; maxDigits?: number } = {}): NumberImage {
  const S = o.size ?? 64;
  const minD = o.minDigits ?? 1;
  const maxD = o.maxDigits ?? 5;
  if (!(Number.isInteger(minD) && Number.isInteger(maxD) && minD >= 1 && minD <= maxD)) throw new Error(`randomNumber: need 1 ≤ minDigits ≤ maxDigits, got ${minD} and ${maxD}`);
  const n = minD + rng.int(maxD - minD + 1);
  const scale = 1 + rng.int(2);
  const gap = 1 + rng.int(3);
  const w = n * 5 * scale + (n - 1) * gap;
  const h = 7 * scale;
  if (w + 2 > S) throw new Error(`randomNumber: ${n} digits do not fit a ${S}-pixel image`);
  const left = 1 + rng.int(S - w - 1);
  const top = 1 + rng.int(S - h - 1);
  const digits = Array.from({ length: n }, () => rng.int(10));
  const boxes = digits.map((_, i): [number, number, number, number] => [left + i * (5 * scale + gap), top, 5 * scale, h]);
  const colour = pick(COLOURS, rng);
  return { width: S, height: S, digits, boxes, colour: [...RGB[colour]], scale };
}

function digitPixel(img: NumberImage, i: number, x: number, y: number): boolean {
  const [l, t] = img.boxes[i];
  const gx = Math.floor((x - l) / img.scale);
  const gy = Math.floor((y - t) / img.scale);
  return gx >= 0 && gx < 5 && gy >= 0 && gy < 7 && GLYPHS[img.digits[i]][gy * 5 + gx] === '1';
}

export function renderNumber(img: NumberImage): Uint8Array {
  const { width: W, height: H } = img;
  const out = new Uint8Array(H * W * 3);
  for (let i = 0; i < H * W; i++) out.set(BACKGROUND, i * 3);
  img.boxes.forEach(([l, t, w, h], i) => {
    for (let y = t; y < t + h; y++) for (let x = l; x < l + w; x++) if (digitPixel(img, i, x, y)) out.set(img.colour, (y * W + x) * 3);
  });
  return out;
}

/** The box of digit `i` as a mask (H·W): where attention on that digit should be. */
export function digitMask(img: NumberImage, i: number): Uint8Array {
  const m = new Uint8Array(img.width * img.height);
  const [l, t, w, h] = img.boxes[i];
  for (let y = t; y < t + h; y++) for (let x = l; x < l + w; x++) m[y * img.width + x] = 1;
  return m;
}

export function numberCaption(img: NumberImage): Caption {
  return { words: img.digits.map(String), refers: img.digits.map((_, i) => i) };
}

/** A fresh generator for item `index` of a split: items do not depend on each other, so any one can be regenerated. */
export function itemRng(seed: number, split: string, index: number): Rng {
  let h = 0x811c9dc5;
  for (const ch of split) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return new Rng(seed >>> 0).fork(h ^ Math.imul(index + 1, 0x9e3779b1));
}
