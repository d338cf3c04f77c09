// RMSProp as torch.optim.RMSprop (PyTorch 1.13): optional momentum and centering. State per parameter:
// `square_avg`, plus `momentum_buffer` when momentum > 0 and `grad_avg` when centered.
// The arithmetic is the backend's `rmspropUpdate`.

import { backend } from '../backend/registry.js';
import { checkRange, type OptimizerRule } from './rule.js';

/**
 * d = g + weightDecay·p;  s = alpha·s + (1 − alpha)·d²;  centered: a = alpha·a + (1 − alpha)·d,
 * avg = √(s − a²) + eps, else avg = √s + eps;  momentum: b = momentum·b + d/avg, p −= lr·b;
 * otherwise p −= lr·d/avg.
 */
export interface RmspropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export const rmsprop: OptimizerRule<RmspropOptions> = {
  options: {
    lr: { kind: 'number', default: 1e-2 },
    alpha: { kind: 'number', default: 0.99 },
    eps: { kind: 'number', default: 1e-8 },
    weightDecay: { kind: 'number', default: 0 },
    momentum: { kind: 'number', default: 0 },
    centered: { kind: 'boolean', default: false },
  },
  check(h) {
    checkRange(h.lr >= 0, 'rmsprop', 'lr', h.lr, '>= 0');
    checkRange(h.eps >= 0, 'rmsprop', 'eps', h.eps, '>= 0');
    checkRange(h.momentum >= 0, 'rmsprop', 'momentum', h.momentum, '>= 0');
    checkRange(h.weightDecay >= 0, 'rmsprop', 'weightDecay', h.weightDecay, '>= 0');
    checkRange(h.alpha >= 0, 'rmsprop', 'alpha', h.alpha, '>= 0');
  },
  slotKeys: (h) => ['square_avg', ...(h.momentum > 0 ? ['momentum_buffer'] : []), ...(h.centered ? ['grad_avg'] : [])],
  slotInit: () => 0,
  update(param, grad, slots, _paramStep, h, lr) {
    backend().rmspropUpdate(param, grad, slots.get('square_avg')!, slots.get('grad_avg') ?? null, slots.get('momentum_buffer') ?? null, { ...h, lr });
  },
};
