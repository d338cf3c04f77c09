// A character model unrolled over a short sequence, as the lectures draw the "hello" example: at each step
// the one-hot input, every layer's hidden state, the output scores and their softmax, the target and its
// loss; and on the way back (BPTT) the gradient of the mean loss with respect to each step's scores and
// hidden state. Numbers only: the page draws them.

import { crossEntropy, embedding, reshape } from '../autograd/ops.js';
import { backward } from '../autograd/tape.js';
import type { Vocabulary } from '../data/vocabulary.js';
import type { LanguageModel } from '../nn/language-model.js';
import type { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { recurrentModel } from './cell-activations.js';
import { recurrentSteps } from '../nn/recurrent/recurrent-steps.js';
import { tidy } from '../tensor/tensor.js';

export interface UnrolledStep {
  /** The character read, and its id (the one-hot input's hot index). */
  input: string;
  inputId: number;
  /** Per layer (H): h_t. */
  h: Float32Array[];
  /** (V): the output scores y_t = W_hy h_t + b. */
  scores: Float32Array;
  /** (V): softmax(y_t). */
  probs: Float32Array;
  /** The next character (the target), its id, and -log p_t(target). */
  target: string;
  targetId: number;
  loss: number;
  /** (V): ∂L/∂y_t = (p_t - onehot(target)) / T for the mean loss L. */
  dScores: Float32Array;
  /** Per layer (H): ∂L/∂h_t, everything after step t included (BPTT). */
  dh: Float32Array[];
}

export interface Unrolled {
  steps: UnrolledStep[];
  /** L: the mean of the steps' losses. */
  loss: number;
}

/** Unrolls `model` over `sequence` (at least two characters): reads s[0..T-1] from a zero state, predicting s[1..T]. */
export function unrollSequence(charModel: LanguageModel | TransformerLanguageModel, vocab: Vocabulary, sequence: string): Unrolled {
  const model = recurrentModel(charModel, 'the model');
  const all = vocab.encode(sequence, 'the sequence');
  const T = all.length - 1;
  if (T < 1) throw new Error(`the sequence must have at least two characters, got ${JSON.stringify(sequence)}`);
  const { hiddenSize: H, numLayers: L, vocabSize: V } = model.config;
  const ids = all.subarray(0, T); // (T, 1)
  const targets = all.slice(1); // (T)
  const wasTraining = model.training;
  model.eval();
  try {
    return tidy(() => {
      const x = embedding(model.embedding.weight, ids, [T, 1]); // (T, 1, H)
      const r = recurrentSteps(model.rnn, x);
      const logits = model.head.forward(reshape(r.output, [T, H])); // (T, V)
      const loss = crossEntropy(logits, targets); // the mean over the T steps
      const total = loss.item();
      backward(loss);
      const scoresAll = logits.data.slice();
      const steps: UnrolledStep[] = [];
      for (let t = 0; t < T; t++) {
        const scores = scoresAll.slice(t * V, (t + 1) * V);
        let max = -Infinity;
        for (const s of scores) max = Math.max(max, s);
        let sum = 0;
        for (const s of scores) sum += Math.exp(s - max);
        const probs = scores.map((s) => Math.exp(s - max) / sum);
        const dScores = probs.map((p, i) => (p - (i === targets[t] ? 1 : 0)) / T);
        const layer = (m: Float32Array | undefined, l: number): Float32Array => (m === undefined ? new Float32Array(H) : m.slice(l * H, (l + 1) * H));
        steps.push({
          input: vocab.chars[ids[t]], inputId: ids[t],
          h: Array.from({ length: L }, (_, l) => layer(r.hs[t].data, l)),
          scores, probs,
          target: vocab.chars[targets[t]], targetId: targets[t], loss: -Math.log(probs[targets[t]]),
          dScores,
          dh: Array.from({ length: L }, (_, l) => layer(r.hs[t].grad?.data, l)),
        });
      }
      return { steps, loss: total };
    });
  } finally {
    model.zeroGrad();
    model.train(wasTraining);
  }
}
