// Captioner: Show, Attend and Tell (Xu et al. 2015), soft attention. An image encoder turns each image into
// a grid of L annotation vectors a_i (B, L, D); an LSTM writes the caption one word at a time while an MLP
// attention over the grid picks, per word, where to look; the deep output layer reads the word, the state
// and the context. With attention 'none' it is Show and Tell (Vinyals et al. 2015): the mean annotation sets
// the initial state and nothing else of the image is read. Not here: search (decode/), the encoder's layers.

import { add, concat, crossEntropy, indexSelect, meanAxis, mul, reshape, scale, sigmoid, stack, sub, sum, tanh } from '../autograd/ops.js';
import type { DecodingSignature, StepDecoder } from '../decode/step-decoder.js';
import type { Rng } from '../random/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Attention, selectMemoryRows, type AttentionMemory } from './attention.js';
import { Embedding } from './embedding.js';
import { Linear, positiveInt } from './linear.js';
import { ImageEncoder, type ImageEncoderConfig } from './image/image-encoder.js';
import { Module } from './module.js';
import { createRecurrent, type Recurrent } from './recurrent/index.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import {
  IGNORE_INDEX, checkFeedbackOptions, checkSequences, stepWithFeedback, timeMajorTargets, type FeedbackOptions, type FeedbackOutput,
} from './sequence-batch.js';

/** 'soft': Xu et al.'s deterministic soft attention; 'none': Show and Tell (the image sets the initial state). */
export type CaptionerAttention = 'soft' | 'none';
export const captionerAttentionKinds: readonly CaptionerAttention[] = ['soft', 'none'];

export interface CaptionerConfig {
  /** V: the output vocabulary, bos and eos included. */
  vocabSize: number;
  /** m: width of the word embedding E y and of the deep output's sum. */
  embeddingSize: number;
  /** n: the LSTM's hidden size. */
  hiddenSize: number;
  /** D: features of each annotation vector; with an encoder, its last channels (the default). */
  annotationSize?: number;
  /** L: cells of the annotation grid (H'·W'); with an encoder, its grid of `image` (the default). */
  gridCells?: number;
  attention: CaptionerAttention;
  /** Width of the attention MLP's hidden layer. Default hiddenSize. */
  attentionSize?: number;
  /** The images the sources hold, and the CNN that turns them into the grid; both absent: sources are annotation grids. */
  image?: { channels: number; height: number; width: number };
  encoder?: ImageEncoderConfig;
  bos: number;
  eos: number;
}

const CONFIG_KEYS = ['vocabSize', 'embeddingSize', 'hiddenSize', 'annotationSize', 'gridCells', 'attention', 'attentionSize', 'image', 'encoder', 'bos', 'eos'] as const;

/** What the image leaves for every step: fixed for the whole decode of a batch. */
export interface CaptionerEncoded {
  B: number;
  /** The annotations a_i (B, L, D) as keys and values, and W_a a_i precomputed ('soft'); null for 'none'. */
  memory: AttentionMemory | null;
}

export interface CaptionerState {
  h: Tensor; // (1, B, n)
  c: Tensor; // (1, B, n)
}

export interface CaptionerStep {
  logits: Tensor; // (B, V)
  /** (B, L) α of this word over the grid cells; null for 'none'. */
  weights: Tensor | null;
  /** (B, 1) the gate β_t; null for 'none'. */
  beta: Tensor | null;
  state: CaptionerState;
}

/** B images (each C·H·W floats, channel-major) with an encoder, else B annotation grids (each L·D floats, cell-major); or one tensor of either. */
export type CaptionerSources = ReadonlyArray<ArrayLike<number>> | Tensor;

export interface CaptionerBatch {
  src: CaptionerSources;
  /** B captions of ids in [0, vocabSize), each non-empty, without bos/eos (eos is appended). */
  tgt: ReadonlyArray<ArrayLike<number>>;
}

export interface CaptionerForwardOptions extends FeedbackOptions {
  /** λ of the doubly stochastic penalty λ Σ_i (1 − Σ_t α_ti)² of each caption ('soft' only; see Captioner). Default 0. */
  penalty?: number;
}

export interface CaptionerOutput extends FeedbackOutput {
  /** The word loss alone (the mean cross-entropy); `loss` adds the penalty to it. */
  wordLoss: Tensor;
  /** The penalty λ Σ_b Σ_i (1 − Σ_t α_bti)² / N (N: the batch's scored words, eos included); 0 when λ = 0; null for 'none'. */
  attentionPenalty: Tensor | null;
  /** (T, B, L) α of every step, 0 rows past each caption's end are kept as computed; null for 'none'. */
  weights: Tensor | null;
}

