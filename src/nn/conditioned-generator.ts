// ConditionedGenerator: a one-to-many recurrent generator conditioned on a vector — the captioning shape
// (Vinyals et al. 2015; Karpathy & Fei-Fei 2015; Mao et al. 2015). A vector v (image features, a class
// code, ...) sets the initial state, enters every step's input, or both; the model then emits one token
// per step with output feedback until eos. Training runs with teacher forcing or scheduled sampling and a
// masked loss over variable-length targets. Not here: search (decode/), whatever computes v.

import { concat, crossEntropy, indexSelect, narrow, reshape, stack, tanh } from '../autograd/ops.js';
import type { DecodingSignature, StepDecoder } from '../decode/step-decoder.js';
import type { Rng } from '../random/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { cellKinds, createRecurrent, type CellKind, type Recurrent } from './recurrent/index.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import {
  IGNORE_INDEX, checkFeedbackOptions, checkSequences, stepWithFeedback, teacherForcedInputs, timeMajorTargets, type FeedbackOptions, type FeedbackOutput,
} from './sequence-batch.js';

/** Where the vector enters: the initial state, every step's input, or both. */
export type Conditioning = 'init' | 'every-step' | 'both';
export const conditioningKinds: readonly Conditioning[] = ['init', 'every-step', 'both'];

export interface ConditionedGeneratorConfig {
  cell: CellKind;
  /** Dv: width of the conditioning vector. */
  vectorSize: number;
  /** V: the output vocabulary, bos and eos included. */
  vocabSize: number;
  /** E: width of the token embedding. */
  embeddingSize: number;
  /** H of every layer. */
  hiddenSize: number;
  /** L. Default 1. */
  numLayers?: number;
  conditioning: Conditioning;
  /** Id of the start symbol, fed at the first step. */
  bos: number;
  /** Id of the end symbol: appended to every training target, and what stops decoding. */
  eos: number;
}

const CONFIG_KEYS = ['cell', 'vectorSize', 'vocabSize', 'embeddingSize', 'hiddenSize', 'numLayers', 'conditioning', 'bos', 'eos'] as const;

/** What the vectors leave for every step: fixed for the whole decode of a batch. */
export interface GeneratorCondition {
  /** B vectors. */
  B: number;
  /** (1, B, Dv) the vectors as one step's extra input ('every-step', 'both'); null for 'init'. */
  vector: Tensor | null;
}

/** What changes from step to step. */
export interface GeneratorState {
  h: Tensor; // (L, B, H)
  c: Tensor | null; // (L, B, H), LSTM only
}

export interface GeneratorStep {
  logits: Tensor; // (B, V)
  state: GeneratorState;
}

/** B conditioning vectors: Dv finite numbers each, or one (B, Dv) tensor (gradients then flow into it). */
export type ConditioningVectors = ReadonlyArray<ArrayLike<number>> | Tensor;

export interface ConditionedGeneratorBatch {
  vectors: ConditioningVectors;
  /** B target sequences of ids in [0, vocabSize), each non-empty, without bos/eos (eos is appended). */
  tgt: ReadonlyArray<ArrayLike<number>>;
}

/** The same options as Seq2Seq.forward: teacherForcing, feedback, rng. */
export type ConditionedGeneratorForwardOptions = FeedbackOptions;

/** The same outputs as Seq2Seq.forward, without attention weights. */
export type ConditionedGeneratorOutput = FeedbackOutput;

