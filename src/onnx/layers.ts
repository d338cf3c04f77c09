// The non-recurrent layers as ONNX nodes: an embedding lookup, a Linear (PyTorch's y = x Wᵀ + b), and
// the one-graph conventions every exporter shares (the graph metadata and the result type).

import type { Embedding } from '../nn/embedding.js';
import type { Linear } from '../nn/linear.js';
import { Graph, modelBytes } from './graph.js';

/** One exported graph: its role ('step', 'sequence', 'classifier', 'encoder', 'decoder') and its .onnx bytes. */
export interface OnnxGraph {
  name: string;
  bytes: Uint8Array;
}

/** Rows of the embedding table picked by int64 ids of any shape: ids shape + (E). */
export function embeddingLookup(g: Graph, emb: Embedding, name: string, ids: string): string {
  const [V, E] = emb.weight.shape;
  return g.op('Gather', [g.weight(`${name}.weight`, emb.weight.data, [V, E]), ids]);
}

/** x (..., IN) times the transpose of a (OUT, IN) weight, stored transposed so the product is one MatMul. */
export function timesTransposed(g: Graph, x: string, w: Float32Array, OUT: number, IN: number, name: string): string {
  const wt = new Float32Array(IN * OUT);
  for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) wt[i * OUT + o] = w[o * IN + i];
  return g.op('MatMul', [x, g.weight(name, wt, [IN, OUT])]);
}

/** x (..., IN) → x Wᵀ + b (..., OUT), PyTorch's Linear. */
export function linearLayer(g: Graph, lin: Linear, name: string, x: string): string {
  const [OUT, IN] = lin.weight.shape;
  const y = timesTransposed(g, x, lin.weight.data, OUT, IN, `${name}.weight_t`);
  return lin.bias === null ? y : g.op('Add', [y, g.weight(`${name}.bias`, lin.bias.data, [OUT])]);
}

/** A root graph's model bytes with the checkpoint's config.json (`config`) and the graph's role in its metadata. */
export function finish(g: Graph, role: string, config: object | null): OnnxGraph {
  const metadata: Record<string, string> = { 'recurrent.graph': role };
  if (config !== null) metadata['recurrent.config'] = JSON.stringify(config);
  return { name: role, bytes: modelBytes(g, metadata, '') };
}