/**
 * With a_i (B, L, D) the annotations, ā = mean_i a_i, y_{t-1} the fed word (y_0 = bos), E y its embedding (m):
 *
 *   h_0 = tanh(W_init_h ā + b),  c_0 = W_init_c ā + b                         (one-layer MLPs over ā)
 *   e_ti = vᵀ tanh(W_a a_i + W_h h_{t-1})                                      (the attention MLP)
 *   α_t = softmax_i(e_t),  z_t = Σ_i α_ti a_i                                   (B, L), (B, D)
 *   β_t = σ(W_β h_{t-1} + b_β),  ẑ_t = β_t z_t                                  (B, 1), the gate of §4.2.1
 *   h_t, c_t = LSTM([E y_{t-1}; ẑ_t], h_{t-1}, c_{t-1})
 *   logits_t = L_o(E y_{t-1} + L_h h_t + L_z ẑ_t)                              the deep output layer, eq. 7
 *   loss = (Σ_b Σ_t −log p(y_t) + λ Σ_b Σ_i (1 − Σ_t α_ti)²) / N               over each caption's steps, eos included
 *
 * N is the batch's scored words: Xu et al. sum both terms over each caption (their λ is relative to a caption's
 * summed −log p); dividing both by N keeps the loss a mean per word, as every task here reports it, and the
 * paper's ratio between the terms.
 *
 * The deep output reads ẑ, the context the LSTM read (the paper's ẑ_t, which §4.2.1 gates by β). With
 * attention 'none' the LSTM reads E y_{t-1} alone, logits = L_o(E y_{t-1} + L_h h_t): ā reaches the words only
 * through h_0 and c_0 (Show and Tell).
 *
 * With config.image and config.encoder the sources are images and an ImageEncoder (image/image-encoder.ts, trained
 * with the rest) makes the grid: D is its last channels, L its H'·W' cells, row y·W' + x.
 *
 * Parameters: `encoder.conv*` (with images); `embedding.weight` (V, m); `init_h.*`, `init_c.*` (n, D); `attention.*`
 * (Attention 'bahdanau': `query.weight` (A, n) = W_h, `key.weight` (A, D) = W_a, `v.weight` (1, A)) and `beta.*`
 * (1, n) under 'soft'; `rnn.*` (PyTorch LSTM, `weight_ih_l0` (4n, m + D) under 'soft', (4n, m) under 'none');
 * `out_h.*` (m, n) = L_h; `out_z.*` (m, D) = L_z ('soft'); `out.*` (V, m) = L_o.
 */
export class Captioner extends Module implements StepDecoder<CaptionerEncoded, CaptionerState> {
  readonly config: Readonly<CaptionerConfig & { annotationSize: number; gridCells: number }>;
  readonly encoder: ImageEncoder | null;
  readonly embedding: Embedding;
  readonly initH: Linear;
  readonly initC: Linear;
  readonly attention: Attention | null;
  readonly beta: Linear | null;
  readonly rnn: Recurrent;
  readonly outH: Linear;
  readonly outZ: Linear | null;
  readonly out: Linear;

