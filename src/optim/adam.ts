// Adam (coupled L2 weight decay) and AdamW (decoupled weight decay), as torch.optim.Adam and
// torch.optim.AdamW (PyTorch 1.13) without amsgrad. State per parameter: `exp_avg`, `exp_avg_sq`.
// The arithmetic is the backend's `adamUpdate`; the bias corrections are computed here in float64.

import { backend } from '../backend/registry.js';
import type { AdamScalars } from '../backend/backend.js';
import { checkRange, type OptimizerRule } from './rule.js';

/**
 * AdamW first: p *= 1 − lr·weightDecay.  Adam: d = g + weightDecay·p (AdamW: d = g).
 * m = β1·m + (1 − β1)·d;  v = β2·v + (1 − β2)·d²;
 * p −= (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps), with t the parameter's own step count.
 */
export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

function adamRule(name: 'adam' | 'adamw', decoupled: boolean): OptimizerRule<AdamOptions> {
  return {
    options: {
      lr: { kind: 'number', default: 1e-3 },
      betas: { kind: 'pair', default: [0.9, 0.999] },
      eps: { kind: 'number', default: 1e-8 },
      weightDecay: { kind: 'number', default: decoupled ? 1e-2 : 0 },
    },
    check(h) {
      checkRange(h.lr >= 0, name, 'lr', h.lr, '>= 0');
      checkRange(h.eps >= 0, name, 'eps', h.eps, '>= 0');
      checkRange(h.betas[0] >= 0 && h.betas[0] < 1, name, 'betas[0]', h.betas[0], 'in [0, 1)');
      checkRange(h.betas[1] >= 0 && h.betas[1] < 1, name, 'betas[1]', h.betas[1], 'in [0, 1)');
      checkRange(h.weightDecay >= 0, name, 'weightDecay', h.weightDecay, '>= 0');
    },
    slotKeys: () => ['exp_avg', 'exp_avg_sq'],
    slotInit: () => 0,
    update(param, grad, slots, t, h, lr) {
      const [beta1, beta2] = h.betas;
      const s: AdamScalars = {
        stepSize: lr / (1 - beta1 ** t), // lr / bias_correction1
        beta1,
        beta2,
        eps: h.eps,
        biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** t),
        weightDecay: decoupled ? 0 : h.weightDecay,
        decoupledDecay: decoupled ? lr * h.weightDecay : 0,
      };
      backend().adamUpdate(param, grad, slots.get('exp_avg')!, slots.get('exp_avg_sq')!, s);
    },
  };
}

export const adam = adamRule('adam', false);
export const adamw = adamRule('adamw', true);
