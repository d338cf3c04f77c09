// The Transformer encoder–decoder (TransformerSeq2Seq) as two ONNX graphs, as the recurrent one ships
// (seq2seq-onnx.ts): `encoder` runs once per batch of sources, `decoder` is one target step with a key/value
// cache of the decoder self-attention, and the search is the caller's loop. The encoder's outputs are named
// as the decoder's inputs, so a loop passes them straight through (B batch, S source length, P tokens fed
// so far, heads, D = E / heads, l each decoder layer; ids int64, the rest float32):
//   encoder  src (B, S), src_lengths (B)  ->  memory (B, S, E), memory_key_l, memory_value_l (B, heads, S, D),
//            past_key_l, past_value_l (B, heads, 0, D) (empty: the decoder's first cache)
//   decoder  token (B) (bos first), past_key_l, past_value_l (B, heads, P, D), memory_key_l, memory_value_l,
//            src_lengths  ->  logits (B, V), present_key_l, present_value_l (B, heads, P + 1, D),
//            attention (B, S) (the last layer's cross-attention averaged over heads, 0 past each source's length)
// The cross-attention keys and values of the memory are projected in the encoder graph, once per source, as
// TransformerSeq2Seq.encode does and as the recurrent export's memory_keys are: a step that read `memory`
// would project all S positions again in every layer at every step. A step's position is P, the length of
// its cache, so no position input can disagree with the cache. Inference only: no dropout.

import type { LearnedPositionalEncoding, SinusoidalPositionalEncoding } from '../nn/transformer/positional-encoding.js';
import type { TransformerSeq2Seq } from '../nn/transformer-seq2seq.js';
import { Graph } from './graph.js';
import { finish, type OnnxGraph } from './layers.js';
import { decoderLayerNodes, encoderLayerNodes, headNode, layerNormNode, leadingPositions, memoryKeysValues, sourceMask, type KeysValues } from './transformer-graph.js';

const ENCODER_DOC = 'recurrent Transformer encoder–decoder, encoder: src (B, S) int64, src_lengths (B) int64 -> memory (B, S, E), memory_key_l/memory_value_l (B, heads, S, D) and empty past_key_l/past_value_l per decoder layer';
const DECODER_DOC = 'recurrent Transformer encoder–decoder, one decoder step: token (B) int64, past_key_l/past_value_l (B, heads, P, D), memory_key_l/memory_value_l, src_lengths -> logits (B, V), present_key_l/present_value_l (B, heads, P + 1, D), attention (B, S)';

export function transformerSeq2seqToOnnx(model: TransformerSeq2Seq, config: object | null = null): OnnxGraph[] {
  return [encoderGraph(model, config), decoderGraph(model, config)];
}

/** A position table as an initializer: the sinusoids are no parameter, so they go into the file as a constant. */
function positionTable(g: Graph, p: SinusoidalPositionalEncoding | LearnedPositionalEncoding, name: string): string {
  const t = 'table' in p ? p.table : p.weight;
  return g.weight('table' in p ? 'positions.table' : `${name}.weight`, t.data, t.shape);
}

/** E[ids] · √E + pos: ids any shape, pos broadcast against ids shape + (E). */
function embedded(g: Graph, table: string, ids: string, pos: string, E: number): string {
  return g.op('Add', [g.op('Mul', [g.op('Gather', [table, ids]), g.floats([Math.sqrt(E)], [])]), pos]);
}