  constructor(config: CaptionerConfig, rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`Captioner: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('Captioner config', config, CONFIG_KEYS);
    const { vocabSize: V, embeddingSize: m, hiddenSize: n, attention, image, bos, eos } = config;
    if ((config.encoder === undefined) !== (image === undefined)) {
      throw new Error(`Captioner: config.image and config.encoder go together (the images and the CNN that reads them), got only ${image === undefined ? 'encoder' : 'image'}`);
    }
    let encoder: ImageEncoder | null = null;
    let grid: { D: number; L: number } | null = null;
    if (image !== undefined) {
      if (image === null || typeof image !== 'object') throw new Error(`Captioner: config.image must be { channels, height, width }, got ${String(image)}`);
      rejectUnknownKeys('Captioner config.image', image, ['channels', 'height', 'width']);
      for (const k of ['channels', 'height', 'width'] as const) positiveInt(`Captioner image.${k}`, image[k]);
      encoder = new ImageEncoder({ convsPerStage: 1, ...config.encoder!, inChannels: config.encoder!.inChannels ?? image.channels }, rng);
      if (encoder.config.inChannels !== image.channels) throw new Error(`Captioner: the encoder reads ${encoder.config.inChannels} channels, the images have ${image.channels}`);
      if (image.height < encoder.minImageSize || image.width < encoder.minImageSize) {
        throw new Error(`Captioner: images of ${image.height}×${image.width} are smaller than the ${encoder.minImageSize}×${encoder.minImageSize} the encoder's ${encoder.config.channels.length} pools need`);
      }
      const [gh, gw] = encoder.gridSize(image.height, image.width);
      grid = { D: encoder.featureSize, L: gh * gw };
      for (const [k, v, want] of [['annotationSize', config.annotationSize, grid.D], ['gridCells', config.gridCells, grid.L]] as const) {
        if (v !== undefined && v !== want) throw new Error(`Captioner ${k} ${v} disagrees with the encoder's ${want} on ${image.height}×${image.width} images (leave it out)`);
      }
    }
    const needed = (k: 'annotationSize' | 'gridCells'): number => {
      const v = config[k];
      if (v === undefined) throw new Error(`Captioner ${k} is needed when the sources are annotation grids (no encoder)`);
      return v;
    };
    const D = grid?.D ?? needed('annotationSize');
    const L = grid?.L ?? needed('gridCells');
    for (const [k, v] of Object.entries({ vocabSize: V, embeddingSize: m, hiddenSize: n, annotationSize: D, gridCells: L })) positiveInt(`Captioner ${k}`, v);
    if (!captionerAttentionKinds.includes(attention)) throw new Error(`Captioner attention must be one of ${captionerAttentionKinds.join(', ')}, got ${JSON.stringify(attention)}`);
    if (config.attentionSize !== undefined && attention !== 'soft') throw new Error(`Captioner attentionSize applies to attention 'soft' only, not '${attention}'`);
    const A = config.attentionSize ?? n;
    positiveInt('Captioner attentionSize', A);
    for (const [k, v] of Object.entries({ bos, eos })) {
      if (!Number.isInteger(v) || v < 0 || v >= V) throw new Error(`Captioner ${k} must be an id in [0, vocabSize = ${V}), got ${String(v)}`);
    }
    // attentionSize is stored resolved under 'soft' and never under 'none' (where the constructor refuses it).
    this.config = { ...config, annotationSize: D, gridCells: L, ...(attention === 'soft' ? { attentionSize: A } : {}), ...(encoder === null ? {} : { encoder: encoder.config }) };

    this.encoder = encoder === null ? null : this.child('encoder', encoder);
    const soft = attention === 'soft';
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: m }, rng));
    this.initH = this.child('init_h', new Linear({ inFeatures: D, outFeatures: n }, rng));
    this.initC = this.child('init_c', new Linear({ inFeatures: D, outFeatures: n }, rng));
    this.attention = soft ? this.child('attention', new Attention({ kind: 'bahdanau', querySize: n, keySize: D, attentionSize: A }, rng)) : null;
    this.beta = soft ? this.child('beta', new Linear({ inFeatures: n, outFeatures: 1 }, rng)) : null;
    this.rnn = this.child('rnn', createRecurrent('lstm', { inputSize: m + (soft ? D : 0), hiddenSize: n }, rng));
    this.outH = this.child('out_h', new Linear({ inFeatures: n, outFeatures: m }, rng));
    this.outZ = soft ? this.child('out_z', new Linear({ inFeatures: D, outFeatures: m }, rng)) : null;
    this.out = this.child('out', new Linear({ inFeatures: m, outFeatures: V }, rng));
  }

  /** The annotation grids (B, L, D) of B sources (images through the encoder, or grids as given). */
  annotations(src: CaptionerSources): Tensor {
    const { annotationSize: D, gridCells: L, image } = this.config;
    if (this.encoder === null) return sourceTensor(src, [L, D], 'annotation grid', '(gridCells, annotationSize)');
    const x = sourceTensor(src, [image!.channels, image!.height, image!.width], 'image', '(channels, height, width)'); // (B, C, H, W)
    const a = this.encoder.forward(x); // (B, L, D)
    if (a.shape.length !== 3 || a.shape[1] !== L || a.shape[2] !== D) {
      throw new Error(`Captioner: the encoder gave annotations [${a.shape.join(', ')}], the captioner expects (B, gridCells = ${L}, annotationSize = ${D})`);
    }
    return a;
  }

  /** Encodes B sources: the attention memory and the initial state from the mean annotation. */
  encode(src: CaptionerSources): { encoded: CaptionerEncoded; state: CaptionerState } {
    const a = this.annotations(src); // (B, L, D)
    const B = a.shape[0];
    const n = this.config.hiddenSize;
    const mean = meanAxis(a, 1); // (B, D) ā
    const h = reshape(tanh(this.initH.forward(mean)), [1, B, n]); // (1, B, n)
    const c = reshape(this.initC.forward(mean), [1, B, n]); // (1, B, n)
    const memory = this.attention === null ? null : this.attention.prepare(a); // keys (B, L, D)
    return { encoded: { B, memory }, state: { h, c } };
  }

  /** One word for every row from the previous words (B ids, bos first). */
  step(encoded: CaptionerEncoded, state: CaptionerState, prev: Int32Array): CaptionerStep {
    const { B, memory } = encoded;
    const { vocabSize: V, hiddenSize: n, embeddingSize: m, annotationSize: D } = this.config;
    if (!(prev instanceof Int32Array) || prev.length !== B) {
      throw new Error(`Captioner.step: prev must be an Int32Array of ${B} previous words, got ${prev instanceof Int32Array ? prev.length : String(prev)}`);
    }
    for (let b = 0; b < B; b++) {
      if (!(prev[b] >= 0 && prev[b] < V)) throw new Error(`Captioner.step: previous word ${prev[b]} of row ${b} is outside the vocabulary [0, ${V})`);
    }
    // A copy: the embedding's backward reads its ids later, and callers reuse their prev buffer.
    const ey = reshape(this.embedding.forward(prev.slice(), [1, B]), [B, m]); // (B, m) E y_{t-1}
    const hPrev = reshape(state.h, [B, n]); // (B, n)
    let x = ey; // (B, m) the LSTM's input
    let weights: Tensor | null = null;
    let beta: Tensor | null = null;
    let zHat: Tensor | null = null;
    if (memory !== null) {
      const att = this.attention!.forward(hPrev, memory); // context z_t (B, D), α_t (B, L)
      weights = att.weights;
      beta = sigmoid(this.beta!.forward(hPrev)); // (B, 1)
      zHat = mul(att.context, indexSelect(beta, 1, new Int32Array(D))); // (B, D) β_t z_t
      x = concat([ey, zHat]); // (B, m + D)
    }
    const r = this.rnn.forward(reshape(x, [1, B, x.shape[1]]), { h0: state.h, c0: state.c }); // output (1, B, n)
    const h = reshape(r.output, [B, n]); // (B, n) h_t
    let deep = add(ey, this.outH.forward(h)); // (B, m) E y_{t-1} + L_h h_t
    if (zHat !== null) deep = add(deep, this.outZ!.forward(zHat)); // (B, m) + L_z ẑ_t
    const logits = this.out.forward(deep); // (B, V)
    return { logits, weights, beta, state: { h: r.h, c: r.c! } };
  }

  // --- StepDecoder: the searches in src/decode/ read this; the weights are α over the L grid cells ---
  decodingSignature(): DecodingSignature {
    const { vocabSize, bos, eos, gridCells, annotationSize, image } = this.config;
    const keys: Array<[string, number]> = [['vocabSize', vocabSize], ['bos', bos], ['eos', eos], ['gridCells', gridCells]];
    if (image === undefined) keys.push(['annotationSize', annotationSize]);
    else keys.push(['channels', image.channels], ['height', image.height], ['width', image.width]);
    return { kind: image === undefined ? 'Captioner(annotations)' : 'Captioner(images)', keys, vocabSize, bos, eos };
  }

  decodeStep(encoded: CaptionerEncoded, state: CaptionerState, prev: Int32Array): { logits: Tensor; weights: Tensor | null; state: CaptionerState } {
    const { logits, weights, state: next } = this.step(encoded, state, prev);
    return { logits, weights, state: next };
  }

  selectRows(encoded: CaptionerEncoded, state: CaptionerState, rows: ArrayLike<number>): { encoded: CaptionerEncoded; state: CaptionerState } {
    const r = Array.from(rows);
    return {
      encoded: { B: r.length, memory: encoded.memory === null ? null : selectMemoryRows(encoded.memory, r) },
      state: { h: indexSelect(state.h, 1, r), c: indexSelect(state.c, 1, r) }, // (1, B', n)
    };
  }

  attendedLengths(encoded: CaptionerEncoded): readonly number[] {
    return new Array<number>(encoded.B).fill(encoded.memory === null ? 0 : this.config.gridCells);
  }

  /**
   * Training forward: T = longest caption + 1 (eos) steps, one at a time (each step's attention reads the
   * previous state), each fed the gold previous word with probability `teacherForcing`, else the model's own
   * (stepWithFeedback, as every generator here). The penalty sums each row's α over its real steps only.
   */
  forward(batch: CaptionerBatch, opts: CaptionerForwardOptions = {}): CaptionerOutput {
    if (opts === null || typeof opts !== 'object') throw new Error(`Captioner.forward: options must be an object, got ${String(opts)}`);
    const { penalty = 0, ...feedbackOpts } = opts;
    if (typeof penalty !== 'number' || !(penalty >= 0) || !Number.isFinite(penalty)) throw new Error(`Captioner.forward: penalty must be a non-negative number, got ${String(penalty)}`);
    if (penalty > 0 && this.attention === null) throw new Error("Captioner.forward: the attention penalty needs attention 'soft' (this captioner has none)");
    const { teacherForcing, feedback, rng, labelSmoothing } = checkFeedbackOptions('Captioner.forward', feedbackOpts);
    if (batch === null || typeof batch !== 'object') throw new Error(`Captioner.forward: batch must be { src, tgt }, got ${String(batch)}`);
    rejectUnknownKeys('Captioner.forward batch', batch, ['src', 'tgt']);
    const { bos, eos, vocabSize: V, gridCells: L } = this.config;
    const lengths = checkSequences('Captioner caption', 'tgt', batch.tgt, V);
    const B = batch.tgt.length;
    const { targets, T } = timeMajorTargets(batch.tgt, eos);
    const { encoded, state } = this.encode(batch.src);
    if (encoded.B !== B) throw new Error(`Captioner.forward: src must hold one image per caption (${B}), got ${encoded.B}`);

    let s = state;
    const alphas: Tensor[] = [];
    const fed = stepWithFeedback(targets, B, bos, eos, { teacherForcing, feedback, rng }, (prev) => {
      const out = this.step(encoded, s, prev);
      s = out.state;
      if (out.weights !== null) alphas.push(out.weights);
      return out.logits;
    });
    const logits = stack(fed.logits); // (T, B, V)
    const wordLoss = crossEntropy(logits, targets, IGNORE_INDEX, labelSmoothing); // [1]
    let attentionPenalty: Tensor | null = null;
    let loss = wordLoss;
    if (alphas.length > 0) {
      // Σ_t α_ti over the steps t ≤ each row's length (eos is a step): a 0/1 mask per step.
      let total: Tensor | null = null; // (B, L)
      for (let t = 0; t < T; t++) {
        const keep = new Float32Array(B * L);
        for (let b = 0; b < B; b++) if (t <= lengths[b]) keep.fill(1, b * L, (b + 1) * L);
        const a = mul(alphas[t], Tensor.from(keep, [B, L])); // (B, L)
        total = total === null ? a : add(total, a);
      }
      const gap = sub(Tensor.from(new Float32Array(B * L).fill(1), [B, L]), total!); // (B, L) 1 − Σ_t α_ti
      const words = lengths.reduce((a, n) => a + n + 1, 0); // N, eos included
      attentionPenalty = scale(sum(mul(gap, gap)), penalty / words); // [1]
      if (penalty > 0) loss = add(wordLoss, attentionPenalty);
    }
    return { loss, wordLoss, attentionPenalty, logits, targets, inputs: fed.inputs, weights: alphas.length === 0 ? null : stack(alphas) };
  }
}

