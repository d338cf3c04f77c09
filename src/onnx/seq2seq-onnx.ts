// The encoder–decoder (Seq2Seq) as two ONNX graphs, as exporters of encoder–decoders ship them: `encoder`
// runs once per batch of sources, `decoder` is one target step, and the search (greedy, sampling, beam)
// is the caller's loop, which feeds each step's chosen token and states to the next. The encoder's outputs
// are named as the decoder's state inputs, so a loop passes them straight through (B batch, S source
// length, L layers, H decoder hidden, Ek = dirs·H_e encoder state width, V target vocabulary):
//   encoder  src (B, S) int64, src_lengths (B) int64  ->  h (L, B, H), c [LSTM], feed (B, H) zeros [input
//            feeding], memory (B, S, Ek) [attention], memory_keys (B, S, ·) [bahdanau, luong-general]
//   decoder  token (B) int64 (bos first), h, c, feed, memory, memory_keys, src_lengths  ->  logits (B, V),
//            h_out, c_out, feed_out, attention (B, S) (the step's weights, 0 past each source's length)
// The math is Seq2Seq's (its JSDoc): the bridge, Bahdanau's attention from h_{t-1} before the cell, Luong's
// after it with h̃_t = tanh(W_c [c_t; h_t]). Inference only: no dropout.

import type { Seq2Seq } from '../nn/seq2seq.js';
import { additiveKeys, additiveScores, attend as attendMemory, attentionParams, validPositions } from './attention-graph.js';
import { Graph } from './graph.js';
import { embeddingLookup, finish, linearLayer, timesTransposed as times, type OnnxGraph } from './layers.js';
import { lengthMasks, stackSequence, stackStep } from './recurrent-graph.js';

const ENCODER_DOC = 'recurrent encoder–decoder, encoder: src (B, S) int64, src_lengths (B) int64 -> the decoder\'s initial state and memory';
const DECODER_DOC = 'recurrent encoder–decoder, one decoder step: token (B) int64 and the state -> logits (B, V) and the next state';

export function seq2seqToOnnx(model: Seq2Seq, config: object | null = null): OnnxGraph[] {
  return [encoderGraph(model, config), decoderGraph(model, config)];
}

function encoderGraph(model: Seq2Seq, config: object | null): OnnxGraph {
  const c = model.config;
  const { hiddenSize: H, encoderHiddenSize: He, numLayers: L, bidirectional, attention } = c;
  const dirs = bidirectional ? 2 : 1;
  const Ek = dirs * He;
  const g = Graph.root('recurrent_seq2seq_encoder', ENCODER_DOC);
  const src = g.input('src', 'int64', ['batch', 'src_time']);
  const lengths = g.input('src_lengths', 'int64', ['batch']);
  const x = embeddingLookup(g, model.srcEmbedding, 'src_embedding', g.op('Transpose', [src], { perm: { ints: [1, 0] } })); // (S, B, E)
  const { lengths32, mask } = lengthMasks(g, lengths, x);
  const r = stackSequence(g, model.encoder, 'encoder', x, { h0: null, c0: null, lengths32, mask }); // y (S, B, Ek); h, c (L·dirs, B, He)

  let h = r.h; // (L, B, H) after the bridge
  let cell = r.c;
  if (model.bridgeH !== null) {
    // (L·dirs, B, He) -> (L, B, dirs·He): each layer's final states, [forward; reverse] side by side.
    const both = (t: string): string => g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [t, g.ints([L, dirs, -1, He])])], { perm: { ints: [0, 2, 1, 3] } }), g.ints([L, -1, Ek])]);
    h = g.op('Tanh', [linearLayer(g, model.bridgeH, 'bridge_h', both(r.h))]); // (L, B, H)
    cell = r.c === null ? null : linearLayer(g, model.bridgeC!, 'bridge_c', both(r.c)); // (L, B, H)
  }
  g.output('h', h, 'float', [L, 'batch', H]);
  if (cell !== null) g.output('c', cell, 'float', [L, 'batch', H]);
  if (c.inputFeeding) {
    const B = g.op('Slice', [g.op('Shape', [src]), g.ints([0]), g.ints([1])]);
    g.output('feed', g.op('ConstantOfShape', [g.op('Concat', [B, g.ints([H])], { axis: { int: 0 } })]), 'float', ['batch', H]); // (B, H) h̃_0 = 0
  }
  if (attention !== 'none') {
    const memory = g.op('Transpose', [r.y], { perm: { ints: [1, 0, 2] } }); // (B, S, Ek)
    g.output('memory', memory, 'float', ['batch', 'src_time', Ek]);
    if (attention === 'bahdanau') {
      g.output('memory_keys', additiveKeys(g, model.attention!, 'attention', memory), 'float', ['batch', 'src_time', model.attention!.attentionSize]); // (B, S, A) W_k k
    } else if (attention === 'luong-general') {
      g.output('memory_keys', times(g, memory, attentionParams(model.attention!).get('weight')!, H, Ek, 'attention.weight_t'), 'float', ['batch', 'src_time', H]); // (B, S, H) W_a k
    }
  }
  return finish(g, 'encoder', config);
}