function encoderGraph(model: TransformerSeq2Seq, config: object | null): OnnxGraph {
  const { dModel: E, nhead: heads, srcVocabSize } = model.config;
  const D = E / heads;
  const g = Graph.root('recurrent_transformer_seq2seq_encoder', ENCODER_DOC);
  const src = g.input('src', 'int64', ['batch', 'src_time']);
  const lengths = g.input('src_lengths', 'int64', ['batch']);
  const table = g.weight('src_embedding.weight', model.srcEmbedding.weight.data, [srcVocabSize, E]);
  let x = embedded(g, table, src, leadingPositions(g, positionTable(g, model.srcPositions, 'src_positions'), src), E); // (B, S, E)
  const mask = sourceMask(g, lengths, src, 1); // (B, 1, 1, S)
  model.transformer.encoder.layers.forEach((layer, l) => { x = encoderLayerNodes(g, layer, `transformer.encoder.layers.${l}`, x, mask, null).y; });
  const memory = layerNormNode(g, model.transformer.encoder.norm!, 'transformer.encoder.norm', x); // (B, S, E)
  g.output('memory', memory, 'float', ['batch', 'src_time', E]);
  const layers = model.transformer.decoder.layers;
  layers.forEach((layer, l) => {
    const kv = memoryKeysValues(g, layer.multiheadAttn, `transformer.decoder.layers.${l}.multihead_attn`, memory); // (B, heads, S, D)
    g.output(`memory_key_${l}`, kv.key, 'float', ['batch', heads, 'src_time', D]);
    g.output(`memory_value_${l}`, kv.value, 'float', ['batch', heads, 'src_time', D]);
  });
  const B = g.op('Slice', [g.op('Shape', [src]), g.ints([0]), g.ints([1])]); // [B]
  const empty = g.op('ConstantOfShape', [g.op('Concat', [B, g.ints([heads, 0, D])], { axis: { int: 0 } })]); // (B, heads, 0, D)
  layers.forEach((_, l) => {
    g.output(`past_key_${l}`, empty, 'float', ['batch', heads, 0, D]);
    g.output(`past_value_${l}`, empty, 'float', ['batch', heads, 0, D]);
  });
  return finish(g, 'encoder', config);
}

function decoderGraph(model: TransformerSeq2Seq, config: object | null): OnnxGraph {
  const { dModel: E, nhead: heads, tgtVocabSize: V } = model.config;
  const D = E / heads;
  const layers = model.transformer.decoder.layers;
  const g = Graph.root('recurrent_transformer_seq2seq_decoder', DECODER_DOC);
  const token = g.input('token', 'int64', ['batch']);
  const past: KeysValues[] = layers.map((_, l) => ({
    key: g.input(`past_key_${l}`, 'float', ['batch', heads, 'past', D]),
    value: g.input(`past_value_${l}`, 'float', ['batch', heads, 'past', D]),
  }));
  const memory: KeysValues[] = layers.map((_, l) => ({
    key: g.input(`memory_key_${l}`, 'float', ['batch', heads, 'src_time', D]),
    value: g.input(`memory_value_${l}`, 'float', ['batch', heads, 'src_time', D]),
  }));
  const lengths = g.input('src_lengths', 'int64', ['batch']);
  const table = g.weight('tgt_embedding.weight', model.tgtEmbedding.weight.data, [V, E]);
  const P = g.op('Slice', [g.op('Shape', [past[0].key]), g.ints([2]), g.ints([3])]); // [P]: this token's position
  const pos = g.op('Gather', [positionTable(g, model.tgtPositions, 'tgt_positions'), P]); // (1, E)
  let x = g.op('Unsqueeze', [embedded(g, table, token, pos, E), g.ints([1])]); // (B, 1, E)
  const memoryMask = sourceMask(g, lengths, memory[0].key, 2); // (B, 1, 1, S)
  const present: KeysValues[] = [];
  let crossWeights = '';
  layers.forEach((layer, l) => {
    // One new step: it reads every cached one and itself, so its self-attention needs no mask.
    const r = decoderLayerNodes(g, layer, `transformer.decoder.layers.${l}`, x, null, past[l], memory[l], memoryMask);
    x = r.y; // (B, 1, E)
    present.push(r.present);
    crossWeights = r.crossWeights; // (B, heads, 1, S)
  });
  const y = layerNormNode(g, model.transformer.decoder.norm!, 'transformer.decoder.norm', g.op('Squeeze', [x, g.ints([1])])); // (B, E)
  g.output('logits', headNode(g, model.head, y, table), 'float', ['batch', V]); // (B, V)
  present.forEach((kv, l) => {
    g.output(`present_key_${l}`, kv.key, 'float', ['batch', heads, 'present', D]);
    g.output(`present_value_${l}`, kv.value, 'float', ['batch', heads, 'present', D]);
  });
  const attention = g.op('ReduceMean', [g.op('Squeeze', [crossWeights, g.ints([2])])], { axes: { ints: [1] }, keepdims: { int: 0 } }); // (B, S)
  g.output('attention', attention, 'float', ['batch', 'src_time']);
  return finish(g, 'decoder', config);
}
