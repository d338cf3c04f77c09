// A seeded, learnable text over about 2,000 distinct characters for the large-vocabulary experiments
// (large-vocab-spread.ts): CJK ideographs plus some outside the Basic Multilingual Plane (CJK Extension B,
// two UTF-16 units each), with Zipf-distributed characters and words and a word-level Markov chain so a
// char-rnn has something to learn. No dataset is needed; the same seed gives the same text everywhere.
//
//   npm run experiments:build && node dist/experiments/large-vocab-text.js --out /tmp/large-vocab.txt

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/index.js';

export interface LargeVocabTextOptions {
  /** Code points of text to generate. */
  length: number;
  /** Characters in the BMP pool (CJK Unified Ideographs, U+4E00 onwards) ... */
  bmpChars: number;
  /** ... and outside it (CJK Extension B, U+20000 onwards), mixed into the same Zipf ranking. */
  astralChars: number;
  /** Words in the lexicon (1-3 characters each). */
  words: number;
  seed: number;
}

export const defaultLargeVocabText: LargeVocabTextOptions = { length: 400_000, bmpChars: 3000, astralChars: 90, words: 9000, seed: 2024 };

/** Draws indices in [0, n) with P(k) ∝ 1/(k+1)^s. */
function zipfSampler(n: number, s: number, rng: Rng): () => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) cdf[k] = acc += 1 / (k + 1) ** s;
  return () => {
    const u = rng.uniform() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function shuffle<T>(a: T[], rng: Rng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * The text: a lexicon of words whose characters are drawn Zipf(1) from the shuffled character pool; each
 * word has six preferred successors, taken 70% of the time, otherwise the next word is drawn Zipf(1.05)
 * from the lexicon. Sentences of 3-12 words end in '。' (or '！', '？'), with '，' inside; lines of one to
 * four sentences end in '\n'.
 */
export function largeVocabText(opts: LargeVocabTextOptions = defaultLargeVocabText): string {
  const rng = new Rng(opts.seed);
  const pool: string[] = [];
  for (let i = 0; i < opts.bmpChars; i++) pool.push(String.fromCodePoint(0x4e00 + i * 7)); // spread over the block
  for (let i = 0; i < opts.astralChars; i++) pool.push(String.fromCodePoint(0x20000 + i * 13));
  shuffle(pool, rng); // astral characters get ranks all over the Zipf curve
  const pickChar = zipfSampler(pool.length, 1, rng);
  const lexicon: string[] = [];
  for (let w = 0; w < opts.words; w++) {
    const n = 1 + (rng.uniform() < 0.3 ? 0 : rng.uniform() < 0.7 ? 1 : 2);
    let word = '';
    for (let i = 0; i < n; i++) word += pool[pickChar()];
    lexicon.push(word);
  }
  const pickWord = zipfSampler(lexicon.length, 1.05, rng);
  const successors = lexicon.map(() => Array.from({ length: 6 }, pickWord));
  const out: string[] = [];
  let count = 0;
  let word = pickWord();
  while (count < opts.length) {
    const sentences = 1 + rng.int(4);
    for (let s = 0; s < sentences; s++) {
      const words = 3 + rng.int(10);
      for (let k = 0; k < words; k++) {
        word = rng.uniform() < 0.7 ? successors[word][rng.int(6)] : pickWord();
        out.push(lexicon[word]);
        count += Array.from(lexicon[word]).length;
        if (k < words - 1 && rng.uniform() < 0.12) {
          out.push('，');
          count++;
        }
      }
      const u = rng.uniform();
      out.push(u < 0.8 ? '。' : u < 0.9 ? '！' : '？');
      count++;
    }
    out.push('\n');
    count++;
  }
  return Array.from(out.join('')).slice(0, opts.length).join('');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, length: { type: 'string' }, seed: { type: 'string' } },
  });
  if (values.out === undefined) throw new Error('give --out FILE');
  const opts = { ...defaultLargeVocabText };
  if (values.length !== undefined) opts.length = Number(values.length);
  if (values.seed !== undefined) opts.seed = Number(values.seed);
  const text = largeVocabText(opts);
  writeFileSync(values.out, text, 'utf8');
  const chars = Array.from(text);
  const distinct = new Set(chars);
  const astral = [...distinct].filter((c) => c.codePointAt(0)! > 0xffff).length;
  console.log(JSON.stringify({ out: values.out, codePoints: chars.length, distinct: distinct.size, astralDistinct: astral }));
}
