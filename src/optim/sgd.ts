// SGD with momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD (PyTorch 1.13).
// State: `momentum_buffer` per parameter, kept only when momentum > 0. The arithmetic is the backend's
// `sgdUpdate` kernel; this file holds the options and PyTorch's checks.

import { backend } from '../backend/registry.js';
import { checkRange, type OptimizerRule } from './rule.js';

/**
 * d = g + weightDecay·p;  b = d on a parameter's first step, else momentum·b + (1 − dampening)·d;
 * d = nesterov ? d + momentum·b : b;  p −= lr·d.
 */
export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export const sgd: OptimizerRule<SgdOptions> = {
  options: {
    lr: { kind: 'number' }, // required, as in PyTorch 1.13
    momentum: { kind: 'number', default: 0 },
    dampening: { kind: 'number', default: 0 },
    weightDecay: { kind: 'number', default: 0 },
    nesterov: { kind: 'boolean', default: false },
  },
  check(h) {
    checkRange(h.lr >= 0, 'sgd', 'lr', h.lr, '>= 0');
    checkRange(h.momentum >= 0, 'sgd', 'momentum', h.momentum, '>= 0');
    checkRange(h.weightDecay >= 0, 'sgd', 'weightDecay', h.weightDecay, '>= 0');
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new Error(`sgd: nesterov needs momentum > 0 and dampening 0, got momentum ${h.momentum} and dampening ${h.dampening}`);
    }
  },
  slotKeys: (h) => (h.momentum !== 0 ? ['momentum_buffer'] : []),
  slotInit: () => 0,
  update(param, grad, slots, paramStep, h, lr) {
    backend().sgdUpdate(param, grad, slots.get('momentum_buffer') ?? null, paramStep === 1, { ...h, lr });
  },
};
