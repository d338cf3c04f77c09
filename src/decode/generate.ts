// Text generation from a character language model, batch 1, without the tape: feed the prime, then one
// character at a time. A recurrent model carries its state (nn/language-model-stepper.ts: its weights packed
// once, each character an embedding row copy, one stepper step and one vector-matrix product into a reused
// logits buffer). A Transformer keeps a key/value cache per layer, so a character costs
// one step over the cache, not a pass over the window; when the window is full it slides: the cache is
// rebuilt from the last half of the window (positions are absolute, so the kept characters are read again
// from position 0), and decoding goes on from there.

import type { Vocabulary } from '../data/vocabulary.js';
import type { LanguageModel } from '../nn/language-model.js';
import { languageModelStepper } from '../nn/language-model-stepper.js';
import { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { TransformerStepper } from '../nn/transformer-stepper.js';
import type { Rng } from '../random/rng.js';
import { sampleLogits, validateSampleOptions, type SampleOptions } from './sample.js';

export interface GenerateOptions extends SampleOptions {
  /** Characters to generate after the prime. */
  length: number;
  /** Text the model reads first (it is part of the output); default: one random character. */
  prime?: string;
  /**
   * A model of one sequence per line (data/line-sequences.ts): each line starts from a zero state after a
   * newline, as in training; the prime is read after one (default: a new line).
   */
  lines?: boolean;
}

/** A model read one character at a time: feed gives the next character's logits; restart forgets everything read. */
interface Reader {
  feed(id: number): Float32Array;
  restart(): void;
  dispose(): void;
}

export function generateText(model: LanguageModel | TransformerLanguageModel, vocab: Vocabulary, opts: GenerateOptions, rng: Rng): string {
  validateSampleOptions(opts);
  if (!Number.isInteger(opts.length) || opts.length < 0) throw new Error(`length must be a non-negative integer, got ${opts.length}`);
  const given = opts.prime !== undefined && opts.prime.length > 0 ? opts.prime : null;
  const lines = opts.lines === true;
  const prime = given ?? (lines ? '' : vocab.chars[rng.int(vocab.size)]);
  if (lines && !vocab.has('\n')) throw new Error('generateText: a model of one sequence per line has the newline in its vocabulary');
  const primeIds = vocab.encode(lines && !prime.startsWith('\n') ? `\n${prime}` : prime, 'the prime text');
  const newline = lines ? vocab.encode('\n')[0] : -1;
  const out: number[] = [];
  const reader = model instanceof TransformerLanguageModel ? cachedReader(model) : recurrentReader(model);
  try {
    let lv = reader.feed(primeIds[0]);
    for (let i = 1; i < primeIds.length; i++) {
      if (primeIds[i - 1] === newline) reader.restart(); // a prime of several lines: each one from a fresh state too
      lv = reader.feed(primeIds[i]);
    }
    for (let i = 0; i < opts.length; i++) {
      const next = sampleLogits(lv, opts, rng);
      out.push(next);
      if (i + 1 === opts.length) break;
      if (next === newline) reader.restart(); // the line ended: the next one starts afresh, from the newline
      lv = reader.feed(next);
    }
  } finally {
    reader.dispose();
  }
  return prime + vocab.decode(out);
}

function recurrentReader(model: LanguageModel): Reader {
  const { stepper, feed, dispose } = languageModelStepper(model);
  return { feed, restart: () => stepper.setState(null, null), dispose };
}

/** The window a Transformer reads: every character since the last restart, at most `context`, its keys and values cached. */
function cachedReader(model: TransformerLanguageModel): Reader {
  const T = model.config.context;
  const stepper = new TransformerStepper(model);
  let window: number[] = [];
  return {
    feed: (id) => {
      window.push(id);
      if (stepper.length < T) return stepper.step(id);
      // The window is full: slide it to its last half (at least one character), read again from position 0.
      window = window.slice(-Math.max(1, Math.floor(T / 2)));
      stepper.reset();
      let lv = stepper.step(window[0]);
      for (let i = 1; i < window.length; i++) lv = stepper.step(window[i]);
      return lv;
    },
    restart: () => {
      window = [];
      stepper.reset();
    },
    dispose: () => stepper.dispose(),
  };
}
