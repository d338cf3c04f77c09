// Transformer layers (src/nn/transformer/) as ONNX nodes, batch-first: LayerNorm as ONNX's
// LayerNormalization (opset 17), the exact GELU as its erf decomposition 0.5·x·(1 + erf(x/√2)) (ONNX's Gelu
// operator is opset 20), multi-head attention as MatMul and Softmax over (B, heads, T, S) under a bool mask
// the caller builds (causal, or a source's padding), and TransformerEncoderLayer and TransformerDecoderLayer,
// post-norm or pre-norm, whose self-attention may run over a key/value cache of earlier steps that it returns
// grown. Inference only: no dropout. Not here: embeddings, positions and heads (the model exporters).

import type { Linear } from '../nn/linear.js';
import type { TransformerDecoderLayer } from '../nn/transformer/decoder-layer.js';
import type { TransformerEncoderLayer } from '../nn/transformer/encoder-layer.js';
import type { FeedForward } from '../nn/transformer/layer-options.js';
import type { LayerNorm } from '../nn/transformer/layer-norm.js';
import type { MultiheadAttention } from '../nn/transformer/multihead-attention.js';
import { validPositions } from './attention-graph.js';
import type { Graph } from './graph.js';
import { linearLayer, timesTransposed } from './layers.js';

/** LayerNormalization over the last axis of x (·, E), with the layer's weight and bias and eps. */
export function layerNormNode(g: Graph, norm: LayerNorm, name: string, x: string): string {
  const E = norm.normalizedShape.reduce((a, b) => a * b, 1);
  if (norm.normalizedShape.length !== 1) throw new Error(`ONNX export: ${name} normalises over ${norm.normalizedShape.length} dimensions; only the last one is exported`);
  const w = norm.weight === null ? g.floats(Array(E).fill(1), [E]) : g.weight(`${name}.weight`, norm.weight.data, [E]);
  const inputs = [x, w, ...(norm.bias === null ? [] : [g.weight(`${name}.bias`, norm.bias.data, [E])])];
  return g.op('LayerNormalization', inputs, { axis: { int: -1 }, epsilon: { float: norm.eps } });
}

/** GELU, the exact (erf) form: x (·) -> 0.5 · x · (1 + erf(x / √2)). */
export function geluNode(g: Graph, x: string): string {
  const erf = g.op('Erf', [g.op('Mul', [x, g.floats([Math.SQRT1_2], [])])]);
  return g.op('Mul', [g.op('Mul', [x, g.floats([0.5], [])]), g.op('Add', [erf, g.floats([1], [])])]);
}

/**
 * (T, T) bool, true where key column j may be read by query row i (j ≤ i), for a sequence of `tokens`' length
 * (tokens (B, T)): the causal mask every layer of a whole-sequence graph shares.
 */
export function causalMask(g: Graph, tokens: string): string {
  const T = g.op('Squeeze', [g.op('Slice', [g.op('Shape', [tokens]), g.ints([1]), g.ints([2])]), g.ints([0])]); // scalar T
  const t = g.op('Range', [g.ints([0], true), T, g.ints([1], true)]); // (T)
  return g.op('LessOrEqual', [g.op('Unsqueeze', [t, g.ints([0])]), g.op('Unsqueeze', [t, g.ints([1])])]); // (1, T) ≤ (T, 1) -> (T, T)
}

/** validPositions as the key-padding mask of attention over a padded source, (B, 1, 1, S): broadcast over heads and queries. */
export function sourceMask(g: Graph, srcLengths: string, like: string, axis: number): string {
  return g.op('Unsqueeze', [validPositions(g, srcLengths, like, axis), g.ints([1, 2])]);
}

/** The first T rows of a position table (P, E), T the length of tokens (B, T): (T, E), to add to (B, T, E). */
export function leadingPositions(g: Graph, table: string, tokens: string): string {
  const T = g.op('Slice', [g.op('Shape', [tokens]), g.ints([1]), g.ints([2])]); // [T]
  return g.op('Slice', [table, g.ints([0]), T, g.ints([0])]); // (T, E)
}

