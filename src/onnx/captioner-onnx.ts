// The captioner (Show, Attend and Tell; Show and Tell with attention 'none') as two ONNX graphs, as the
// encoder–decoder's (seq2seq-onnx.ts): `encoder` runs the CNN once per batch of images, `decoder` is one word,
// and the search is the caller's loop. The encoder's outputs are named as the decoder's inputs (B batch,
// C, H, W the images of the config, L grid cells, D annotation features, A attention width, n hidden, V words):
//   encoder  image (B, C, H, W) float (annotations (B, L, D) for a captioner without a CNN)  ->  h, c (1, B, n)
//            from the mean annotation, memory (B, L, D) the grid, memory_keys (B, L, A) W_a a_i ['soft']
//   decoder  token (B) int64 (bos first), h, c, memory, memory_keys ['soft']  ->  logits (B, V), h_out, c_out,
//            attention (B, L) α over the grid and beta (B, 1) the gate β ['soft']
// Show and Tell's decoder reads h and c alone (memory is the grid, for whoever wants it). The math is
// Captioner's (its JSDoc); the LSTM step is ONNX's LSTM over one step, as the encoder–decoder's. Inference only.

import type { Captioner } from '../nn/captioner.js';
import { additiveKeys, additiveScores, attend } from './attention-graph.js';
import { Graph } from './graph.js';
import { imageEncoderGrid } from './image-graph.js';
import { embeddingLookup, finish, linearLayer, type OnnxGraph } from './layers.js';
import { stackStep } from './recurrent-graph.js';

const ENCODER_DOC = 'recurrent captioner, image encoder: image (B, C, H, W) -> the annotation grid and the decoder\'s initial state';
const DECODER_DOC = 'recurrent captioner, one decoder step: token (B) int64 and the state -> logits (B, V), the next state and α over the grid';

export function captionerToOnnx(model: Captioner, config: object | null = null): OnnxGraph[] {
  return [encoderGraph(model, config), decoderGraph(model, config)];
}

function encoderGraph(model: Captioner, config: object | null): OnnxGraph {
  const { hiddenSize: n, gridCells: L, annotationSize: D, image } = model.config;
  const g = Graph.root('recurrent_captioner_encoder', ENCODER_DOC);
  const grid = model.encoder === null
    ? g.input('annotations', 'float', ['batch', L, D])
    : imageEncoderGrid(g, model.encoder, 'encoder', g.input('image', 'float', ['batch', image!.channels, image!.height, image!.width])); // (B, L, D)
  const mean = g.op('ReduceMean', [grid], { axes: { ints: [1] }, keepdims: { int: 0 } }); // (B, D) ā
  const initial = (t: string): string => g.op('Unsqueeze', [t, g.ints([0])]); // (1, B, n)
  g.output('h', initial(g.op('Tanh', [linearLayer(g, model.initH, 'init_h', mean)])), 'float', [1, 'batch', n]);
  g.output('c', initial(linearLayer(g, model.initC, 'init_c', mean)), 'float', [1, 'batch', n]);
  g.output('memory', grid, 'float', ['batch', L, D]);
  if (model.attention !== null) g.output('memory_keys', additiveKeys(g, model.attention, 'attention', grid), 'float', ['batch', L, model.attention.attentionSize]); // (B, L, A)
  return finish(g, 'encoder', config);
}

function decoderGraph(model: Captioner, config: object | null): OnnxGraph {
  const { hiddenSize: n, gridCells: L, annotationSize: D, vocabSize: V } = model.config;
  const g = Graph.root('recurrent_captioner_decoder', DECODER_DOC);
  const token = g.input('token', 'int64', ['batch']);
  const h = g.input('h', 'float', [1, 'batch', n]);
  const c = g.input('c', 'float', [1, 'batch', n]);
  const ey = embeddingLookup(g, model.embedding, 'embedding', token); // (B, m) E y_{t-1}
  let x = ey; // (B, m) the LSTM's input
  let soft: { zHat: string; weights: string; beta: string } | null = null;
  if (model.attention !== null) {
    const memory = g.input('memory', 'float', ['batch', L, D]);
    const keys = g.input('memory_keys', 'float', ['batch', L, model.attention.attentionSize]);
    const hPrev = g.op('Squeeze', [h, g.ints([0])]); // (B, n) h_{t-1}
    const { context, weights } = attend(g, additiveScores(g, model.attention, 'attention', hPrev, keys), memory, null); // z_t (B, D), α_t (B, L)
    const beta = g.op('Sigmoid', [linearLayer(g, model.beta!, 'beta', hPrev)]); // (B, 1) β_t
    const zHat = g.op('Mul', [context, beta]); // (B, D) β_t z_t
    soft = { zHat, weights, beta };
    x = g.op('Concat', [ey, zHat], { axis: { int: 1 } }); // (B, m + D)
  }
  const r = stackStep(g, model.rnn, 'rnn', x, h, c); // y (B, n) h_t
  let deep = g.op('Add', [ey, linearLayer(g, model.outH, 'out_h', r.y)]); // (B, m) E y_{t-1} + L_h h_t
  if (soft !== null) deep = g.op('Add', [deep, linearLayer(g, model.outZ!, 'out_z', soft.zHat)]); // (B, m) + L_z ẑ_t
  g.output('logits', linearLayer(g, model.out, 'out', deep), 'float', ['batch', V]);
  g.output('h_out', r.h, 'float', [1, 'batch', n]);
  g.output('c_out', r.c!, 'float', [1, 'batch', n]);
  if (soft !== null) {
    g.output('attention', soft.weights, 'float', ['batch', L]);
    g.output('beta', soft.beta, 'float', ['batch', 1]);
  }
  return finish(g, 'decoder', config);
}
