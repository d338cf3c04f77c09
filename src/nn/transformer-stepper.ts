// Batch-1 decoding of the GPT-style model, one character at a time, without the tape or per-step tensors:
// every weight matrix packed once (Backend.packB), a key/value cache per layer, and each step a fixed
// sequence of kernel calls on preallocated buffers — the embedding and position rows, then per block
// LayerNorm, the packed in-projection, the fused attention of the one query over the cached keys, the
// packed out-projection and the feed-forward with GELU, each added into the residual row; the final
// LayerNorm and the packed head. The same arithmetic as TransformerLanguageModel.step (tested equal), at
// the cost of a few matrix–vector products per character. Not here: sampling (decode/generate.ts).

import { backend } from '../backend/registry.js';
import type { PackedMatrix } from '../backend/backend.js';
import { Tensor, untracked } from '../tensor/tensor.js';
import type { TransformerLanguageModel } from './transformer-language-model.js';

interface PackedLinear {
  w: PackedMatrix;
  b: Tensor | null;
  out: number;
}

interface Block {
  norm1: [Tensor, Tensor | null];
  inProj: PackedLinear;
  outProj: PackedLinear;
  norm2: [Tensor, Tensor | null];
  linear1: PackedLinear;
  linear2: PackedLinear;
  /** (context, 2E): row p = [k_p | v_p] */
  cache: Tensor;
}

export class TransformerStepper {
  /** Characters read since the last reset (the next one's position). */
  length = 0;
  private readonly E: number;
  private readonly V: number;
  private readonly heads: number;
  private readonly context: number;
  private readonly eps: number;
  private readonly blocks: Block[];
  private readonly finalNorm: [Tensor, Tensor | null];
  private readonly head: PackedLinear;
  private readonly tables: { tokens: Tensor; positions: Tensor };
  // Buffers: the residual row x, a normalised row h, qkv, attention output, feed-forward hidden, logits.
  private readonly x: Tensor;
  private readonly h: Tensor;
  private readonly qkv: Tensor;
  private readonly att: Tensor;
  private readonly ff: Tensor;
  private readonly ffAct: Tensor;
  private readonly probs: Tensor;
  private readonly stats: Tensor;
  private readonly logits: Tensor;

  constructor(model: TransformerLanguageModel) {
    const { dModel: E, vocabSize: V, numHeads, context, numLayers } = model.config;
    this.E = E;
    this.V = V;
    this.heads = numHeads;
    this.context = context;
    this.eps = model.encoder.layers[0].norm1.eps;
    const p = new Map(model.namedParameters());
    const get = (name: string): Tensor => {
      const t = p.get(name);
      if (t === undefined) throw new Error(`TransformerStepper: the model has no parameter ${name}`);
      return t;
    };
    const be = backend();
    // NOTE: packing allocates from the heap (it may grow): views are taken per use, after all of it.
    const linear = (prefix: string, inF: number, outF: number): PackedLinear => ({
      w: be.packB(true, inF, outF, get(`${prefix}.weight`).data, inF), b: p.get(`${prefix}.bias`) ?? null, out: outF,
    });
    const norm = (prefix: string): [Tensor, Tensor | null] => [get(`${prefix}.weight`), p.get(`${prefix}.bias`) ?? null];
    const made = untracked(() => {
      const blocks = Array.from({ length: numLayers }, (_, l): Block => {
        const pre = `encoder.layers.${l}`;
        return {
          norm1: norm(`${pre}.norm1`),
          inProj: { w: be.packB(true, E, 3 * E, get(`${pre}.self_attn.in_proj_weight`).data, E), b: p.get(`${pre}.self_attn.in_proj_bias`) ?? null, out: 3 * E },
          outProj: linear(`${pre}.self_attn.out_proj`, E, E),
          norm2: norm(`${pre}.norm2`),
          linear1: linear(`${pre}.linear1`, E, 4 * E),
          linear2: linear(`${pre}.linear2`, 4 * E, E),
          cache: new Tensor([context, 2 * E]), // (context, 2E)
        };
      });
      const headWeight = model.head === null ? get('embedding.weight') : get('head.weight');
      return {
        blocks,
        head: { w: be.packB(true, E, V, headWeight.data, E), b: null, out: V },
        x: new Tensor([E]), h: new Tensor([E]), qkv: new Tensor([3 * E]), att: new Tensor([E]),
        ff: new Tensor([4 * E]), ffAct: new Tensor([4 * E]), probs: new Tensor([numHeads, context]), stats: new Tensor([2]), logits: new Tensor([V]),
      };
    });
    this.blocks = made.blocks;
    this.head = made.head;
    this.finalNorm = norm('encoder.norm');
    this.tables = { tokens: get('embedding.weight'), positions: get('positions.weight') };
    ({ x: this.x, h: this.h, qkv: this.qkv, att: this.att, ff: this.ff, ffAct: this.ffAct, probs: this.probs, stats: this.stats, logits: this.logits } = made);
  }

