// TransformerSeq2Seq: the encoder–decoder of Vaswani et al. (2017) for `source → target` sequences of ids:
// source and target embeddings scaled by √d_model, sinusoidal or learned positions, dropout, PyTorch's
// nn.Transformer (encoder.norm and decoder.norm included), a linear head (optionally the target embedding's
// weight). Trained teacher-forced in one pass (masked decoder self-attention); decoded one token at a time as
// a StepDecoder with a key/value cache per decoder layer and the memory's cross-attention keys and values
// projected once. Not here: the layers (transformer/), the searches (decode/), the task (tasks/seq2seq.ts).

import { crossEntropy, dropout as dropoutOp, indexSelect, linear, meanAxis, reshape, scale } from '../autograd/ops.js';
import type { DecodingSignature, StepDecoder, StepDecoderStep } from '../decode/step-decoder.js';
import type { Rng } from '../random/rng.js';
import { Tensor, noGrad, tidy } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear, positiveInt } from './linear.js';
import { Module } from './module.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import { checkSeq2SeqBatch, type Seq2SeqBatch } from './seq2seq.js';
import {
  IGNORE_INDEX, checkFeedbackOptions, checkSequences, teacherForcedInputs, timeMajorTargets, type FeedbackOptions, type FeedbackOutput,
} from './sequence-batch.js';
import { boolMask, type BoolMask } from './transformer/masks.js';
import { KeyValueCache } from './transformer/multihead-attention.js';
import { LearnedPositionalEncoding, SinusoidalPositionalEncoding } from './transformer/positional-encoding.js';
import { Transformer } from './transformer/transformer.js';

export type PositionKind = 'sinusoidal' | 'learned';
export const positionKinds: readonly PositionKind[] = ['sinusoidal', 'learned'];

export interface TransformerSeq2SeqConfig {
  arch: 'transformer';
  srcVocabSize: number;
  tgtVocabSize: number;
  /** E: the width of the embeddings and of every layer. */
  dModel: number;
  /** Heads of every attention; must divide dModel. */
  nhead: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  dimFeedforward: number;
  /** On the embeddings (after the positions), the attention weights and every residual branch (training only). */
  dropout: number;
  activation: 'relu' | 'gelu';
  /** Pre-norm layers (LayerNorm before each sublayer) instead of Vaswani's post-norm. */
  normFirst: boolean;
  positions: PositionKind;
  /** The most positions of a source, and of a target with its eos (the positions' table; learned ones are parameters). */
  maxLength: number;
  /** The head's weight is the target embedding's (no head.* of its own, and no bias). */
  tieEmbeddings: boolean;
  bos: number;
  eos: number;
}

const CONFIG_KEYS = [
  'arch', 'srcVocabSize', 'tgtVocabSize', 'dModel', 'nhead', 'numEncoderLayers', 'numDecoderLayers', 'dimFeedforward', 'dropout',
  'activation', 'normFirst', 'positions', 'maxLength', 'tieEmbeddings', 'bos', 'eos',
] as const;

/** What encode leaves for the steps: fixed for the whole decode of a batch of sources. */
export interface TransformerEncodedSource {
  B: number;
  srcLengths: number[];
  /** (S, B, E) the encoder's output (encoder.norm included). */
  memory: Tensor;
  /** (B, S) true past each source's length. */
  keyPadding: BoolMask;
  /** Per decoder layer, (S, B, 2E): [k | v] of the memory, projected once for every step. */
  memoryKeyValues: Tensor[];
}

/** What grows as the decoder steps: per decoder layer, the self-attention keys and values of the tokens fed so far. */
export interface TransformerDecoderState {
  /** Per decoder layer, (B, capacity, 2E): [k | v] of each fed token, the first `length` rows filled (a KeyValueCache's storage). */
  kv: Tensor[];
  /** Tokens fed so far (the next one's position). */
  length: number;
}

