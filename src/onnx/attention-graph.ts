// Attention (src/nn/attention.ts) as ONNX nodes, shared by every exporter that attends (the encoder–decoder,
// the captioner, VQA): Bahdanau's keys W_k k_s, precomputed once per source, and its scores from a query;
// then the softmax over the positions (masked, or over every grid cell) and the weighted sum of the memory.
// Not here: where a model takes its query from or what it does with the context (the model exporters).

import type { Attention } from '../nn/attention.js';
import type { Graph } from './graph.js';
import { timesTransposed as times } from './layers.js';

/** An attention's weights by their names in the module (`query.weight`, `key.weight`, `v.weight`, `weight`). */
export function attentionParams(att: Attention): Map<string, Float32Array> {
  return new Map(att.namedParameters().map(([k, t]) => [k, t.data]));
}

/** memory (B, S, E) -> W_k k_s (B, S, A), Bahdanau's half of the score that does not depend on the query. */
export function additiveKeys(g: Graph, att: Attention, prefix: string, memory: string): string {
  return times(g, memory, attentionParams(att).get('key.weight')!, att.attentionSize, att.keySize, `${prefix}.key.weight_t`);
}

/** score_s = vᵀ tanh(W_k k_s + W_q q): q (B, Q), keys (B, S, A) from additiveKeys -> (B, S). */
export function additiveScores(g: Graph, att: Attention, prefix: string, q: string, keys: string): string {
  const p = attentionParams(att);
  const A = att.attentionSize;
  const qa = g.op('Unsqueeze', [times(g, q, p.get('query.weight')!, A, att.querySize, `${prefix}.query.weight_t`), g.ints([1])]); // (B, 1, A)
  const hidden = g.op('Tanh', [g.op('Add', [keys, qa])]); // (B, S, A)
  return g.op('Squeeze', [times(g, hidden, p.get('v.weight')!, 1, A, `${prefix}.v.weight_t`), g.ints([2])]); // (B, S)
}

/**
 * α = softmax over s of scores (B, S) and the context Σ_s α_s memory_s (B, E). With `valid` (B, S) bool the
 * softmax reads only the valid positions and α is exactly 0 elsewhere; null: every position is real.
 */
export function attend(g: Graph, scores: string, memory: string, valid: string | null): { context: string; weights: string } {
  const masked = valid === null ? scores : g.op('Where', [valid, scores, g.floats([-Infinity], [])]); // (B, S)
  const weights = g.op('Softmax', [masked], { axis: { int: -1 } }); // (B, S)
  const context = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [weights, g.ints([1])]), memory]), g.ints([1])]); // (B, E)
  return { context, weights };
}

/**
 * (B, S) bool, true where source position s < src_lengths[b] (src_lengths (B) int64; S is axis `axis` of
 * `like`): which positions of a padded source are real.
 */
export function validPositions(g: Graph, srcLengths: string, like: string, axis: number): string {
  const S = g.op('Squeeze', [g.op('Slice', [g.op('Shape', [like]), g.ints([axis]), g.ints([axis + 1])]), g.ints([0])]); // scalar S
  const s = g.op('Range', [g.ints([0], true), S, g.ints([1], true)]); // (S)
  return g.op('Less', [g.op('Unsqueeze', [s, g.ints([0])]), g.op('Unsqueeze', [srcLengths, g.ints([1])])]); // (1, S) < (B, 1) -> (B, S)
}
