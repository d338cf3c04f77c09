// The character language model (LanguageModel) as two ONNX graphs: `step`, one token and the recurrent
// state in, the next token's logits and the new state out (generation: the caller samples and feeds the
// token back), and `sequence`, a whole batch of sequences in, every position's logits out (scoring).
// Inputs and outputs (B batch, T time, L layers, H hidden, V vocabulary; ids int64, the rest float32):
//   step      token (B), h (L, B, H), c (L, B, H) [LSTM]  ->  logits (B, V), h_out, c_out [LSTM]
//   sequence  tokens (B, T), h, c [LSTM]                   ->  logits (B, T, V), h_out, c_out [LSTM]
// A fresh sequence starts from zero states. Inference only: dropout does not apply.

import type { LanguageModel } from '../nn/language-model.js';
import { Graph } from './graph.js';
import { embeddingLookup, finish, linearLayer, type OnnxGraph } from './layers.js';
import { stackSequence, stackStep } from './recurrent-graph.js';

const STEP_DOC = 'recurrent language model, one step: token (B) int64, h (L, B, H)[, c (L, B, H) for LSTM] -> logits (B, V), h_out[, c_out]';
const SEQUENCE_DOC = 'recurrent language model over whole sequences: tokens (B, T) int64, h (L, B, H)[, c] -> logits (B, T, V), h_out[, c_out]';

export function languageModelToOnnx(model: LanguageModel, config: object | null = null): OnnxGraph[] {
  return [languageModelStep(model, config), languageModelSequence(model, config)];
}

function stateInputs(g: Graph, model: LanguageModel): { h: string; c: string | null } {
  const { numLayers: L, hiddenSize: H, cell } = model.config;
  return { h: g.input('h', 'float', [L, 'batch', H]), c: cell === 'lstm' ? g.input('c', 'float', [L, 'batch', H]) : null };
}

function stateOutputs(g: Graph, model: LanguageModel, h: string, c: string | null): void {
  const { numLayers: L, hiddenSize: H } = model.config;
  g.output('h_out', h, 'float', [L, 'batch', H]);
  if (c !== null) g.output('c_out', c, 'float', [L, 'batch', H]);
}

function languageModelStep(model: LanguageModel, config: object | null): OnnxGraph {
  const g = Graph.root('recurrent_language_model_step', STEP_DOC);
  const token = g.input('token', 'int64', ['batch']);
  const s = stateInputs(g, model);
  const x = embeddingLookup(g, model.embedding, 'embedding', token); // (B, H)
  const r = stackStep(g, model.rnn, 'rnn', x, s.h, s.c); // y (B, H)
  g.output('logits', linearLayer(g, model.head, 'head', r.y), 'float', ['batch', model.config.vocabSize]); // (B, V)
  stateOutputs(g, model, r.h, r.c);
  return finish(g, 'step', config);
}

function languageModelSequence(model: LanguageModel, config: object | null): OnnxGraph {
  const g = Graph.root('recurrent_language_model_sequence', SEQUENCE_DOC);
  const tokens = g.input('tokens', 'int64', ['batch', 'time']);
  const s = stateInputs(g, model);
  const x = embeddingLookup(g, model.embedding, 'embedding', g.op('Transpose', [tokens], { perm: { ints: [1, 0] } })); // (T, B, H)
  const r = stackSequence(g, model.rnn, 'rnn', x, { h0: s.h, c0: s.c, lengths32: null, mask: null }); // y (T, B, H)
  const y = g.op('Transpose', [r.y], { perm: { ints: [1, 0, 2] } }); // (B, T, H)
  g.output('logits', linearLayer(g, model.head, 'head', y), 'float', ['batch', 'time', model.config.vocabSize]); // (B, T, V)
  stateOutputs(g, model, r.h, r.c);
  return finish(g, 'sequence', config);
}
