// Adagrad as torch.optim.Adagrad (PyTorch 1.13), dense gradients only. State: `sum` per parameter,
// filled with initialAccumulatorValue at creation. The arithmetic is the backend's `adagradUpdate`.

import { backend } from '../backend/registry.js';
import { checkRange, type OptimizerRule } from './rule.js';

/**
 * d = g + weightDecay·p;  sum += d²;  p −= clr·d / (√sum + eps), with clr = lr / (1 + (step − 1)·lrDecay)
 * and `step` the parameter's own step count (1 on its first update).
 */
export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

export const adagrad: OptimizerRule<AdagradOptions> = {
  options: {
    lr: { kind: 'number', default: 1e-2 },
    lrDecay: { kind: 'number', default: 0 },
    weightDecay: { kind: 'number', default: 0 },
    initialAccumulatorValue: { kind: 'number', default: 0 },
    eps: { kind: 'number', default: 1e-10 },
  },
  check(h) {
    checkRange(h.lr >= 0, 'adagrad', 'lr', h.lr, '>= 0');
    checkRange(h.lrDecay >= 0, 'adagrad', 'lrDecay', h.lrDecay, '>= 0');
    checkRange(h.weightDecay >= 0, 'adagrad', 'weightDecay', h.weightDecay, '>= 0');
    checkRange(h.initialAccumulatorValue >= 0, 'adagrad', 'initialAccumulatorValue', h.initialAccumulatorValue, '>= 0');
    checkRange(h.eps >= 0, 'adagrad', 'eps', h.eps, '>= 0');
  },
  slotKeys: () => ['sum'],
  slotInit: (_key, h) => h.initialAccumulatorValue,
  update(param, grad, slots, paramStep, h, lr) {
    const clr = lr / (1 + (paramStep - 1) * h.lrDecay);
    backend().adagradUpdate(param, grad, slots.get('sum')!, clr, h.weightDecay, h.eps);
  },
};
