// Attention masks in PyTorch's forms: a boolean mask (true: may not attend) or a float mask that is added
// to the scores (-∞ masks), both turned into the additive float tensors the attention op takes. Also
// PyTorch's generate_square_subsequent_mask. Not here: checking a mask's shape against a layer's inputs
// (multihead-attention.ts), the kernel (backend).

import { Tensor } from '../../tensor/tensor.js';

/** A boolean mask (PyTorch's torch.bool masks): true where attention is not allowed. */
export class BoolMask {
  readonly shape: readonly number[];
  readonly data: Uint8Array;
  constructor(data: Uint8Array, shape: readonly number[]) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || data.length !== n) {
      throw new Error(`boolMask: ${data.length} values do not fill shape [${shape.join(', ')}]`);
    }
    this.shape = [...shape];
    this.data = data;
  }
}

/** A BoolMask from values (truthy: masked), row-major over `shape`. */
export function boolMask(values: ArrayLike<boolean | number>, shape: readonly number[]): BoolMask {
  return new BoolMask(Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0)), shape);
}

/** What the layers take as a mask: a BoolMask, or a float Tensor added to the scores (PyTorch's two kinds). */
export type AttentionMask = Tensor | BoolMask;

/** The mask as an additive float tensor: a BoolMask becomes 0 / -∞ (a new tensor), a float mask is itself. */
export function additiveMask(m: AttentionMask): Tensor {
  if (m instanceof Tensor) return m;
  const t = new Tensor(m.shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (m.data[i] !== 0) d[i] = -Infinity;
  return t;
}

/** The shape of a mask, or a one-line description of what was given instead. */
export function maskShape(m: unknown, name: string, who: string): readonly number[] {
  if (m instanceof Tensor || m instanceof BoolMask) return m.shape;
  throw new Error(`${who}: ${name} must be a float Tensor or a BoolMask (boolMask(values, shape)), got ${m === null ? 'null' : typeof m}`);
}

/**
 * PyTorch's Transformer.generate_square_subsequent_mask: (sz, sz), -∞ above the diagonal and 0 on and below
 * it, so position i attends to positions <= i.
 */
export function squareSubsequentMask(sz: number): Tensor {
  if (!Number.isInteger(sz) || sz < 0) throw new Error(`squareSubsequentMask: size must be a non-negative integer, got ${sz}`);
  const t = new Tensor([sz, sz]);
  const d = t.data;
  for (let i = 0; i < sz; i++) d.fill(-Infinity, i * sz + i + 1, (i + 1) * sz);
  return t;
}
