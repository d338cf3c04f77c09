// Text generation from a character language model: feed the prime, then one character at a time,
// carrying the recurrent state. Batch 1, without the tape and without per-character tensors
// (nn/language-model-stepper.ts).

import type { Vocabulary } from '../data/vocabulary.js';
import type { CarriedState, LanguageModel } from '../nn/language-model.js';
import { languageModelStepper } from '../nn/language-model-stepper.js';
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

export function generateText(model: LanguageModel, vocab: Vocabulary, opts: GenerateOptions, rng: Rng): string {
  validateSampleOptions(opts);
  if (!Number.isInteger(opts.length) || opts.length < 0) throw new Error(`length must be a non-negative integer, got ${opts.length}`);
  const given = opts.prime !== undefined && opts.prime.length > 0 ? opts.prime : null;
  const lines = opts.lines === true;
  const prime = given ?? (lines ? '' : vocab.chars[rng.int(vocab.size)]);
  if (lines && !vocab.has('\n')) throw new Error('generateText: a model of one sequence per line has the newline in its vocabulary');
  const primeIds = vocab.encode(lines && !prime.startsWith('\n') ? `\n${prime}` : prime, 'the prime text');
  const newline = lines ? vocab.encode('\n')[0] : -1;
  const out: number[] = [];
  const { stepper, feed, dispose } = languageModelStepper(model);
  try {
    let lv = feed(primeIds[0]);
    for (let i = 1; i < primeIds.length; i++) lv = feed(primeIds[i]);
    for (let i = 0; i < opts.length; i++) {
      const next = sampleLogits(lv, opts, rng);
      out.push(next);
      if (i + 1 === opts.length) break;
      if (next === newline) stepper.setState(null, null); // the line ended: the next one starts afresh, from the newline
      lv = feed(next);
    }
  } finally {
    dispose();
  }
  return prime + vocab.decode(out);
}

