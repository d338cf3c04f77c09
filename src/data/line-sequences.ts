// One sequence per line, as makemore models names: each line of a text is an independent sequence, read
// from a start token to an end token. Both are the newline (which no line holds), so "emma" is the
// sequence \n e m m a \n: inputs "\nemma", targets "emma\n", and the vocabulary is the file's characters,
// as for the stream recipe. A seeded set of lines is held out (makemore's: min(1000, 10% of the lines)).
// Batches are B lines drawn at random (with replacement, as makemore draws them), right-padded to the
// longest; padded targets are IGNORE_INDEX, so the loss is the mean over real tokens, end tokens included.

import { Rng, shuffle } from '../random/rng.js';
import { splitLines } from './lines.js';
import type { Vocabulary } from './vocabulary.js';

export const BOUNDARY = '\n';
/** Targets of padded positions (crossEntropy's default ignore index). */
export const PAD_TARGET = -100;

/** The lines of `text` as ids (boundaries not included), a seeded held-out set first split off; an empty line is an error naming it. */
export function splitLineSequences(text: string, vocab: Vocabulary, what: string, seed: number): { train: Int32Array[]; val: Int32Array[] } {
  const lines = splitLines(text);
  lines.forEach((l, i) => {
    if (l === '') throw new Error(`${what} line ${i + 1} is empty (with one sequence per line, every line must hold one)`);
  });
  if (lines.length < 2) throw new Error(`${what} has ${lines.length} line; one sequence per line needs at least 2 (one to validate)`);
  const ids = lines.map((l, i) => vocab.encode(l, `${what} line ${i + 1}`));
  const order = shuffle(ids.map((_, i) => i), new Rng(seed).fork(0x11e5));
  const nVal = Math.max(1, Math.min(1000, Math.floor(lines.length / 10)));
  return { val: order.slice(0, nVal).map((i) => ids[i]), train: order.slice(nVal).map((i) => ids[i]) };
}

export interface LineBatch {
  inputs: Int32Array; // (T, B), time-major
  targets: Int32Array; // (T, B), PAD_TARGET past each line's end token
  T: number;
  B: number;
  /** Real targets: the characters and the end token of each line. */
  tokens: number;
}

/** The lines `lines[idx]` as one batch: T = the longest line + 1. */
export function lineBatch(lines: readonly Int32Array[], idx: readonly number[], boundary: number): LineBatch {
  const B = idx.length;
  const T = Math.max(...idx.map((i) => lines[i].length)) + 1;
  const inputs = new Int32Array(T * B).fill(boundary); // (T, B): padding reads the boundary id, its target is ignored
  const targets = new Int32Array(T * B).fill(PAD_TARGET); // (T, B)
  let tokens = 0;
  idx.forEach((i, b) => {
    const line = lines[i];
    for (let t = 0; t < line.length; t++) {
      inputs[(t + 1) * B + b] = line[t];
      targets[t * B + b] = line[t];
    }
    targets[line.length * B + b] = boundary;
    tokens += line.length + 1;
  });
  return { inputs, targets, T, B, tokens };
}
