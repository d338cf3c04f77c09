// Seq2Seq: an encoder–decoder (Sutskever et al. 2014) with optional attention (Bahdanau et al. 2015,
// Luong et al. 2015): source Embedding → recurrent encoder (any cell, optionally bidirectional) → a
// decoder cell stepped one token at a time with output feedback → Linear to the target vocabulary.
// Training runs with teacher forcing or scheduled sampling (Bengio et al. 2015), with optional dropout
// (Luong et al. 2015, OpenNMT). Not here: search (decode/), the schedules of the teacher-forcing
// probability (scheduled-sampling.ts).

import { concat, crossEntropy, dropout as dropoutOp, indexSelect, reshape, select, stack, swapAxes01, tanh } from '../autograd/ops.js';
import type { DecodingSignature, StepDecoder } from '../decode/step-decoder.js';
import type { Rng } from '../random/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Attention, attentionKinds, selectMemoryRows, type AttentionKind, type AttentionMemory } from './attention.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import {
  cellKinds, createRecurrent, type CellKind, type Recurrent, type RecurrentForwardOptions, type RecurrentState,
} from './recurrent/index.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import {
  IGNORE_INDEX, checkFeedbackOptions, checkSequences, stepWithFeedback, teacherForcedInputs, timeMajorTargets, type FeedbackOptions, type FeedbackOutput,
} from './sequence-batch.js';

export type Seq2SeqAttention = 'none' | AttentionKind;
export const seq2seqAttentionKinds: readonly Seq2SeqAttention[] = ['none', ...attentionKinds];

export interface Seq2SeqConfig {
  cell: CellKind;
  srcVocabSize: number;
  tgtVocabSize: number;
  /** Width of both embeddings (source and target). */
  embeddingSize: number;
  /** H of the decoder, and of the encoder (per direction) unless encoderHiddenSize says otherwise. */
  hiddenSize: number;
  /** H_e of the encoder, per direction. Default hiddenSize. When it differs, a bridge maps the encoder's final states to the decoder's. */
  encoderHiddenSize?: number;
  /** L of the encoder and of the decoder. Default 1. */
  numLayers?: number;
  /** A bidirectional encoder; its final states are bridged to the decoder (see Seq2Seq). Default false. */
  bidirectional?: boolean;
  /** Default 'none'. */
  attention?: Seq2SeqAttention;
  /** Luong attention only: feed h̃_{t-1} into the decoder input at step t. Default false. */
  inputFeeding?: boolean;
  /** Bahdanau attention only: width of the score's hidden layer. Default hiddenSize. */
  attentionSize?: number;
  /** Inverted dropout probability in [0, 1), in training mode only (see Seq2Seq for where). Default 0. */
  dropout?: number;
  /** Target id of the start symbol, fed at the first decoder step. */
  bos: number;
  /** Target id of the end symbol: appended to every training target, and what stops decoding. */
  eos: number;
}

const CONFIG_KEYS = [
  'cell', 'srcVocabSize', 'tgtVocabSize', 'embeddingSize', 'hiddenSize', 'encoderHiddenSize', 'numLayers', 'bidirectional',
  'attention', 'inputFeeding', 'attentionSize', 'dropout', 'bos', 'eos',
] as const;

/** What the encoder leaves for the decoder: fixed for the whole decode of a batch of sources. */
export interface EncodedSource {
  /** B sources. */
  B: number;
  /** The real length of each source. */
  srcLengths: number[];
  /** Attention memory over the encoder states (B, S, dirs·H), or null without attention. */
  memory: AttentionMemory | null;
}

/** What changes from decoder step to step. */
export interface DecoderState {
  h: Tensor; // (L, B, H)
  c: Tensor | null; // (L, B, H), LSTM only
  /** Luong input feeding: h̃_{t-1} (B, H), zeros before the first step; null otherwise. */
  feed: Tensor | null;
}

export interface DecoderStep {
  logits: Tensor; // (B, V)
  state: DecoderState;
  /** (B, S) attention weights of this step (exactly 0 past each source's length), or null without attention. */
  weights: Tensor | null;
}

export interface Seq2SeqBatch {
  /** B source sequences of ids in [0, srcVocabSize), each non-empty. */
  src: ReadonlyArray<ArrayLike<number>>;
  /** B target sequences of ids in [0, tgtVocabSize), each non-empty, without bos/eos (eos is appended). */
  tgt: ReadonlyArray<ArrayLike<number>>;
}

export type Seq2SeqForwardOptions = FeedbackOptions;

export interface Seq2SeqOutput extends FeedbackOutput {
  /** (T, B, S) attention weights of every step (0 past each source's length), or null without attention. */
  weights: Tensor | null;
}