export interface TransformerSeq2SeqOutput extends FeedbackOutput {
  /** Per decoder layer, (B, nhead, T, S): every head's attention over the source (0 past each source's length). */
  crossWeights: Tensor[];
}

/** Steps a new cache has room for before it moves into one twice as large (up to maxLength). */
const FIRST_CAPACITY = 16;

/** (B, C, 2E) -> (B, capacity, 2E) with the same first C rows per batch entry. */
function grown(t: Tensor, capacity: number): Tensor {
  const [B, C, W] = t.shape;
  const out = new Tensor([B, capacity, W]);
  for (let b = 0; b < B; b++) out.data.set(t.data.subarray(b * C * W, (b + 1) * C * W), b * capacity * W);
  return out;
}

/**
 * With x the source ids (S, B) and y the fed target ids (T, B), y_0 = bos (teacher forcing):
 *   src = dropout(E_x[x] · √E + P[0..S)),   tgt = dropout(E_y[y] · √E + P[0..T))
 *   h = transformer(src, tgt; source key-padding mask on encoder self-attention and cross-attention, causal decoder self-attention)
 *   logits = h W_oᵀ + b_o    (tied: h E_yᵀ)
 * P is the sinusoid table of Vaswani et al. (not a parameter) or learned rows per side (src_positions,
 * tgt_positions). Target padding needs no mask: a real position only attends to earlier ones, all real.
 * Init: the Transformer Xavier-uniform (PyTorch's), the embeddings N(0, 1/E) (so E_x[x] · √E has unit
 * variance, as fairseq does), learned positions N(0, 1/E), the head nn.Linear's.
 *
 * Parameters (PyTorch's names): src_embedding.weight, tgt_embedding.weight, [src_positions.weight,
 * tgt_positions.weight], transformer.encoder.layers.0.self_attn.in_proj_weight, ..., transformer.decoder.norm.bias,
 * head.weight, head.bias (untied).
 *
 * As a StepDecoder: encode runs the encoder once and projects each decoder layer's cross-attention keys and
 * values of the memory; each decodeStep feeds one token at the next position through the decoder with its
 * self-attention keys and values written into row `length` of a per-layer buffer (a KeyValueCache's storage,
 * carried as plain tensors so tidy scopes and the searches free it as any state), so a step costs one
 * position. The write is in place: a state's rows below its length never change, but once a step has read a
 * state, the state that step returned is the one to go on from. The step's `weights` are the last decoder layer's
 * cross-attention averaged over its heads; every layer and head comes from forward() (crossWeights), which
 * gives the same numbers.
 */
export class TransformerSeq2Seq extends Module implements StepDecoder<TransformerEncodedSource, TransformerDecoderState> {
  readonly config: Readonly<TransformerSeq2SeqConfig>;
  readonly srcEmbedding: Embedding;
  readonly tgtEmbedding: Embedding;
  readonly srcPositions: SinusoidalPositionalEncoding | LearnedPositionalEncoding;
  readonly tgtPositions: SinusoidalPositionalEncoding | LearnedPositionalEncoding;
  readonly transformer: Transformer;
  readonly head: Linear | null;