/** The output layer: x (·, E) -> (·, V) through `head`, or tied (head null) through the transpose of `table` (V, E), one copy of it in the file. */
export function headNode(g: Graph, head: Linear | null, x: string, table: string): string {
  if (head !== null) return linearLayer(g, head, 'head', x); // (·, V)
  return g.op('MatMul', [x, g.op('Transpose', [table], { perm: { ints: [1, 0] } })]); // (·, V)
}

export interface KeysValues {
  /** (B, heads, S, D) */
  key: string;
  /** (B, heads, S, D) */
  value: string;
}

/** (B, T, heads·D) -> (B, heads, T, D). */
function splitHeads(g: Graph, x: string, heads: number, D: number): string {
  return g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, heads, D])])], { perm: { ints: [0, 2, 1, 3] } });
}

/**
 * x (B, T, E) times row blocks [first, first + count) of in_proj_weight (each E rows: q, k, v), plus their
 * bias: (B, T, count·E). A part of the weight is named for its blocks (in_proj_weight_kv_t).
 */
function inProjection(g: Graph, att: MultiheadAttention, name: string, x: string, first: number, count: number): string {
  const E = att.embedDim;
  const part = count === 3 ? '' : `_${'qkv'.slice(first, first + count)}`;
  const rows = (t: Float32Array, width: number): Float32Array => t.subarray(first * E * width, (first + count) * E * width);
  const y = timesTransposed(g, x, rows(att.inProjWeight.data, E), count * E, E, `${name}.in_proj_weight${part}_t`); // (B, T, count·E)
  return att.inProjBias === null ? y : g.op('Add', [y, g.weight(`${name}.in_proj_bias${part}`, rows(att.inProjBias.data, 1), [count * E])]);
}

/**
 * The keys and values of attention over a memory (B, S, E): [memory W_k + b_k | memory W_v + b_v] per head,
 * MultiheadAttention.projectKeyValue's, computed once for every decoder step.
 */
export function memoryKeysValues(g: Graph, att: MultiheadAttention, name: string, memory: string): KeysValues {
  const E = att.embedDim;
  const kv = inProjection(g, att, name, memory, 1, 2); // (B, S, 2E)
  const [k, v] = g.opN('Split', [kv, g.ints([E, E])], 2, { axis: { int: 2 } }); // each (B, S, E)
  return { key: splitHeads(g, k, att.numHeads, att.headDim), value: splitHeads(g, v, att.numHeads, att.headDim) }; // (B, heads, S, D)
}

/**
 * softmax(q kᵀ / √D, masked) v per head, then out_proj: q (B, heads, T, D) against `kv` (B, heads, S, D), `mask`
 * bool (broadcast to (B, heads, T, S), true where a key may be read) or null. Returns the output (B, T, E) and
 * the weights (B, heads, T, S), exactly 0 where masked.
 */
function attendNodes(g: Graph, att: MultiheadAttention, name: string, q: string, kv: KeysValues, mask: string | null): { y: string; probs: string } {
  const E = att.embedDim;
  const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [kv.key], { perm: { ints: [0, 1, 3, 2] } })]), g.floats([1 / Math.sqrt(att.headDim)], [])]); // (B, heads, T, S)
  const masked = mask === null ? scores : g.op('Where', [mask, scores, g.floats([-Infinity], [])]); // (B, heads, T, S)
  const probs = g.op('Softmax', [masked], { axis: { int: -1 } }); // (B, heads, T, S)
  const heads = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, kv.value])], { perm: { ints: [0, 2, 1, 3] } }), g.ints([0, 0, E])]); // (B, T, E)
  return { y: linearLayer(g, att.outProj, `${name}.out_proj`, heads), probs };
}

/**
 * Self-attention over x (B, T, E): with `past` the new steps attend over its S earlier steps too. Returns the
 * output (B, T, E) and the keys and values of every step attended over (B, heads, S + T, D), `past`'s first.
 */
function selfAttentionNodes(g: Graph, att: MultiheadAttention, name: string, x: string, mask: string | null, past: KeysValues | null): { y: string; present: KeysValues } {
  const E = att.embedDim;
  const qkv = inProjection(g, att, name, x, 0, 3); // (B, T, 3E): [q | k | v] in one MatMul
  const [q, k, v] = g.opN('Split', [qkv, g.ints([E, E, E])], 3, { axis: { int: 2 } }).map((t) => splitHeads(g, t, att.numHeads, att.headDim)); // (B, heads, T, D)
  const key = past === null ? k : g.op('Concat', [past.key, k], { axis: { int: 2 } }); // (B, heads, S + T, D)
  const value = past === null ? v : g.op('Concat', [past.value, v], { axis: { int: 2 } }); // (B, heads, S + T, D)
  return { y: attendNodes(g, att, name, q, { key, value }, mask).y, present: { key, value } };
}