/** Target padding in Seq2SeqOutput.targets (crossEntropy's default ignore index). */
export { IGNORE_INDEX };

/**
 * Encoder (batch-first, lengths = source lengths, so padding never reaches the final state), then per
 * target step t with y_{t-1} the fed token (y_0 = bos) and s_{t-1} the decoder's state:
 *
 *   none           s_t = cell(E_y[y_{t-1}], s_{t-1});                      logits = W_o h_t + b_o
 *   bahdanau       c_t, α_t = attend(h_{t-1}^{top}, enc);  s_t = cell([E_y[y_{t-1}]; c_t], s_{t-1})
 *                                                                          logits = W_o [h_t; c_t] + b_o
 *   luong-*        s_t = cell([E_y[y_{t-1}]; h̃_{t-1} if inputFeeding], s_{t-1});  c_t, α_t = attend(h_t^{top}, enc)
 *                  h̃_t = tanh(W_c [c_t; h_t^{top}]);                       logits = W_o h̃_t + b_o
 *
 * Bridge (encoder final state → decoder initial state, layer by layer): the identity when the encoder is
 * unidirectional and as wide as the decoder; otherwise h0_l = tanh(W_bh [h_l^→; h_l^←] + b_bh) and, for
 * LSTM, c0_l = W_bc [c_l^→; c_l^←] + b_bc (h_l^→ alone when unidirectional; one Linear(dirs·H_e, H) each,
 * shared by the layers; c is not squashed, as it is unbounded in an LSTM).
 *
 * Dropout p (training mode only; Module.train()/eval()), as in Luong et al. 2015 and OpenNMT: on the
 * output of both embeddings (E_x[x_s] and E_y[y_{t-1}]), between the recurrent layers of encoder and
 * decoder (the layers' own dropout; none with one layer), and on the vector the output layer reads:
 * h_t^{top} (none), h̃_t (Luong; as in OpenNMT the dropped h̃_t is also what input feeding feeds back), or
 * the whole [h_t; c_t] (Bahdanau). Attention queries, the bridge and the attention memory are not dropped.
 * Masks come from the generator given at construction (shared with the recurrent layers, so a training
 * loop that checkpoints that generator's state resumes with the same masks). The fused teacher-forced
 * path draws the same number of uniforms as stepping but in another order, so for one generator state the
 * two paths use different masks (each a valid dropout of the same function); in eval mode they agree.
 *
 * Parameters: `src_embedding.weight`, `encoder.*` (PyTorch names), `bridge_h.*`, `bridge_c.*`,
 * `tgt_embedding.weight`, `decoder.*`, `attention.*`, `combine.weight` (Luong W_c, no bias), `head.*`.
 */
export class Seq2Seq extends Module implements StepDecoder<EncodedSource, DecoderState> {
  readonly config: Readonly<Required<Omit<Seq2SeqConfig, 'attentionSize'>> & { attentionSize: number | undefined }>;
  readonly srcEmbedding: Embedding;
  readonly encoder: Recurrent;
  readonly bridgeH: Linear | null;
  readonly bridgeC: Linear | null;
  readonly tgtEmbedding: Embedding;
  readonly decoder: Recurrent;
  readonly attention: Attention | null;
  readonly combine: Linear | null;
  readonly head: Linear;