/** B sources of shape `item` as one (B, ...item) tensor: a caller's tensor is used as is (gradients reach it), arrays are copied. */
function sourceTensor(src: CaptionerSources, item: number[], what: string, named: string): Tensor {
  const size = item.reduce((p, d) => p * d, 1);
  const who = 'Captioner';
  const want = `(B, ${named} = ${item.join(', ')})`;
  if (src instanceof Tensor) {
    if (src.shape.length !== item.length + 1 || src.shape[0] < 1 || src.shape.slice(1).some((d, i) => d !== item[i])) {
      throw new Error(`${who}: a source tensor must have shape ${want}, got [${src.shape.join(', ')}]`);
    }
    checkFinite(src.data, size, what, who);
    return src;
  }
  if (!Array.isArray(src) || src.length === 0) throw new Error(`${who}: sources must be a non-empty array of ${what}s or a tensor ${want}, got ${Array.isArray(src) ? 'an empty array' : String(src)}`);
  const flat = new Float32Array(src.length * size);
  src.forEach((x: ArrayLike<number>, b: number) => {
    if (x === null || typeof x !== 'object' || typeof x.length !== 'number') throw new Error(`${who}: source ${b} must be an ${what} of ${size} numbers ${named}, got ${String(x)}`);
    if (x.length !== size) throw new Error(`${who}: source ${b} has ${x.length} numbers, an ${what} ${named} = (${item.join(', ')}) has ${size}`);
    flat.set(x, b * size);
  });
  checkFinite(flat, size, what, who);
  return Tensor.from(flat, [src.length, ...item]);
}

function checkFinite(d: ArrayLike<number>, size: number, what: string, who: string): void {
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) throw new Error(`${who}: ${what} ${Math.floor(i / size)}, value ${i % size} = ${d[i]} is not a finite number`);
  }
}