/** linear2(act(linear1(x))): (B, T, E) -> (B, T, E). */
function feedForwardNodes(g: Graph, ff: FeedForward, name: string, x: string): string {
  const f = linearLayer(g, ff.linear1, `${name}.linear1`, x); // (B, T, F)
  const a = ff.activation === 'gelu' ? geluNode(g, f) : g.op('Relu', [f]); // (B, T, F)
  return linearLayer(g, ff.linear2, `${name}.linear2`, a); // (B, T, E)
}

/** One residual sublayer: x + f(norm(x)) pre-norm, norm(x + f(x)) post-norm. */
function residual(g: Graph, normFirst: boolean, norm: LayerNorm, normName: string, x: string, f: (h: string) => string): string {
  if (normFirst) return g.op('Add', [x, f(layerNormNode(g, norm, normName, x))]);
  return layerNormNode(g, norm, normName, g.op('Add', [x, f(x)]));
}

/**
 * One TransformerEncoderLayer over x (B, T, E), post-norm or pre-norm (its JSDoc). With `past` the new steps
 * attend over its S earlier steps too (and `mask` may be null: a single new step sees everything); returns
 * the layer's output and the keys and values of every step it attended over (B, heads, S + T, D), `past`'s first.
 */
export function encoderLayerNodes(g: Graph, layer: TransformerEncoderLayer, name: string, x: string, mask: string | null, past: KeysValues | null): { y: string; present: KeysValues } {
  let present: KeysValues | null = null;
  const x1 = residual(g, layer.options.normFirst, layer.norm1, `${name}.norm1`, x, (h) => {
    const r = selfAttentionNodes(g, layer.selfAttn, `${name}.self_attn`, h, mask, past);
    present = r.present;
    return r.y;
  }); // (B, T, E)
  const y = residual(g, layer.options.normFirst, layer.norm2, `${name}.norm2`, x1, (h) => feedForwardNodes(g, layer.ff, name, h)); // (B, T, E)
  return { y, present: present! };
}

/**
 * One TransformerDecoderLayer over x (B, T, E), post-norm or pre-norm (its JSDoc): self-attention under
 * `mask` over `past` and the new steps, attention over the memory's keys and values (`memory`, from
 * memoryKeysValues) under `memoryMask`, the feed-forward block. Returns the output, the grown self-attention
 * keys and values (B, heads, S + T, D), and the cross-attention weights (B, heads, T, S_src).
 */
export function decoderLayerNodes(g: Graph, layer: TransformerDecoderLayer, name: string, x: string,
  mask: string | null, past: KeysValues | null, memory: KeysValues, memoryMask: string | null): { y: string; present: KeysValues; crossWeights: string } {
  const { normFirst } = layer.options;
  const att = layer.multiheadAttn;
  let present: KeysValues | null = null;
  let crossWeights: string | null = null;
  const x1 = residual(g, normFirst, layer.norm1, `${name}.norm1`, x, (h) => {
    const r = selfAttentionNodes(g, layer.selfAttn, `${name}.self_attn`, h, mask, past);
    present = r.present;
    return r.y;
  }); // (B, T, E)
  const x2 = residual(g, normFirst, layer.norm2, `${name}.norm2`, x1, (h) => {
    const q = splitHeads(g, inProjection(g, att, `${name}.multihead_attn`, h, 0, 1), att.numHeads, att.headDim); // (B, heads, T, D)
    const r = attendNodes(g, att, `${name}.multihead_attn`, q, memory, memoryMask);
    crossWeights = r.probs;
    return r.y;
  }); // (B, T, E)
  const y = residual(g, normFirst, layer.norm3, `${name}.norm3`, x2, (h) => feedForwardNodes(g, layer.ff, name, h)); // (B, T, E)
  return { y, present: present!, crossWeights: crossWeights! };
}
