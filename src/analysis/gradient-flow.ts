// How far back a character model's gradient reaches: ‖∂ℓ/∂h_k‖ against the distance k from the loss, ℓ the
// cross-entropy of the character after a window of T characters and h_k the state k steps before the last
// (k = 0: the state the prediction reads), each layer's norm apart, the mean over B windows of the text.
// The layer is stepped one step at a time so every state is a node on the tape (recurrentSteps). For an
// LSTM the state is the pair (h, c): ∂ℓ/∂h_k holds c_k fixed and ∂ℓ/∂c_k holds h_k fixed.

import { crossEntropy, embedding, scale, select } from '../autograd/ops.js';
import { backward } from '../autograd/tape.js';
import type { Vocabulary } from '../data/vocabulary.js';
import type { LanguageModel } from '../nn/language-model.js';
import type { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { recurrentModel } from './cell-activations.js';
import { recurrentSteps } from '../nn/recurrent/recurrent-steps.js';
import type { Rng } from '../random/rng.js';
import { tidy, type Tensor } from '../tensor/tensor.js';

export interface GradientFlow {
  /** T: the window's length; index k of each curve is the distance from the loss. */
  length: number;
  /** B: windows averaged. */
  windows: number;
  /** Per layer (T): mean over the windows of ‖∂ℓ_b/∂h_{T-1-k}‖. */
  h: Float64Array[];
  /** Per layer (T), LSTM only: mean over the windows of ‖∂ℓ_b/∂c_{T-1-k}‖; null for the other cells. */
  c: Float64Array[] | null;
  /** The mean loss of the windows' last prediction. */
  loss: number;
}

export interface GradientFlowOptions {
  /** T, characters per window (default 100). */
  length?: number;
  /** B, windows (default 32), at offsets drawn from `rng`. */
  windows?: number;
}

/** Window starts: B offsets drawn from rng in [0, N - T - 1], so each window and its next character fit. */
export function gradientFlowWindows(textLength: number, T: number, B: number, rng: Rng): number[] {
  if (textLength < T + 1) throw new Error(`the text has ${textLength} characters: a window of ${T} and the character after it need ${T + 1}`);
  return Array.from({ length: B }, () => rng.int(textLength - T));
}

export function gradientFlow(
  charModel: LanguageModel | TransformerLanguageModel, vocab: Vocabulary, text: string, rng: Rng, opts: GradientFlowOptions = {},
): GradientFlow {
  const model = recurrentModel(charModel, 'the model');
  const T = opts.length ?? 100;
  const B = opts.windows ?? 32;
  if (!(Number.isInteger(T) && T >= 1)) throw new Error(`the window length must be a positive integer, got ${T}`);
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`the number of windows must be a positive integer, got ${B}`);
  const all = vocab.encode(text, 'the text');
  const starts = gradientFlowWindows(all.length, T, B, rng);
  const ids = new Int32Array(T * B); // (T, B) time-major
  const targets = new Int32Array(B); // (B) the character after each window
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) ids[t * B + b] = all[s + t];
    targets[b] = all[s + T];
  });
  const { hiddenSize: H, numLayers: L } = model.config;
  /** Per layer, the mean over b of the norm of row b of a (L, B, H) gradient (null: the loss does not reach it). */
  const norms = (grad: Tensor | null): number[] =>
    Array.from({ length: L }, (_, l) => {
      if (grad === null) return 0;
      let s = 0;
      for (let b = 0; b < B; b++) {
        let n2 = 0;
        const o = (l * B + b) * H;
        for (let j = 0; j < H; j++) n2 += grad.data[o + j] ** 2;
        s += Math.sqrt(n2);
      }
      return s / B;
    });
  const wasTraining = model.training;
  model.eval();
  try {
    const result = tidy(() => {
      const x = embedding(model.embedding.weight, ids, [T, B]); // (T, B, H)
      const r = recurrentSteps(model.rnn, x);
      const logits = model.head.forward(select(r.h, L - 1)); // (B, V) from the last layer's last state
      const loss = crossEntropy(logits, targets); // the mean over the windows
      const value = loss.item();
      backward(scale(loss, B)); // Σ_b ℓ_b: row b of ∂/∂h_t is then ∂ℓ_b/∂h_t of window b
      const h = Array.from({ length: L }, () => new Float64Array(T));
      const c = r.cs === null ? null : Array.from({ length: L }, () => new Float64Array(T));
      for (let k = 0; k < T; k++) {
        const t = T - 1 - k;
        norms(r.hs[t].grad).forEach((v, l) => (h[l][k] = v));
        if (c !== null) norms(r.cs![t].grad).forEach((v, l) => (c[l][k] = v));
      }
      return { h, c, loss: value };
    });
    return { length: T, windows: B, ...result };
  } finally {
    model.zeroGrad();
    model.train(wasTraining);
  }
}