  constructor(config: TransformerSeq2SeqConfig, private readonly rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`TransformerSeq2Seq: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('TransformerSeq2Seq config', config, CONFIG_KEYS);
    const c = config;
    if (c.arch !== 'transformer') throw new Error(`TransformerSeq2Seq: arch must be 'transformer', got ${JSON.stringify(c.arch)}`);
    for (const k of ['srcVocabSize', 'tgtVocabSize', 'dModel', 'nhead', 'numEncoderLayers', 'numDecoderLayers', 'dimFeedforward', 'maxLength'] as const) positiveInt(`TransformerSeq2Seq ${k}`, c[k]);
    if (c.dModel % c.nhead !== 0) throw new Error(`TransformerSeq2Seq: nhead ${c.nhead} does not divide the width dModel ${c.dModel}`);
    if (!(typeof c.dropout === 'number' && c.dropout >= 0 && c.dropout < 1)) throw new Error(`TransformerSeq2Seq dropout must be a number in [0, 1), got ${String(c.dropout)}`);
    if (!positionKinds.includes(c.positions)) throw new Error(`TransformerSeq2Seq positions must be one of ${positionKinds.join(', ')}, got ${JSON.stringify(c.positions)}`);
    for (const k of ['normFirst', 'tieEmbeddings'] as const) if (typeof c[k] !== 'boolean') throw new Error(`TransformerSeq2Seq ${k} must be true or false, got ${String(c[k])}`);
    for (const k of ['bos', 'eos'] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] >= c.tgtVocabSize) throw new Error(`TransformerSeq2Seq ${k} must be a target id in [0, ${c.tgtVocabSize}), got ${String(c[k])}`);
    }
    this.config = { ...c };
    const E = c.dModel;
    const std = 1 / Math.sqrt(E);
    const embedding = (name: string, V: number): Embedding => {
      const e = this.child(name, new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
      for (let i = 0; i < e.weight.data.length; i++) e.weight.data[i] *= std; // N(0, 1) -> N(0, 1/E)
      return e;
    };
    this.srcEmbedding = embedding('src_embedding', c.srcVocabSize);
    this.tgtEmbedding = embedding('tgt_embedding', c.tgtVocabSize);
    if (c.positions === 'sinusoidal') {
      this.srcPositions = this.tgtPositions = this.child('positions', new SinusoidalPositionalEncoding({ embedDim: E, maxLength: c.maxLength })); // no parameters
    } else {
      this.srcPositions = this.child('src_positions', new LearnedPositionalEncoding({ embedDim: E, maxLength: c.maxLength, std }, rng));
      this.tgtPositions = this.child('tgt_positions', new LearnedPositionalEncoding({ embedDim: E, maxLength: c.maxLength, std }, rng));
    }
    this.transformer = this.child('transformer', new Transformer({
      dModel: E, nhead: c.nhead, numEncoderLayers: c.numEncoderLayers, numDecoderLayers: c.numDecoderLayers, dimFeedforward: c.dimFeedforward,
      dropout: c.dropout, activation: c.activation, normFirst: c.normFirst,
    }, rng));
    this.head = c.tieEmbeddings ? null : this.child('head', new Linear({ inFeatures: E, outFeatures: c.tgtVocabSize }, rng));
  }

  /** dropout(E[ids] · √E + P[start..start+T)): ids (T, B) time-major -> (T, B, E). */
  private embed(emb: Embedding, positions: SinusoidalPositionalEncoding | LearnedPositionalEncoding, ids: Int32Array, T: number, B: number, start: number): Tensor {
    if (start + T > this.config.maxLength) throw new Error(`TransformerSeq2Seq: positions [${start}, ${start + T}) are past the model's maxLength ${this.config.maxLength}`);
    const x = positions.forward(scale(emb.forward(ids, [T, B]), Math.sqrt(this.config.dModel)), start); // (T, B, E)
    return dropoutOp(x, this.config.dropout, this.rng, this.training);
  }

  private logits(h: Tensor): Tensor {
    return this.head === null ? linear(h, this.tgtEmbedding.weight, null) : this.head.forward(h); // (..., V)
  }

  /** The encoder over B sources (padded with id 0 and masked): the memory (S, B, E) and the key-padding mask (B, S). */
  private encodeSources(src: ReadonlyArray<ArrayLike<number>>): { memory: Tensor; keyPadding: BoolMask; lengths: number[] } {
    const lengths = checkSequences('TransformerSeq2Seq source', 'src', src, this.config.srcVocabSize);
    const B = src.length;
    const S = Math.max(...lengths);
    const ids = new Int32Array(S * B); // (S, B)
    const pad = new Uint8Array(B * S); // (B, S)
    src.forEach((seq, b) => {
      for (let s = 0; s < S; s++) {
        if (s < seq.length) ids[s * B + b] = seq[s];
        else pad[b * S + s] = 1;
      }
    });
    const keyPadding = boolMask(pad, [B, S]);
    const x = this.embed(this.srcEmbedding, this.srcPositions, ids, S, B, 0); // (S, B, E)
    const memory = this.transformer.encoder.forward(x, { srcKeyPaddingMask: keyPadding }); // (S, B, E)
    return { memory, keyPadding, lengths };
  }

