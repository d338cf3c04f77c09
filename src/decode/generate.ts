// Text generation from a character language model: feed the prime, then one character at a time,
// carrying the recurrent state. Runs without the tape and frees each step's temporaries.

import type { Vocabulary } from '../data/vocabulary.js';
import type { CarriedState, LanguageModel } from '../nn/language-model.js';
import type { Rng } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { sampleLogits, validateSampleOptions, type SampleOptions } from './sample.js';

export interface GenerateOptions extends SampleOptions {
  /** Characters to generate after the prime. */
  length: number;
  /** Text the model reads first (it is part of the output); default: one random character. */
  prime?: string;
}

export function generateText(model: LanguageModel, vocab: Vocabulary, opts: GenerateOptions, rng: Rng): string {
  validateSampleOptions(opts);
  if (!Number.isInteger(opts.length) || opts.length < 0) throw new Error(`length must be a non-negative integer, got ${opts.length}`);
  const prime = opts.prime !== undefined && opts.prime.length > 0 ? opts.prime : vocab.chars[rng.int(vocab.size)];
  const primeIds = vocab.encode(prime, 'the prime text');
  const wasTraining = model.training;
  model.eval();
  const out: number[] = [];
  let state: CarriedState | null = null;
  const step = (ids: Int32Array): Float32Array =>
    noGrad(() => {
      const r = tidy(() => model.forward(ids, ids.length, 1, state));
      disposeState(state);
      state = r.state;
      const V = vocab.size;
      const last = r.logits.data.slice((ids.length - 1) * V, ids.length * V);
      r.logits.dispose();
      return last;
    });
  try {
    let logits = step(primeIds);
    for (let i = 0; i < opts.length; i++) {
      const next = sampleLogits(logits, opts, rng);
      out.push(next);
      if (i + 1 < opts.length) logits = step(Int32Array.of(next));
    }
  } finally {
    disposeState(state);
    model.train(wasTraining);
  }
  return prime + vocab.decode(out);
}

export function disposeState(s: CarriedState | null): void {
  if (s === null) return;
  s.h.dispose();
  s.c?.dispose();
}

