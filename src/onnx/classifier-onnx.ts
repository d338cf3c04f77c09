// The classifiers as one ONNX graph each, with per-sequence lengths (B batch, T time, N words, C classes):
//   SequenceClassifier    tokens (B, T) int64, lengths (B) int64  ->  logits (B, C)
//   BagOfWordsClassifier  words (B, N) int64, lengths (B) int64   ->  logits (B, C)
// Positions at or past a row's length are padding: never read (any id there is fine). The recurrent
// classifier pools as SequenceClassifier does (the last states, or the mean or max over the valid steps);
// the bag of words counts each word id over a row's first `lengths[b]` entries (ScatterElements with
// add) and applies the model's binary, count or log(1 + n) features. Tokenising a text into ids is the
// caller's (the vocabulary or word list is in the graph's metadata, `recurrent.config`).

import type { BagOfWordsClassifier } from '../nn/bag-of-words-classifier.js';
import type { SequenceClassifier } from '../nn/sequence-classifier.js';
import { Graph } from './graph.js';
import { embeddingLookup, finish, linearLayer, type OnnxGraph } from './layers.js';
import { lengthMasks, stackSequence } from './recurrent-graph.js';

const DOC = 'recurrent sequence classifier: tokens (B, T) int64, lengths (B) int64 -> logits (B, C)';
const BOW_DOC = 'recurrent bag-of-words classifier: words (B, N) int64, lengths (B) int64 -> logits (B, C)';

export function sequenceClassifierToOnnx(model: SequenceClassifier, config: object | null = null): OnnxGraph[] {
  const { numLayers: L, bidirectional, hiddenSize: H, pool, numClasses: C } = model.config;
  const dirs = bidirectional ? 2 : 1;
  const g = Graph.root('recurrent_sequence_classifier', DOC);
  const tokens = g.input('tokens', 'int64', ['batch', 'time']);
  const lengths = g.input('lengths', 'int64', ['batch']);
  const x = embeddingLookup(g, model.embedding, 'embedding', g.op('Transpose', [tokens], { perm: { ints: [1, 0] } })); // (T, B, E)
  const { lengths32, mask } = lengthMasks(g, lengths, x); // (B) int32, (T, B, 1) bool
  const r = stackSequence(g, model.rnn, 'rnn', x, { h0: null, c0: null, lengths32, mask }); // y (T, B, dirs·H), 0 past each length
  let pooled: string; // (B, dirs·H)
  switch (pool) {
    case 'last': {
      // The last layer's final states: forward after step n_b − 1, reverse after step 0, side by side.
      const top = g.op('Slice', [r.h, g.ints([(L - 1) * dirs]), g.ints([L * dirs]), g.ints([0])]); // (dirs, B, H)
      pooled = g.op('Reshape', [g.op('Transpose', [top], { perm: { ints: [1, 0, 2] } }), g.ints([0, dirs * H])]); // (B, dirs·H)
      break;
    }
    case 'mean': {
      const sum = g.op('ReduceSum', [r.y, g.ints([0])], { keepdims: { int: 0 } }); // (B, dirs·H)
      pooled = g.op('Div', [sum, g.op('Unsqueeze', [g.op('Cast', [lengths], { to: { int: 1 } }), g.ints([1])])]); // / n_b (B, 1)
      break;
    }
    case 'max': {
      const masked = g.op('Where', [mask, r.y, g.floats([-Infinity], [])]); // (T, B, dirs·H), padding never the max
      pooled = g.op('ReduceMax', [masked], { axes: { ints: [0] }, keepdims: { int: 0 } }); // (B, dirs·H)
      break;
    }
    default:
      return pool satisfies never;
  }
  g.output('logits', linearLayer(g, model.head, 'head', pooled), 'float', ['batch', C]);
  return [finish(g, 'classifier', config)];
}

export function bagOfWordsToOnnx(model: BagOfWordsClassifier, config: object | null = null): OnnxGraph[] {
  const { vocabSize: V, numClasses: C, features } = model.config;
  const g = Graph.root('recurrent_bow_classifier', BOW_DOC);
  const words = g.input('words', 'int64', ['batch', 'words']);
  const lengths = g.input('lengths', 'int64', ['batch']);
  const shape = g.op('Shape', [words]); // [B, N]
  const n = g.op('Range', [g.ints([0], true), g.op('Squeeze', [g.op('Slice', [shape, g.ints([1]), g.ints([2])]), g.ints([0])]), g.ints([1], true)]); // (N)
  const valid = g.op('Less', [g.op('Unsqueeze', [n, g.ints([0])]), g.op('Unsqueeze', [lengths, g.ints([1])])]); // (B, N) bool
  const ids = g.op('Where', [valid, words, g.ints([0], true)]); // padding points at word 0 and adds 0 to it
  const zeros = g.op('ConstantOfShape', [g.op('Concat', [g.op('Slice', [shape, g.ints([0]), g.ints([1])]), g.ints([V])], { axis: { int: 0 } })]); // (B, V)
  const counts = g.op('ScatterElements', [zeros, ids, g.op('Cast', [valid], { to: { int: 1 } })], { axis: { int: 1 }, reduction: { string: 'add' } }); // (B, V) n_v
  let x: string; // (B, V)
  switch (features) {
    case 'count':
      x = counts;
      break;
    case 'binary':
      x = g.op('Cast', [g.op('Greater', [counts, g.floats([0], [])])], { to: { int: 1 } }); // [n_v > 0]
      break;
    case 'log':
      x = g.op('Log', [g.op('Add', [counts, g.floats([1], [])])]); // log(1 + n_v)
      break;
    default:
      return features satisfies never;
  }
  g.output('logits', linearLayer(g, model.head, 'head', x), 'float', ['batch', C]);
  return [finish(g, 'classifier', config)];
}