  /**
   * Teacher-forced training forward: logits for every target position (T = longest target + 1 for eos),
   * the mean cross-entropy over real positions (label smoothing as given), every layer's cross-attention.
   * Scheduled sampling (teacherForcing < 1) does not apply: the decoder reads all fed tokens in one pass.
   */
  forward(batch: Seq2SeqBatch, opts: FeedbackOptions = {}): TransformerSeq2SeqOutput {
    const { teacherForcing, labelSmoothing } = checkFeedbackOptions('TransformerSeq2Seq.forward', opts);
    if (teacherForcing < 1) throw new Error(`TransformerSeq2Seq.forward: teacherForcing ${teacherForcing} < 1 (scheduled sampling) applies to the recurrent encoder–decoder only`);
    const { bos, eos, tgtVocabSize: V } = this.config;
    const B = checkSeq2SeqBatch('TransformerSeq2Seq', batch, V);
    const { targets, T } = timeMajorTargets(batch.tgt, eos); // (T, B)
    const inputs = teacherForcedInputs(targets, B, bos, eos); // (T, B)
    const { memory, keyPadding } = this.encodeSources(batch.src);
    const y = this.embed(this.tgtEmbedding, this.tgtPositions, inputs, T, B, 0); // (T, B, E)
    const r = this.transformer.decoder.forwardWithWeights(y, memory, { tgtIsCausal: true, memoryKeyPaddingMask: keyPadding }); // (T, B, E)
    const logits = this.logits(r.output); // (T, B, V)
    const loss = crossEntropy(logits, targets, IGNORE_INDEX, labelSmoothing); // [1]
    return { loss, logits, targets, inputs, crossWeights: r.crossWeights };
  }

  /**
   * Every decoder layer's and head's attention over `src` while it wrote `tokens` (a decoded hypothesis) and,
   * when `finished`, eos: [layer][head][step][source position], one step per symbol written. Computed
   * teacher-forced in eval mode without the tape (the same numbers as the steps that wrote them).
   */
  crossAttention(src: ArrayLike<number>, tokens: readonly number[], finished: boolean): number[][][][] {
    const steps = tokens.length + (finished ? 1 : 0);
    const was = this.training;
    this.eval();
    try {
      return noGrad(() => tidy(() => {
        // forward feeds bos then the target: its first `steps` positions are the steps that wrote the tokens. An
        // unfinished hypothesis never fed its last token back (it may already fill every position: not fed here).
        const fed = finished ? tokens : tokens.slice(0, -1);
        const out = this.forward({ src: [src], tgt: [Int32Array.from(fed.length === 0 ? [this.config.eos] : fed)] });
        return out.crossWeights.map((w) => {
          const [, H, T, S] = w.shape; // (1, H, T, S)
          return Array.from({ length: H }, (_, h) => Array.from({ length: steps }, (_, t) => Array.from(w.data.subarray((h * T + t) * S, (h * T + t + 1) * S))));
        });
      }));
    } finally {
      this.train(was);
    }
  }

  // --- StepDecoder: what the searches in src/decode/ read ---
  decodingSignature(): DecodingSignature {
    const { srcVocabSize, tgtVocabSize, bos, eos } = this.config;
    // The recurrent Seq2Seq's kind and keys: both read id sequences, so they ensemble together.
    return { kind: 'Seq2Seq', keys: [['srcVocabSize', srcVocabSize], ['tgtVocabSize', tgtVocabSize], ['bos', bos], ['eos', eos]], vocabSize: tgtVocabSize, bos, eos };
  }

