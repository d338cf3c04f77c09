// The VQA model as one ONNX graph (B batch, T question length, C, H, W the images of the config, L grid
// cells, A answers):
//   image (B, C, H, W) float, question (B, T) int64, question_lengths (B) int64  ->  logits (B, A),
//   attention (B, L) α over the grid
// The question-only baseline takes no image and gives no attention. Positions at or past a question's
// length are padding, never read. The math is VqaModel's (its JSDoc): the LSTM's state after each
// question's last word queries Bahdanau's attention over the CNN's grid. Inference only.

import type { VqaModel } from '../nn/vqa-model.js';
import { additiveKeys, additiveScores, attend } from './attention-graph.js';
import { Graph } from './graph.js';
import { imageEncoderGrid } from './image-graph.js';
import { embeddingLookup, finish, linearLayer, type OnnxGraph } from './layers.js';
import { lengthMasks, stackSequence } from './recurrent-graph.js';

const DOC = 'recurrent VQA: image (B, C, H, W), question (B, T) int64, question_lengths (B) int64 -> logits (B, A) and α over the grid';

export function vqaToOnnx(model: VqaModel, config: object | null = null): OnnxGraph[] {
  const { numAnswers: A, image } = model.config;
  const g = Graph.root('recurrent_vqa', DOC);
  const images = model.encoder === null ? null : g.input('image', 'float', ['batch', image!.channels, image!.height, image!.width]);
  const question = g.input('question', 'int64', ['batch', 'time']);
  const lengths = g.input('question_lengths', 'int64', ['batch']);
  const x = embeddingLookup(g, model.embedding, 'embedding', g.op('Transpose', [question], { perm: { ints: [1, 0] } })); // (T, B, E)
  const r = stackSequence(g, model.rnn, 'rnn', x, { h0: null, c0: null, ...lengthMasks(g, lengths, x) }); // h (1, B, H)
  const q = g.op('Squeeze', [r.h, g.ints([0])]); // (B, H) the state after each question's last word
  let features = q; // (B, H)
  let weights: string | null = null;
  if (images !== null) {
    const grid = imageEncoderGrid(g, model.encoder!, 'encoder', images); // (B, L, D)
    const att = model.attention!;
    const read = attend(g, additiveScores(g, att, 'attention', q, additiveKeys(g, att, 'attention', grid)), grid, null); // context (B, D), α (B, L)
    weights = read.weights;
    features = g.op('Concat', [q, read.context], { axis: { int: 1 } }); // (B, H + D)
  }
  g.output('logits', linearLayer(g, model.answer, 'answer', g.op('Tanh', [linearLayer(g, model.hidden, 'hidden', features)])), 'float', ['batch', A]);
  if (weights !== null) g.output('attention', weights, 'float', ['batch', model.encoder!.gridSize(image!.height, image!.width).reduce((a, b) => a * b)]);
  return [finish(g, 'vqa', config)];
}