  reset(): void {
    this.length = 0;
  }

  /** y = xW + b of a packed linear layer; beta 1 into y when accumulate (the residual), else y is overwritten. */
  private apply(lin: PackedLinear, x: Tensor, y: Tensor, accumulate: boolean): void {
    const yv = y.data;
    if (!accumulate) {
      if (lin.b !== null) yv.set(lin.b.data);
      else yv.fill(0);
    } else if (lin.b !== null) backend().axpy(1, lin.b.data, yv);
    backend().gemmPacked(false, 1, 1, x.data, lin.w.K, lin.w, 1, yv, lin.out);
  }

  private norm(w: [Tensor, Tensor | null], x: Tensor, y: Tensor): void {
    const s = this.stats.data;
    backend().layerNormForward(1, this.E, x.data, w[0].data, w[1]?.data ?? null, this.eps, y.data, s.subarray(0, 1), s.subarray(1, 2));
  }

  /** Reads token `id` at position `length` and returns the next token's logits (V): a view, valid until the next call. */
  step(id: number): Float32Array {
    const { E, heads } = this;
    const pos = this.length;
    if (pos >= this.context) throw new Error(`TransformerStepper: position ${pos} is past the context ${this.context} (reset first)`);
    const be = backend();
    const xv = this.x.data;
    xv.set(this.tables.tokens.data.subarray(id * E, (id + 1) * E));
    be.axpy(1, this.tables.positions.data.subarray(pos * E, (pos + 1) * E), xv); // x = wte[id] + wpe[pos]
    const D = E / heads;
    for (const b of this.blocks) {
      // x += out_proj(attention(norm1(x)))
      this.norm(b.norm1, this.x, this.h);
      this.apply(b.inProj, this.h, this.qkv, false); // [q | k | v] (3E)
      const qkv = this.qkv.data;
      const cache = b.cache.data;
      cache.set(qkv.subarray(E, 3 * E), pos * 2 * E); // cache row pos = [k | v]
      be.attentionForward({
        B: 1, heads, L: 1, S: pos + 1, D, scale: 1 / Math.sqrt(D),
        q: qkv, qs: { batch: 3 * E, time: 3 * E }, k: cache, ks: { batch: this.context * 2 * E, time: 2 * E },
        v: cache.subarray(E), vs: { batch: this.context * 2 * E, time: 2 * E },
        attnMask: null, maskStride: 0, keyPadding: null, causal: false,
        probs: this.probs.data.subarray(0, heads * (pos + 1)), dropMask: null, dropped: null, out: this.att.data, os: { batch: E, time: E },
      });
      this.apply(b.outProj, this.att, this.x, true);
      // x += linear2(gelu(linear1(norm2(x))))
      this.norm(b.norm2, this.x, this.h);
      this.apply(b.linear1, this.h, this.ff, false);
      be.gelu('none', this.ff.data, this.ffAct.data);
      this.apply(b.linear2, this.ffAct, this.x, true);
    }
    this.norm(this.finalNorm, this.x, this.h);
    this.apply(this.head, this.h, this.logits, false);
    this.length++;
    return this.logits.data;
  }

  dispose(): void {
    for (const b of this.blocks) {
      for (const lin of [b.inProj, b.outProj, b.linear1, b.linear2]) lin.w.dispose();
      b.cache.dispose();
    }
    this.head.w.dispose();
    for (const t of [this.x, this.h, this.qkv, this.att, this.ff, this.ffAct, this.probs, this.stats, this.logits]) t.dispose();
  }
}
