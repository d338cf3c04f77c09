// VqaModel: one-word answers to questions about images (VQA, Visual7W in miniature). An LSTM reads the
// question; its final state queries the same MLP attention over the CNN's annotation grid as the
// captioner's (Xu et al. 2015; the query is the question instead of the caption's state); a one-hidden-
// layer classifier over [question; context] picks the answer. With image 'none' it is the question-only
// baseline, which never sees the image. Not here: the data (tasks/vqa.ts), the CNN's layers (image/).

import { concat, crossEntropy, reshape, tanh } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Attention } from './attention.js';
import { Embedding } from './embedding.js';
import { ImageEncoder, type ImageEncoderConfig } from './image/image-encoder.js';
import { Linear, positiveInt } from './linear.js';
import { Module } from './module.js';
import { createRecurrent, type Recurrent } from './recurrent/index.js';
import { rejectUnknownKeys } from './recurrent/recurrent.js';
import { checkSequences } from './sequence-batch.js';

export interface VqaModelConfig {
  /** V: question words. */
  vocabSize: number;
  /** A: the answers. */
  numAnswers: number;
  embeddingSize: number;
  /** H: the question LSTM's state, and the classifier's hidden layer. */
  hiddenSize: number;
  /** The images (channels, height, width) and the CNN that reads them; both absent: the question-only baseline. */
  image?: { channels: number; height: number; width: number };
  encoder?: ImageEncoderConfig;
}

const CONFIG_KEYS = ['vocabSize', 'numAnswers', 'embeddingSize', 'hiddenSize', 'image', 'encoder'] as const;

export interface VqaBatch {
  /** B images, C·H·W floats in [0, 1] each: required with an image encoder, refused by the question-only baseline. */
  images?: ReadonlyArray<ArrayLike<number>>;
  /** B questions of word ids, each non-empty. */
  questions: ReadonlyArray<ArrayLike<number>>;
  /** B answer ids in [0, numAnswers), for the loss. */
  answers?: ArrayLike<number>;
}

export interface VqaOutput {
  logits: Tensor; // (B, A)
  /** (B, L) the attention over the grid; null for the baseline. */
  weights: Tensor | null;
  /** Mean cross-entropy, when answers are given. */
  loss: Tensor | null;
}

/**
 * With q = h_T of an LSTM over the question's embeddings (B, H) and a_i the CNN's annotations (B, L, D):
 *
 *   e_i = vᵀ tanh(W_a a_i + W_q q),  α = softmax_i(e),  z = Σ_i α_i a_i       (Attention 'bahdanau')
 *   logits = W_o tanh(W_h [q; z] + b_h) + b_o                                  (B, A)
 *   baseline (no image): logits = W_o tanh(W_h q + b_h) + b_o
 *
 * Parameters: `encoder.conv*`, `attention.*` (with an image); `embedding.weight` (V, E); `rnn.*` (PyTorch LSTM);
 * `hidden.*` (H, H + D or H); `answer.*` (A, H).
 */
export class VqaModel extends Module {
  readonly config: Readonly<VqaModelConfig>;
  readonly encoder: ImageEncoder | null;
  readonly attention: Attention | null;
  readonly embedding: Embedding;
  readonly rnn: Recurrent;
  readonly hidden: Linear;
  readonly answer: Linear;