  constructor(config: Seq2SeqConfig, private readonly rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`Seq2Seq: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('Seq2Seq config', config, CONFIG_KEYS);
    const {
      cell, srcVocabSize, tgtVocabSize, embeddingSize, hiddenSize: H, encoderHiddenSize: He = H, numLayers: L = 1, bidirectional = false,
      attention = 'none', inputFeeding = false, attentionSize, dropout = 0, bos, eos,
    } = config;
    if (!(cellKinds as readonly string[]).includes(cell)) throw new Error(`Seq2Seq cell must be one of ${cellKinds.join(', ')}, got ${JSON.stringify(cell)}`);
    for (const [k, v] of Object.entries({ srcVocabSize, tgtVocabSize, embeddingSize, hiddenSize: H, encoderHiddenSize: He, numLayers: L })) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`Seq2Seq ${k} must be a positive integer, got ${String(v)}`);
    }
    if (typeof bidirectional !== 'boolean') throw new Error(`Seq2Seq bidirectional must be true or false, got ${String(bidirectional)}`);
    if (typeof inputFeeding !== 'boolean') throw new Error(`Seq2Seq inputFeeding must be true or false, got ${String(inputFeeding)}`);
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`Seq2Seq dropout must be a number in [0, 1), got ${String(dropout)}`);
    if (!seq2seqAttentionKinds.includes(attention)) {
      throw new Error(`Seq2Seq attention must be one of ${seq2seqAttentionKinds.join(', ')}, got ${JSON.stringify(attention)}`);
    }
    const luong = attention === 'luong-dot' || attention === 'luong-general';
    if (inputFeeding && !luong) throw new Error(`Seq2Seq inputFeeding applies to Luong attention only, not attention '${attention}'`);
    if (attentionSize !== undefined && attention !== 'bahdanau') throw new Error(`Seq2Seq attentionSize applies to 'bahdanau' attention only, not '${attention}'`);
    for (const [k, v] of Object.entries({ bos, eos })) {
      if (!Number.isInteger(v) || v < 0 || v >= tgtVocabSize) throw new Error(`Seq2Seq ${k} must be a target id in [0, ${tgtVocabSize}), got ${String(v)}`);
    }
    this.config = { cell, srcVocabSize, tgtVocabSize, embeddingSize, hiddenSize: H, encoderHiddenSize: He, numLayers: L, bidirectional, attention, inputFeeding, attentionSize, dropout, bos, eos };
    const dirs = bidirectional ? 2 : 1;
    const Ek = dirs * He; // width of an encoder state
    const bridged = bidirectional || He !== H;
    const between = L > 1 ? dropout : 0; // the recurrent layers reject dropout with one layer (nothing is between)

    this.srcEmbedding = this.child('src_embedding', new Embedding({ numEmbeddings: srcVocabSize, embeddingDim: embeddingSize }, rng));
    this.encoder = this.child('encoder', createRecurrent(cell, { inputSize: embeddingSize, hiddenSize: He, numLayers: L, bidirectional, batchFirst: true, dropout: between }, rng));
    this.bridgeH = bridged ? this.child('bridge_h', new Linear({ inFeatures: Ek, outFeatures: H }, rng)) : null;
    this.bridgeC = bridged && cell === 'lstm' ? this.child('bridge_c', new Linear({ inFeatures: Ek, outFeatures: H }, rng)) : null;
    this.tgtEmbedding = this.child('tgt_embedding', new Embedding({ numEmbeddings: tgtVocabSize, embeddingDim: embeddingSize }, rng));
    const decoderIn = embeddingSize + (attention === 'bahdanau' ? Ek : inputFeeding ? H : 0);
    this.decoder = this.child('decoder', createRecurrent(cell, { inputSize: decoderIn, hiddenSize: H, numLayers: L, dropout: between }, rng));
    this.attention = attention === 'none'
      ? null
      : this.child('attention', new Attention({ kind: attention, querySize: H, keySize: Ek, ...(attentionSize === undefined ? {} : { attentionSize }) }, rng));
    this.combine = luong ? this.child('combine', new Linear({ inFeatures: Ek + H, outFeatures: H, bias: false }, rng)) : null;
    this.head = this.child('head', new Linear({ inFeatures: attention === 'bahdanau' ? H + Ek : H, outFeatures: tgtVocabSize }, rng));
  }

  /** Inverted dropout of the config's p in training mode; the identity (no random draw) in eval mode or at p = 0. */
  private drop(x: Tensor): Tensor {
    return dropoutOp(x, this.config.dropout, this.rng, this.training);
  }

  /**
   * rnn over the dropped-out embeddings of ids; without dropout, as tokens (Recurrent.forwardTokens: the
   * input projection per vocabulary row), the same function.
   */
  private embedAndRun(emb: Embedding, rnn: Recurrent, ids: Int32Array, shape: [number, number], opts: RecurrentForwardOptions): RecurrentState {
    if (this.training && this.config.dropout > 0) return rnn.forward(this.drop(emb.forward(ids, shape)), opts);
    return rnn.forwardTokens(emb.weight, ids, shape, opts);
  }

  /** Runs the encoder over B sources; returns what every decoder step reads and the decoder's initial state. */
  encode(src: ReadonlyArray<ArrayLike<number>>): { encoded: EncodedSource; state: DecoderState } {
    const { srcVocabSize, hiddenSize: H, numLayers: L, bidirectional } = this.config;
    const lengths = checkSequences('Seq2Seq source', 'src', src, srcVocabSize);
    const B = src.length;
    const S = Math.max(...lengths);
    const ids = new Int32Array(B * S); // (B, S); padding is id 0, masked by lengths
    src.forEach((seq, b) => ids.set(Array.from(seq), b * S));
    const r = this.embedAndRun(this.srcEmbedding, this.encoder, ids, [B, S], { lengths }); // output (B, S, dirs·H); h, c (L·dirs, B, H)
    const memory = this.attention === null ? null : this.attention.prepare(r.output, lengths);
    let h = r.h; // (L, B, H) after the bridge
    let c = r.c;
    if (this.bridgeH !== null) {
      const fwd = Array.from({ length: L }, (_, l) => 2 * l);
      const rev = fwd.map((i) => i + 1);
      // (L, B, dirs·H_e): each layer's final states, both directions side by side
      const both = (t: Tensor): Tensor => (bidirectional ? concat([indexSelect(t, 0, fwd), indexSelect(t, 0, rev)]) : t);
      h = tanh(this.bridgeH.forward(both(r.h))); // (L, B, H)
      c = r.c === null ? null : this.bridgeC!.forward(both(r.c)); // (L, B, H)
    }
    const feed = this.config.inputFeeding ? new Tensor([B, H]) : null; // (B, H) h̃_0 = 0
    return { encoded: { B, srcLengths: lengths, memory }, state: { h, c, feed } };
  }

  /** One decoder step from the previous tokens (B ids, bos at the first step). */
  step(encoded: EncodedSource, state: DecoderState, prev: Int32Array): DecoderStep {
    const { B, memory } = encoded;
    const { tgtVocabSize, hiddenSize: H, numLayers: L, attention } = this.config;
    if (prev.length !== B) throw new Error(`Seq2Seq.step: ${prev.length} previous tokens for ${B} rows`);
    for (let b = 0; b < B; b++) {
      if (!(prev[b] >= 0 && prev[b] < tgtVocabSize)) throw new Error(`Seq2Seq.step: previous token ${prev[b]} of row ${b} is outside the target vocabulary [0, ${tgtVocabSize})`);
    }
    let x = this.drop(this.tgtEmbedding.forward(prev, [1, B])); // (1, B, E)
    let weights: Tensor | null = null;
    let context: Tensor | null = null; // (B, Ek)
    if (attention === 'bahdanau') {
      ({ context, weights } = this.attention!.forward(select(state.h, L - 1), memory!)); // (B, Ek), (B, S)
      x = concat([x, reshape(context, [1, B, context.shape[1]])]); // (1, B, E + Ek)
    } else if (state.feed !== null) {
      x = concat([x, reshape(state.feed, [1, B, H])]); // (1, B, E + H)
    }
    const r = this.decoder.forward(x, { h0: state.h, c0: state.c ?? undefined }); // output (1, B, H)
    const top = reshape(r.output, [B, H]); // (B, H)
    let logits: Tensor; // (B, V)
    let feed: Tensor | null = null;
    if (attention === 'none') logits = this.head.forward(this.drop(top));
    else if (attention === 'bahdanau') logits = this.head.forward(this.drop(concat([top, context!]))); // (B, V) from (B, H + Ek)
    else {
      ({ context, weights } = this.attention!.forward(top, memory!)); // (B, Ek), (B, S)
      const ht = this.drop(tanh(this.combine!.forward(concat([context, top])))); // (B, H) h̃_t, dropped
      logits = this.head.forward(ht);
      if (this.config.inputFeeding) feed = ht;
    }
    return { logits, state: { h: r.h, c: r.c, feed }, weights };
  }

  // --- StepDecoder: what the searches in src/decode/ read ---
  decodingSignature(): DecodingSignature {
    const { srcVocabSize, tgtVocabSize, bos, eos } = this.config;
    return { kind: 'Seq2Seq', keys: [['srcVocabSize', srcVocabSize], ['tgtVocabSize', tgtVocabSize], ['bos', bos], ['eos', eos]], vocabSize: tgtVocabSize, bos, eos };
  }

  decodeStep(encoded: EncodedSource, state: DecoderState, prev: Int32Array): DecoderStep {
    return this.step(encoded, state, prev);
  }

  selectRows(encoded: EncodedSource, state: DecoderState, rows: ArrayLike<number>): { encoded: EncodedSource; state: DecoderState } {
    return selectDecoderRows(encoded, state, rows);
  }

  attendedLengths(encoded: EncodedSource): readonly number[] {
    return encoded.srcLengths;
  }

  /**
   * Training forward over a batch: encode, then one decoder step per target position (T = longest
   * target + 1 for eos), each fed the gold previous token with probability `teacherForcing`, else the
   * model's own previous prediction; loss is the mean cross-entropy over real target positions.
   */
  forward(batch: Seq2SeqBatch, opts: Seq2SeqForwardOptions = {}): Seq2SeqOutput {
    const { teacherForcing, feedback, rng, labelSmoothing } = checkFeedbackOptions('Seq2Seq.forward', opts);
    const { bos, eos, tgtVocabSize: V } = this.config;
    const B = checkSeq2SeqBatch('Seq2Seq', batch, V);
    const { targets, T } = timeMajorTargets(batch.tgt, eos);

    let { encoded, state } = this.encode(batch.src);
    if (teacherForcing >= 1 && this.config.attention !== 'bahdanau' && !this.config.inputFeeding) {
      return this.forwardTeacherForced(encoded, state, targets, T, B, labelSmoothing);
    }
    const weights: Tensor[] = [];
    const fed = stepWithFeedback(targets, B, bos, eos, { teacherForcing, feedback, rng }, (prev) => {
      const out = this.step(encoded, state, prev);
      if (out.weights !== null) weights.push(out.weights);
      state = out.state;
      return out.logits;
    });
    const logits = stack(fed.logits); // (T, B, V)
    const loss = crossEntropy(logits, targets, IGNORE_INDEX, labelSmoothing); // [1]
    return { loss, logits, targets, inputs: fed.inputs, weights: weights.length === 0 ? null : stack(weights) };
  }

  /**
   * Teacher forcing when no step needs the previous step's attention (no attention, or Luong without
   * input feeding): the fed tokens are known in advance, so the decoder runs over all T steps as one fused
   * recurrent layer, and attention, W_c and the output layer each run once over all steps. The same
   * function as stepping T times (test/seq2seq.test.ts checks loss and gradients), with large products
   * instead of T small ones. Dropout sits where stepping puts it, but its masks are drawn per tensor over
   * all steps rather than step by step, so with p > 0 in training mode the masks differ from stepping's.
   */
  private forwardTeacherForced(
    encoded: EncodedSource, state: DecoderState, targets: Int32Array, T: number, B: number, labelSmoothing: number,
  ): Seq2SeqOutput {
    const { bos, eos, attention } = this.config;
    const inputs = teacherForcedInputs(targets, B, bos, eos); // (T, B)
    const r = this.embedAndRun(this.tgtEmbedding, this.decoder, inputs, [T, B], { h0: state.h, c0: state.c ?? undefined }); // output (T, B, H)
    let logits: Tensor; // (T, B, V)
    let weights: Tensor | null = null;
    if (attention === 'none') logits = this.head.forward(this.drop(r.output));
    else {
      const top = swapAxes01(r.output); // (B, T, H)
      const att = this.attention!.forward(top, encoded.memory!); // context (B, T, Ek), weights (B, T, S)
      const ht = this.drop(tanh(this.combine!.forward(concat([att.context, top])))); // (B, T, H) h̃_t, dropped
      logits = swapAxes01(this.head.forward(ht)); // (T, B, V)
      weights = swapAxes01(att.weights); // (T, B, S)
    }
    const loss = crossEntropy(logits, targets, IGNORE_INDEX, labelSmoothing); // [1]
    return { loss, logits, targets, inputs, weights };
  }
}

/** Checks an encoder–decoder's training batch (`model` names it in errors): { src, tgt }, one source per target; returns B. */
export function checkSeq2SeqBatch(model: string, batch: Seq2SeqBatch, tgtVocabSize: number): number {
  if (batch === null || typeof batch !== 'object') throw new Error(`${model}.forward: batch must be { src, tgt }, got ${String(batch)}`);
  rejectUnknownKeys(`${model}.forward batch`, batch, ['src', 'tgt']);
  checkSequences(`${model} target`, 'tgt', batch.tgt, tgtVocabSize);
  const B = batch.tgt.length;
  if (!Array.isArray(batch.src) || batch.src.length !== B) {
    throw new Error(`${model}.forward: src must hold one sequence per target (${B}), got ${Array.isArray(batch.src) ? batch.src.length : String(batch.src)}`);
  }
  return B;
}

/** Rows `rows` of an encoding and a decoder state (beam search reorders and repeats hypotheses). */
export function selectDecoderRows(
  encoded: EncodedSource, state: DecoderState, rows: ArrayLike<number>,
): { encoded: EncodedSource; state: DecoderState } {
  const r = Array.from(rows);
  return {
    encoded: {
      B: r.length,
      srcLengths: r.map((i) => encoded.srcLengths[i]),
      memory: encoded.memory === null ? null : selectMemoryRows(encoded.memory, r),
    },
    state: {
      h: indexSelect(state.h, 1, r), // (L, B', H)
      c: state.c === null ? null : indexSelect(state.c, 1, r), // (L, B', H)
      feed: state.feed === null ? null : indexSelect(state.feed, 0, r), // (B', H)
    },
  };
}