/**
 * With v the vector (B, Dv), y_{t-1} the fed token (y_0 = bos), e_t = E[y_{t-1}] (B, E) and s_t the state
 * (h_t, plus c_t for LSTM) of every layer:
 *
 *   init        h_0^l = tanh(W_h^l v + b_h^l) for each layer l;  LSTM: c_0^l = W_c^l v + b_c^l
 *               s_t = cell(e_t, s_{t-1})
 *   every-step  s_0 = 0;  s_t = cell([e_t; v], s_{t-1}).  The first layer's W_ih [e_t; v] = W_ie e_t + W_iv v,
 *               so with an Elman cell h_t = tanh(W_ie e_t + W_hh h_{t-1} + W_iv v + b). Upper layers read
 *               the layer below, as usual.
 *   both        the init state and the every-step input
 *   logits_t = W_o h_t^{top} + b_o    (B, V)
 *
 * LSTM's c_0 is conditioned too, and not squashed: h_0 only reaches the first step's gates before it is
 * overwritten, while c_0 is carried forward through f ⊙ c_{t-1}, the path along which the vector can
 * persist; c is unbounded in an LSTM, so a tanh would only limit it (Seq2Seq's bridge_c does the same).
 *
 * Parameters: `embedding.weight` (V, E); `init_h.weight` (L·H, Dv) and `init_h.bias` (L·H), rows
 * [layer 0; layer 1; ...] ('init', 'both'); `init_c.*` likewise (LSTM); `rnn.*` (PyTorch names, with
 * `rnn.weight_ih_l0` (G·H, E + Dv) holding [W_ie | W_iv] under 'every-step' and 'both'); `head.weight` (V, H),
 * `head.bias` (V).
 */
export class ConditionedGenerator extends Module implements StepDecoder<GeneratorCondition, GeneratorState> {
  readonly config: Readonly<Required<ConditionedGeneratorConfig>>;
  readonly embedding: Embedding;
  readonly initH: Linear | null;
  readonly initC: Linear | null;
  readonly rnn: Recurrent;
  readonly head: Linear;