  encode(src: ReadonlyArray<ArrayLike<number>>): { encoded: TransformerEncodedSource; state: TransformerDecoderState } {
    const { memory, keyPadding, lengths } = this.encodeSources(src);
    const B = src.length;
    const layers = this.transformer.decoder.layers;
    const memoryKeyValues = layers.map((l) => l.multiheadAttn.projectKeyValue(memory)); // each (S, B, 2E)
    const capacity = Math.min(FIRST_CAPACITY, this.config.maxLength);
    const kv = layers.map(() => new Tensor([B, capacity, 2 * this.config.dModel])); // each (B, capacity, 2E)
    return { encoded: { B, srcLengths: lengths, memory, keyPadding, memoryKeyValues }, state: { kv, length: 0 } };
  }

  decodeStep(encoded: TransformerEncodedSource, state: TransformerDecoderState, prev: Int32Array): StepDecoderStep<TransformerEncodedSource, TransformerDecoderState> {
    const { B } = encoded;
    const { tgtVocabSize, maxLength } = this.config;
    if (prev.length !== B) throw new Error(`TransformerSeq2Seq.decodeStep: ${prev.length} previous tokens for ${B} rows`);
    for (let b = 0; b < B; b++) {
      if (!(prev[b] >= 0 && prev[b] < tgtVocabSize)) throw new Error(`TransformerSeq2Seq.decodeStep: previous token ${prev[b]} of row ${b} is outside the target vocabulary [0, ${tgtVocabSize})`);
    }
    const pos = state.length;
    if (pos >= maxLength) throw new Error(`TransformerSeq2Seq.decodeStep: position ${pos} is past the model's maxLength ${maxLength} (decode at most ${maxLength} tokens)`);
    let kv = state.kv;
    if (pos === kv[0].shape[1]) kv = kv.map((t) => grown(t, Math.min(2 * t.shape[1], maxLength))); // full: into one twice as large
    const E = this.config.dModel;
    const caches = kv.map((t) => new KeyValueCache({ batch: B, capacity: t.shape[1], embedDim: E, kv: t, length: pos })); // views: the step appends row pos
    const x = this.embed(this.tgtEmbedding, this.tgtPositions, prev, 1, B, pos); // (1, B, E)
    const r = this.transformer.decoder.forwardWithWeights(x, encoded.memory, { caches, memoryKeyValues: encoded.memoryKeyValues, memoryKeyPaddingMask: encoded.keyPadding });
    const logits = this.logits(reshape(r.output, [B, E])); // (B, V)
    const last = r.crossWeights[r.crossWeights.length - 1]; // (B, nhead, 1, S)
    const weights = reshape(meanAxis(last, 1), [B, last.shape[3]]); // (B, S)
    return { logits, weights, state: { kv, length: pos + 1 } };
  }

  selectRows(encoded: TransformerEncodedSource, state: TransformerDecoderState, rows: ArrayLike<number>): { encoded: TransformerEncodedSource; state: TransformerDecoderState } {
    const r = Array.from(rows);
    const S = encoded.keyPadding.shape[1];
    const pad = new Uint8Array(r.length * S);
    r.forEach((i, k) => pad.set(encoded.keyPadding.data.subarray(i * S, (i + 1) * S), k * S));
    return {
      encoded: {
        B: r.length,
        srcLengths: r.map((i) => encoded.srcLengths[i]),
        memory: indexSelect(encoded.memory, 1, r), // (S, B', E)
        keyPadding: boolMask(pad, [r.length, S]),
        memoryKeyValues: encoded.memoryKeyValues.map((kv) => indexSelect(kv, 1, r)), // (S, B', 2E)
      },
      state: { kv: state.kv.map((t) => indexSelect(t, 0, r)), length: state.length }, // each (B', capacity, 2E)
    };
  }

  attendedLengths(encoded: TransformerEncodedSource): readonly number[] {
    return encoded.srcLengths;
  }
}
