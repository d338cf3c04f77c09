// Transformer layers (src/nn/transformer/) as ONNX nodes, batch-first: LayerNorm as ONNX's
// LayerNormalization (opset 17), the exact GELU as its erf decomposition 0.5·x·(1 + erf(x/√2)) (ONNX's Gelu
// operator is opset 20), and a pre-norm TransformerEncoderLayer whose self-attention is MatMul and Softmax
// over (B, heads, T, S) — causal through a mask the caller builds, or over a key/value cache of earlier steps
// that it returns grown. Inference only: no dropout. Not here: embeddings, positions and heads (the model exporters).

import type { TransformerEncoderLayer } from '../nn/transformer/encoder-layer.js';
import type { LayerNorm } from '../nn/transformer/layer-norm.js';
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

export interface KeysValues {
  /** (B, heads, S, D) */
  key: string;
  /** (B, heads, S, D) */
  value: string;
}

/**
 * One pre-norm TransformerEncoderLayer over x (B, T, E): x + SA(norm1(x)), then + FF(norm2(x)). With `past`
 * the new steps attend over its S earlier steps too (and `mask` may be null: a single new step sees
 * everything); returns the layer's output and the keys and values of every step it attended over
 * (B, heads, S + T, D), `past`'s first.
 */
export function encoderLayerNodes(g: Graph, layer: TransformerEncoderLayer, name: string, x: string, mask: string | null, past: KeysValues | null): { y: string; present: KeysValues } {
  const o = layer.options;
  if (!o.normFirst) throw new Error(`ONNX export: ${name} is a post-norm layer; only pre-norm (normFirst) layers are exported`);
  const E = o.dModel;
  const heads = o.nhead;
  const D = E / heads;
  const att = layer.selfAttn;
  // [q | k | v] = h W_inᵀ + b_in, each (B, T, E), then (B, T, heads, D).
  const h = layerNormNode(g, layer.norm1, `${name}.norm1`, x); // (B, T, E)
  let qkv = timesTransposed(g, h, att.inProjWeight.data, 3 * E, E, `${name}.self_attn.in_proj_weight_t`); // (B, T, 3E)
  if (att.inProjBias !== null) qkv = g.op('Add', [qkv, g.weight(`${name}.self_attn.in_proj_bias`, att.inProjBias.data, [3 * E])]);
  const [q, k, v] = g.opN('Split', [qkv, g.ints([E, E, E])], 3, { axis: { int: 2 } }).map((t) => g.op('Reshape', [t, g.ints([0, 0, heads, D])])); // (B, T, heads, D)
  const perHead = (t: string): string => g.op('Transpose', [t], { perm: { ints: [0, 2, 1, 3] } }); // (B, heads, T, D)
  const key = past === null ? perHead(k) : g.op('Concat', [past.key, perHead(k)], { axis: { int: 2 } }); // (B, heads, S, D)
  const value = past === null ? perHead(v) : g.op('Concat', [past.value, perHead(v)], { axis: { int: 2 } }); // (B, heads, S, D)
  const scores = g.op('Mul', [g.op('MatMul', [perHead(q), g.op('Transpose', [key], { perm: { ints: [0, 1, 3, 2] } })]), g.floats([1 / Math.sqrt(D)], [])]); // (B, heads, T, S)
  const masked = mask === null ? scores : g.op('Where', [mask, scores, g.floats([-Infinity], [])]); // (B, heads, T, S)
  const probs = g.op('Softmax', [masked], { axis: { int: -1 } }); // (B, heads, T, S)
  const heads1 = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, value])], { perm: { ints: [0, 2, 1, 3] } }), g.ints([0, 0, E])]); // (B, T, E)
  const x1 = g.op('Add', [x, linearLayer(g, att.outProj, `${name}.self_attn.out_proj`, heads1)]); // (B, T, E)
  // x1 + linear2(act(linear1(norm2(x1))))
  const f = linearLayer(g, layer.ff.linear1, `${name}.linear1`, layerNormNode(g, layer.norm2, `${name}.norm2`, x1)); // (B, T, F)
  const a = layer.ff.activation === 'gelu' ? geluNode(g, f) : g.op('Relu', [f]); // (B, T, F)
  const y = g.op('Add', [x1, linearLayer(g, layer.ff.linear2, `${name}.linear2`, a)]); // (B, T, E)
  return { y, present: { key, value } };
}