  constructor(config: ConditionedGeneratorConfig, rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`ConditionedGenerator: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('ConditionedGenerator config', config, CONFIG_KEYS);
    const { cell, vectorSize: Dv, vocabSize: V, embeddingSize: E, hiddenSize: H, numLayers: L = 1, conditioning, bos, eos } = config;
    if (!(cellKinds as readonly string[]).includes(cell)) throw new Error(`ConditionedGenerator cell must be one of ${cellKinds.join(', ')}, got ${JSON.stringify(cell)}`);
    for (const [k, v] of Object.entries({ vectorSize: Dv, vocabSize: V, embeddingSize: E, hiddenSize: H, numLayers: L })) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`ConditionedGenerator ${k} must be a positive integer, got ${String(v)}`);
    }
    if (!conditioningKinds.includes(conditioning)) {
      throw new Error(`ConditionedGenerator conditioning must be one of ${conditioningKinds.join(', ')}, got ${JSON.stringify(conditioning)}`);
    }
    for (const [k, v] of Object.entries({ bos, eos })) {
      if (!Number.isInteger(v) || v < 0 || v >= V) throw new Error(`ConditionedGenerator ${k} must be an id in [0, vocabSize = ${V}), got ${String(v)}`);
    }
    const init = conditioning !== 'every-step';
    const everyStep = conditioning !== 'init';
    const D = E + (everyStep ? Dv : 0); // the first layer's step input
    if ((cell === 'mut1' || cell === 'mut2') && D !== H) {
      // The layer would say "inputSize", which the user never set: name the parts.
      throw new Error(`ConditionedGenerator cell '${cell}' needs its step input (embeddingSize ${E}${everyStep ? ` + vectorSize ${Dv} under '${conditioning}' conditioning` : ''} = ${D}) to equal hiddenSize ${H}`);
    }
    this.config = { cell, vectorSize: Dv, vocabSize: V, embeddingSize: E, hiddenSize: H, numLayers: L, conditioning, bos, eos };

    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
    this.initH = init ? this.child('init_h', new Linear({ inFeatures: Dv, outFeatures: L * H }, rng)) : null;
    this.initC = init && cell === 'lstm' ? this.child('init_c', new Linear({ inFeatures: Dv, outFeatures: L * H }, rng)) : null;
    this.rnn = this.child('rnn', createRecurrent(cell, { inputSize: D, hiddenSize: H, numLayers: L }, rng));
    this.head = this.child('head', new Linear({ inFeatures: H, outFeatures: V }, rng));
  }

  /** Checks B vectors and computes what every step reads and the initial state. */
  encode(vectors: ConditioningVectors): { encoded: GeneratorCondition; state: GeneratorState } {
    const { vectorSize: Dv, hiddenSize: H, numLayers: L, cell } = this.config;
    const v = this.vectorTensor(vectors); // (B, Dv)
    const B = v.shape[0];
    // (B, L·H) → (L, B, H): layer l is columns [l·H, (l+1)·H).
    const perLayer = (t: Tensor): Tensor => (L === 1 ? reshape(t, [1, B, H]) : stack(Array.from({ length: L }, (_, l) => narrow(t, l * H, H))));
    const h = this.initH === null ? new Tensor([L, B, H]) : perLayer(tanh(this.initH.forward(v))); // (L, B, H)
    const c = this.initC !== null
      ? perLayer(this.initC.forward(v)) // (L, B, H)
      : cell === 'lstm' ? new Tensor([L, B, H]) : null; // (L, B, H) zeros under 'every-step'
    const vector = this.config.conditioning === 'init' ? null : reshape(v, [1, B, Dv]); // (1, B, Dv)
    return { encoded: { B, vector }, state: { h, c } };
  }

  /** One step from the previous tokens (B ids, bos at the first step). */
  step(encoded: GeneratorCondition, state: GeneratorState, prev: Int32Array): GeneratorStep {
    const { B, vector } = encoded;
    const { vocabSize: V, hiddenSize: H } = this.config;
    if (!(prev instanceof Int32Array) || prev.length !== B) {
      throw new Error(`ConditionedGenerator.step: prev must be an Int32Array of ${B} previous tokens, got ${prev instanceof Int32Array ? prev.length : String(prev)}`);
    }
    for (let b = 0; b < B; b++) {
      if (!(prev[b] >= 0 && prev[b] < V)) throw new Error(`ConditionedGenerator.step: previous token ${prev[b]} of row ${b} is outside the vocabulary [0, ${V})`);
    }
    // A copy: the embedding's backward reads its ids later, and callers reuse their prev buffer.
    let x = this.embedding.forward(prev.slice(), [1, B]); // (1, B, E)
    if (vector !== null) x = concat([x, vector]); // (1, B, E + Dv)
    const r = this.rnn.forward(x, { h0: state.h, c0: state.c ?? undefined }); // output (1, B, H)
    const logits = this.head.forward(reshape(r.output, [B, H])); // (B, V)
    return { logits, state: { h: r.h, c: r.c } };
  }

  // --- StepDecoder: what the searches in src/decode/ read (the source is a vector: nothing to attend) ---
  decodingSignature(): DecodingSignature {
    const { vectorSize, vocabSize, bos, eos } = this.config;
    return { kind: 'ConditionedGenerator', keys: [['vectorSize', vectorSize], ['vocabSize', vocabSize], ['bos', bos], ['eos', eos]], vocabSize, bos, eos };
  }

  decodeStep(encoded: GeneratorCondition, state: GeneratorState, prev: Int32Array): GeneratorStep & { weights: null } {
    return { ...this.step(encoded, state, prev), weights: null };
  }

  selectRows(encoded: GeneratorCondition, state: GeneratorState, rows: ArrayLike<number>): { encoded: GeneratorCondition; state: GeneratorState } {
    return selectGeneratorRows(encoded, state, rows);
  }

  attendedLengths(encoded: GeneratorCondition): readonly number[] {
    return new Array<number>(encoded.B).fill(0);
  }

  /**
   * Training forward: T = longest target + 1 (eos) steps, each fed the gold previous token with
   * probability `teacherForcing`, else the model's own previous prediction (no gradient through the
   * choice); loss is the mean cross-entropy over real target positions. With teacherForcing = 1 every
   * input is known up front, so the whole sequence runs as one fused recurrent call (lengths = target
   * lengths + 1); otherwise one step at a time through `step`, as decoding does.
   */
  forward(batch: ConditionedGeneratorBatch, opts: ConditionedGeneratorForwardOptions = {}): ConditionedGeneratorOutput {
    const { teacherForcing, feedback, rng, labelSmoothing } = checkFeedbackOptions('ConditionedGenerator.forward', opts);
    if (batch === null || typeof batch !== 'object') throw new Error(`ConditionedGenerator.forward: batch must be { vectors, tgt }, got ${String(batch)}`);
    rejectUnknownKeys('ConditionedGenerator.forward batch', batch, ['vectors', 'tgt']);
    const { bos, eos, vocabSize: V } = this.config;
    const tgtLengths = checkSequences('ConditionedGenerator target', 'tgt', batch.tgt, V);
    const B = batch.tgt.length;
    const { targets, T } = timeMajorTargets(batch.tgt, eos);
    const { encoded, state } = this.encode(batch.vectors);
    if (encoded.B !== B) throw new Error(`ConditionedGenerator.forward: vectors must hold one vector per target (${B}), got ${encoded.B}`);

    let inputs: Int32Array; // (T, B) what was fed
    let logits: Tensor; // (T, B, V)
    if (teacherForcing >= 1) {
      inputs = teacherForcedInputs(targets, B, bos, eos);
      let x = this.embedding.forward(inputs, [T, B]); // (T, B, E)
      if (encoded.vector !== null) x = concat([x, indexSelect(encoded.vector, 0, new Int32Array(T))]); // (T, B, E + Dv)
      const lengths = tgtLengths.map((n) => n + 1);
      const r = this.rnn.forward(x, { h0: state.h, c0: state.c ?? undefined, lengths }); // output (T, B, H), 0 past each length
      logits = this.head.forward(r.output); // (T, B, V)
    } else {
      let s = state;
      const fed = stepWithFeedback(targets, B, bos, eos, { teacherForcing, feedback, rng }, (prev) => {
        const out = this.step(encoded, s, prev);
        s = out.state;
        return out.logits;
      });
      inputs = fed.inputs;
      logits = stack(fed.logits); // (T, B, V)
    }
    const loss = crossEntropy(logits, targets, IGNORE_INDEX, labelSmoothing); // [1]
    return { loss, logits, targets, inputs };
  }

  /** The vectors as a (B, Dv) tensor: a caller's tensor is used as is (gradients reach it), arrays are copied. */
  private vectorTensor(vectors: ConditioningVectors): Tensor {
    const Dv = this.config.vectorSize;
    const who = 'ConditionedGenerator';
    if (vectors instanceof Tensor) {
      if (vectors.shape.length !== 2 || vectors.shape[0] < 1 || vectors.shape[1] !== Dv) {
        throw new Error(`${who}: a vectors tensor must have shape (B, vectorSize = ${Dv}) with B >= 1, got [${vectors.shape.join(', ')}]`);
      }
      const d = vectors.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) throw new Error(`${who}: vectors[${Math.floor(i / Dv)}][${i % Dv}] = ${d[i]} is not a finite number`);
      }
      return vectors;
    }
    if (!Array.isArray(vectors) || vectors.length === 0) {
      throw new Error(`${who}: vectors must be a non-empty array of vectors or a (B, ${Dv}) tensor, got ${Array.isArray(vectors) ? 'an empty array' : String(vectors)}`);
    }
    const B = vectors.length;
    const flat = new Float32Array(B * Dv); // (B, Dv)
    vectors.forEach((vec: ArrayLike<number>, b: number) => {
      if (vec === null || typeof vec !== 'object' || typeof vec.length !== 'number') throw new Error(`${who}: vectors[${b}] must be an array of ${Dv} numbers, got ${String(vec)}`);
      if (vec.length !== Dv) throw new Error(`${who}: vectors[${b}] has ${vec.length} numbers, vectorSize is ${Dv}`);
      for (let j = 0; j < Dv; j++) {
        if (typeof vec[j] !== 'number' || !Number.isFinite(vec[j])) throw new Error(`${who}: vectors[${b}][${j}] = ${String(vec[j])} is not a finite number`);
        flat[b * Dv + j] = vec[j];
      }
    });
    return Tensor.from(flat, [B, Dv]); // (B, Dv)
  }
}

/** Rows `rows` of a condition and a state (beam search reorders and repeats hypotheses). */
export function selectGeneratorRows(
  encoded: GeneratorCondition, state: GeneratorState, rows: ArrayLike<number>,
): { encoded: GeneratorCondition; state: GeneratorState } {
  const r = Array.from(rows);
  return {
    encoded: { B: r.length, vector: encoded.vector === null ? null : indexSelect(encoded.vector, 1, r) }, // (1, B', Dv)
    state: {
      h: indexSelect(state.h, 1, r), // (L, B', H)
      c: state.c === null ? null : indexSelect(state.c, 1, r), // (L, B', H)
    },
  };
}