  constructor(config: VqaModelConfig, rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`VqaModel: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('VqaModel config', config, CONFIG_KEYS);
    const { vocabSize: V, numAnswers: A, embeddingSize: E, hiddenSize: H, image } = config;
    for (const [k, v] of Object.entries({ vocabSize: V, numAnswers: A, embeddingSize: E, hiddenSize: H })) positiveInt(`VqaModel ${k}`, v);
    if ((config.encoder === undefined) !== (image === undefined)) throw new Error('VqaModel: config.image and config.encoder go together (both absent: the question-only baseline)');
    this.encoder = null;
    this.attention = null;
    let D = 0;
    if (image !== undefined) {
      rejectUnknownKeys('VqaModel config.image', image, ['channels', 'height', 'width']);
      for (const k of ['channels', 'height', 'width'] as const) positiveInt(`VqaModel image.${k}`, image[k]);
      this.encoder = this.child('encoder', new ImageEncoder({ ...config.encoder!, inChannels: config.encoder!.inChannels ?? image.channels }, rng));
      if (image.height < this.encoder.minImageSize || image.width < this.encoder.minImageSize) {
        throw new Error(`VqaModel: images of ${image.height}×${image.width} are smaller than the ${this.encoder.minImageSize}×${this.encoder.minImageSize} the encoder's pools need`);
      }
      D = this.encoder.featureSize;
      this.attention = this.child('attention', new Attention({ kind: 'bahdanau', querySize: H, keySize: D }, rng));
    }
    this.config = { ...config, ...(this.encoder === null ? {} : { encoder: this.encoder.config }) };
    this.embedding = this.child('embedding', new Embedding({ numEmbeddings: V, embeddingDim: E }, rng));
    this.rnn = this.child('rnn', createRecurrent('lstm', { inputSize: E, hiddenSize: H }, rng));
    this.hidden = this.child('hidden', new Linear({ inFeatures: H + D, outFeatures: H }, rng));
    this.answer = this.child('answer', new Linear({ inFeatures: H, outFeatures: A }, rng));
  }

  forward(batch: VqaBatch): VqaOutput {
    if (batch === null || typeof batch !== 'object') throw new Error(`VqaModel.forward: batch must be { images, questions, answers }, got ${String(batch)}`);
    rejectUnknownKeys('VqaModel.forward batch', batch, ['images', 'questions', 'answers']);
    const { vocabSize: V, hiddenSize: H, numAnswers: A, image } = this.config;
    const lengths = checkSequences('VqaModel question', 'questions', batch.questions, V);
    const B = batch.questions.length;
    const T = Math.max(...lengths);
    const ids = new Int32Array(T * B); // (T, B), 0 past each question's end (masked by lengths)
    batch.questions.forEach((q, b) => { for (let t = 0; t < q.length; t++) ids[t * B + b] = q[t]; });
    const x = this.embedding.forward(ids, [T, B]); // (T, B, E)
    const q = reshape(this.rnn.forward(x, { lengths }).h, [B, H]); // (B, H) the state after each question's last word
    let features = q; // (B, H)
    let weights: Tensor | null = null;
    if (this.encoder !== null) {
      const imgs = batch.images;
      if (!Array.isArray(imgs) || imgs.length !== B) throw new Error(`VqaModel.forward: images must hold one image per question (${B}), got ${Array.isArray(imgs) ? imgs.length : String(imgs)}`);
      const size = image!.channels * image!.height * image!.width;
      const flat = new Float32Array(B * size);
      imgs.forEach((im: ArrayLike<number>, b: number) => {
        if (im === null || typeof im !== 'object' || im.length !== size) throw new Error(`VqaModel.forward: image ${b} must have ${size} numbers (${image!.channels}×${image!.height}×${image!.width}), got ${im?.length}`);
        flat.set(im, b * size);
      });
      const a = this.encoder.forward(Tensor.from(flat, [B, image!.channels, image!.height, image!.width])); // (B, L, D)
      const att = this.attention!.forward(q, this.attention!.prepare(a)); // context (B, D), α (B, L)
      weights = att.weights;
      features = concat([q, att.context]); // (B, H + D)
    } else if (batch.images !== undefined) {
      throw new Error('VqaModel.forward: the question-only baseline takes no images');
    }
    const logits = this.answer.forward(tanh(this.hidden.forward(features))); // (B, A)
    let loss: Tensor | null = null;
    if (batch.answers !== undefined) {
      const ans = Int32Array.from(batch.answers as ArrayLike<number>);
      if (ans.length !== B) throw new Error(`VqaModel.forward: answers must hold one answer per question (${B}), got ${ans.length}`);
      ans.forEach((y, b) => { if (!(y >= 0 && y < A)) throw new Error(`VqaModel.forward: answers[${b}] = ${y} is outside [0, numAnswers = ${A})`); });
      loss = crossEntropy(logits, ans); // [1]
    }
    return { logits, weights, loss };
  }
}
