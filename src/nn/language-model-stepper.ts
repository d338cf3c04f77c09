// A character language model run one character at a time, batch 1, without the tape: the recurrent stack's
// weights packed once (RecurrentStepper), the head's weight packed once, one reused logits buffer, so a
// character costs one embedding row copy, one stepper step and one vector-matrix product. What sampling
// (decode/generate.ts) and the cell analysis (analysis/cell-activations.ts) read the model through.

import { backend } from '../backend/registry.js';
import { Tensor, untracked } from '../tensor/tensor.js';
import type { LanguageModel } from './language-model.js';
import { RecurrentStepper, type DirectionWeights } from './recurrent/recurrent-stack.js';

export interface LanguageModelStepper {
  /** The stack's stepper: its state and each layer's cell cache after the last character. */
  readonly stepper: RecurrentStepper;
  /** Reads character `id` (eval mode: no dropout); returns the next character's logits (V), a view valid until the next allocation. */
  feed(id: number): Float32Array;
  dispose(): void;
}

export function languageModelStepper(model: LanguageModel): LanguageModelStepper {
  const { hiddenSize: H, numLayers: L, vocabSize: V, cell } = model.config;
  const be = backend();
  // NOTE: packing allocates from the heap (it may grow): every view is taken after it, per use.
  const { stepper, head, logits } = untracked(() => {
    const p = new Map(model.rnn.namedParameters());
    const weights: DirectionWeights[] = Array.from({ length: L }, (_, l) => ({
      wih: p.get(`weight_ih_l${l}`)!, whh: p.get(`weight_hh_l${l}`)!, bih: p.get(`bias_ih_l${l}`) ?? null, bhh: p.get(`bias_hh_l${l}`) ?? null,
    }));
    return {
      stepper: new RecurrentStepper(cell, H, L, weights, 1),
      head: be.packB(true, H, V, model.head.weight.data, H), // (H, V) = head.weightᵀ
      logits: new Tensor([V]), // (V)
    };
  });
  return {
    stepper,
    feed: (id) => {
      stepper.x.data.set(model.embedding.weight.data.subarray(id * H, (id + 1) * H)); // (1, H)
      const h = stepper.step(); // (1, H)
      const lv = logits.data;
      if (model.head.bias !== null) lv.set(model.head.bias.data);
      else lv.fill(0);
      be.gemmPacked(false, 1, 1, h, H, head, 1, lv, V); // (1, V)
      return lv;
    },
    dispose: () => {
      stepper.dispose();
      head.dispose();
      logits.dispose();
    },
  };
}
