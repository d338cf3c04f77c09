// The GPT-style character model (TransformerLanguageModel) as two ONNX graphs: `sequence`, a batch of
// windows in, every position's logits out (causal: scoring), and `step`, one token at its position with
// every layer's cached keys and values in, the next token's logits and the grown cache out (generation).
// Inputs and outputs (B batch, T time ≤ context, P cached steps, heads, D = E / heads; ids int64, the rest float32):
//   sequence  tokens (B, T)                                          ->  logits (B, T, V)
//   step      token (B), position (B), past_key_l, past_value_l      ->  logits (B, V), present_key_l,
//             (B, heads, P, D) for each layer l (P = 0 to start)         present_value_l (B, heads, P + 1, D)
// Positions are absolute and the table holds `context` of them: a caller past the context slides as
// recurrent's sampler does (decode/generate.ts) — the last half of the window read again from position 0
// with an empty cache. Inference only: dropout does not apply.

import type { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { Graph } from './graph.js';
import { finish, type OnnxGraph } from './layers.js';
import { causalMask, encoderLayerNodes, headNode, layerNormNode, leadingPositions, type KeysValues } from './transformer-graph.js';

const SEQUENCE_DOC = 'recurrent Transformer language model over whole windows: tokens (B, T ≤ context) int64 -> logits (B, T, V), causal';
const STEP_DOC = 'recurrent Transformer language model, one step: token (B) int64, position (B) int64, past_key_l/past_value_l (B, heads, P, D) per layer -> logits (B, V), present_key_l/present_value_l (B, heads, P + 1, D)';

export function transformerLanguageModelToOnnx(model: TransformerLanguageModel, config: object | null = null): OnnxGraph[] {
  return [transformerStep(model, config), transformerSequence(model, config)];
}

/** The final LayerNorm and the head (the token embedding's transpose when tied): x (·, E) -> (·, V). */
function logitsOf(g: Graph, model: TransformerLanguageModel, x: string, table: string): string {
  return headNode(g, model.head, layerNormNode(g, model.encoder.norm!, 'encoder.norm', x), table); // (·, V)
}

function transformerSequence(model: TransformerLanguageModel, config: object | null): OnnxGraph {
  const { dModel: E, vocabSize: V, context } = model.config;
  const g = Graph.root('recurrent_transformer_language_model_sequence', SEQUENCE_DOC);
  const tokens = g.input('tokens', 'int64', ['batch', 'time']);
  const table = g.weight('embedding.weight', model.embedding.weight.data, [V, E]);
  const positions = g.weight('positions.weight', model.positions.weight.data, [context, E]);
  let x = g.op('Add', [g.op('Gather', [table, tokens]), leadingPositions(g, positions, tokens)]); // (B, T, E)
  const mask = causalMask(g, tokens); // (T, T)
  model.encoder.layers.forEach((layer, l) => { x = encoderLayerNodes(g, layer, `encoder.layers.${l}`, x, mask, null).y; });
  g.output('logits', logitsOf(g, model, x, table), 'float', ['batch', 'time', V]); // (B, T, V)
  return finish(g, 'sequence', config);
}

function transformerStep(model: TransformerLanguageModel, config: object | null): OnnxGraph {
  const { dModel: E, vocabSize: V, numHeads: heads, context } = model.config;
  const D = E / heads;
  const g = Graph.root('recurrent_transformer_language_model_step', STEP_DOC);
  const token = g.input('token', 'int64', ['batch']);
  const position = g.input('position', 'int64', ['batch']);
  const past: KeysValues[] = model.encoder.layers.map((_, l) => ({
    key: g.input(`past_key_${l}`, 'float', ['batch', heads, 'past', D]),
    value: g.input(`past_value_${l}`, 'float', ['batch', heads, 'past', D]),
  }));
  const table = g.weight('embedding.weight', model.embedding.weight.data, [V, E]);
  const pos = g.op('Gather', [g.weight('positions.weight', model.positions.weight.data, [context, E]), position]); // (B, E)
  let x = g.op('Unsqueeze', [g.op('Add', [g.op('Gather', [table, token]), pos]), g.ints([1])]); // (B, 1, E)
  const present: KeysValues[] = [];
  model.encoder.layers.forEach((layer, l) => {
    const r = encoderLayerNodes(g, layer, `encoder.layers.${l}`, x, null, past[l]); // one new step: it reads every cached one and itself
    x = r.y;
    present.push(r.present);
  });
  g.output('logits', logitsOf(g, model, g.op('Squeeze', [x, g.ints([1])]), table), 'float', ['batch', V]); // (B, V)
  present.forEach((kv, l) => {
    g.output(`present_key_${l}`, kv.key, 'float', ['batch', heads, 'present', D]);
    g.output(`present_value_${l}`, kv.value, 'float', ['batch', heads, 'present', D]);
  });
  return finish(g, 'step', config);
}
