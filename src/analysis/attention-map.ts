// What an encoder–decoder looks at: a source decoded greedily by a seq2seq checkpoint's model, with the
// attention weights of every output symbol over the source's positions (the matrix a page draws).
// A Transformer language model's self-attention, every layer and head, is self-attention.ts.

import { splitTokens, type TokenSplit, type TokenVocabulary } from '../data/parallel-text.js';
import { greedyDecode } from '../decode/greedy.js';
import type { Seq2Seq } from '../nn/seq2seq.js';
import { EOS } from '../tasks/seq2seq.js';

export interface AttentionMap {
  /** The source's tokens (the columns). */
  source: string[];
  /** The output's tokens, the end token included when the decoder produced it (the rows). */
  output: string[];
  /** (rows, columns): weights[i][j] the attention of output symbol i on source token j; null without attention. */
  weights: Float32Array[] | null;
  /** False when the output was cut at the length limit before the end token. */
  finished: boolean;
}

/** Greedy decoding of `source` (split as the checkpoint's sources are: characters or spaces) with its attention. */
export function attentionMap(
  model: Seq2Seq, src: TokenVocabulary, tgt: TokenVocabulary, source: string, split: TokenSplit, maxLength?: number,
): AttentionMap {
  const tokens = splitTokens(source, split);
  if (tokens.length === 0) throw new Error('the source is empty');
  const ids = src.encode(tokens, 'the source');
  const [hyp] = greedyDecode(model, [ids], { maxLength: maxLength ?? 2 * tokens.length + 10 });
  const output = [...tgt.decode(hyp.tokens), ...(hyp.finished ? [EOS] : [])];
  return { source: tokens, output, weights: hyp.weights === null ? null : hyp.weights.map((w) => Float32Array.from(w)), finished: hyp.finished };
}
