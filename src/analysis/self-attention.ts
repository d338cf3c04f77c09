// What a GPT-style character model looks at: one window of text read by a Transformer language model, and
// every layer's causal self-attention weights, per head and averaged over the heads — the matrices a page
// draws (rows the query position, columns the key position, characters on both axes). The weights are
// the ones each layer's MultiheadAttention returns in its forward pass. Not here: seq2seq attention
// (attention-map.ts), cells (cell-activations.ts).

import type { Vocabulary } from '../data/vocabulary.js';
import type { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { noGrad, tidy } from '../tensor/tensor.js';

export interface SelfAttentionMap {
  /** The window's characters (rows and columns alike). */
  chars: string[];
  layers: number;
  heads: number;
  /** [layer][head]: (T, T) row-major, [i·T + j] the weight of query position i on key position j (0 for j > i). */
  weights: Float32Array[][];
  /** [layer]: the mean over the heads, (T, T). */
  mean: Float32Array[];
}

/** The self-attention of every layer and head over `text` (at most the model's context of characters), in eval mode. */
export function selfAttentionMap(model: TransformerLanguageModel, vocab: Vocabulary, text: string): SelfAttentionMap {
  const chars = Array.from(text);
  const T = chars.length;
  const { context, numLayers: L, numHeads: heads } = model.config;
  if (T === 0) throw new Error('the text is empty');
  if (T > context) throw new Error(`the text has ${T} characters; this model reads at most ${context} (its context)`);
  const ids = vocab.encode(text, 'the text'); // (T, 1)
  const wasTraining = model.training;
  model.eval();
  try {
    const per = noGrad(() => tidy(() => model.forwardWithWeights(ids, T, 1).weights.map((w) => w.data.slice()))); // [layer] (1, heads, T, T)
    const weights = per.map((w) => Array.from({ length: heads }, (_, h) => w.slice(h * T * T, (h + 1) * T * T)));
    const mean = weights.map((hs) => {
      const m = new Float32Array(T * T);
      for (const w of hs) for (let k = 0; k < m.length; k++) m[k] += w[k] / heads;
      return m;
    });
    return { chars, layers: L, heads, weights, mean };
  } finally {
    if (wasTraining) model.train();
  }
}