function decoderGraph(model: Seq2Seq, config: object | null): OnnxGraph {
  const c = model.config;
  const { hiddenSize: H, encoderHiddenSize: He, numLayers: L, bidirectional, attention, tgtVocabSize: V, cell } = c;
  const Ek = (bidirectional ? 2 : 1) * He;
  const g = Graph.root('recurrent_seq2seq_decoder', DECODER_DOC);
  const token = g.input('token', 'int64', ['batch']);
  const h = g.input('h', 'float', [L, 'batch', H]);
  const cs = cell === 'lstm' ? g.input('c', 'float', [L, 'batch', H]) : null;
  const feed = c.inputFeeding ? g.input('feed', 'float', ['batch', H]) : null;
  const memory = attention === 'none' ? null : g.input('memory', 'float', ['batch', 'src_time', Ek]);
  const A = model.attention?.attentionSize ?? 0;
  const keys = attention === 'bahdanau' ? g.input('memory_keys', 'float', ['batch', 'src_time', A])
    : attention === 'luong-general' ? g.input('memory_keys', 'float', ['batch', 'src_time', H]) : memory;
  const srcLengths = attention === 'none' ? null : g.input('src_lengths', 'int64', ['batch']);

  // attend(q): the masked softmax over each row's source positions and the weighted sum of the memory.
  const attend = (q: string): { context: string; weights: string } => {
    let scores: string; // (B, S)
    if (attention === 'bahdanau') scores = additiveScores(g, model.attention!, 'attention', q, keys!);
    else {
      const kt = g.op('Transpose', [keys!], { perm: { ints: [0, 2, 1] } }); // (B, Q, S)
      scores = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [q, g.ints([1])]), kt]), g.ints([1])]); // (B, S) qᵀ k_s or qᵀ W_a k_s
    }
    return attendMemory(g, scores, memory!, validPositions(g, srcLengths!, memory!, 1)); // context (B, Ek), weights (B, S) exactly 0 on padding
  };

  let x = embeddingLookup(g, model.tgtEmbedding, 'tgt_embedding', token); // (B, E)
  let context: string | null = null;
  let weights: string | null = null;
  if (attention === 'bahdanau') {
    const top = g.op('Squeeze', [g.op('Slice', [h, g.ints([L - 1]), g.ints([L]), g.ints([0])]), g.ints([0])]); // (B, H) h_{t-1}^{top}
    ({ context, weights } = attend(top));
    x = g.op('Concat', [x, context], { axis: { int: 1 } }); // (B, E + Ek)
  } else if (feed !== null) {
    x = g.op('Concat', [x, feed], { axis: { int: 1 } }); // (B, E + H)
  }
  const r = stackStep(g, model.decoder, 'decoder', x, h, cs); // y (B, H)
  let logits: string;
  let feedOut: string | null = null;
  if (attention === 'none') logits = linearLayer(g, model.head, 'head', r.y);
  else if (attention === 'bahdanau') logits = linearLayer(g, model.head, 'head', g.op('Concat', [r.y, context!], { axis: { int: 1 } }));
  else {
    ({ context, weights } = attend(r.y));
    const ht = g.op('Tanh', [linearLayer(g, model.combine!, 'combine', g.op('Concat', [context, r.y], { axis: { int: 1 } }))]); // (B, H) h̃_t
    logits = linearLayer(g, model.head, 'head', ht);
    if (c.inputFeeding) feedOut = ht;
  }
  g.output('logits', logits, 'float', ['batch', V]);
  g.output('h_out', r.h, 'float', [L, 'batch', H]);
  if (r.c !== null) g.output('c_out', r.c, 'float', [L, 'batch', H]);
  if (feedOut !== null) g.output('feed_out', feedOut, 'float', ['batch', H]);
  if (weights !== null) g.output('attention', weights, 'float', ['batch', 'src_time']);
  return finish(g, 'decoder', config);
}
