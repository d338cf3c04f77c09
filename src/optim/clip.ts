// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_: in place on the grads of
// the given parameters (parameters without a grad are skipped). Not here: detecting NaN losses (train/).

import { backend } from '../backend/registry.js';
import type { Tensor } from '../tensor/tensor.js';

/** Parameters, bare or named (Module.parameters() or Module.namedParameters()). */
export type ClipParams = ReadonlyArray<Tensor> | ReadonlyArray<readonly [string, Tensor]>;

function grads(params: ClipParams): Float32Array[] {
  const out: Float32Array[] = [];
  for (const e of params) {
    const t = Array.isArray(e) ? (e as readonly [string, Tensor])[1] : (e as Tensor);
    if (t.grad !== null) out.push(t.grad.data);
  }
  return out;
}

/**
 * Scales all grads together so their joint `normType`-norm is at most `maxNorm`, and returns the norm
 * before clipping (0 when no parameter has a grad). As PyTorch: clipCoef = maxNorm / (total + 1e-6),
 * applied when below 1; normType may be Infinity (largest |g|).
 *
 * NOTE: unlike PyTorch, a non-finite total norm leaves the grads untouched (PyTorch multiplies them by
 * NaN, or by 0 for an infinite norm); the norm is returned so the caller can stop on it.
 */
export function clipGradNorm(params: ClipParams, maxNorm: number, normType = 2): number {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  if (!(normType > 0)) throw new Error(`clipGradNorm: normType must be > 0 or Infinity, got ${normType}`);
  const gs = grads(params);
  const be = backend();
  let total: number;
  if (normType === Infinity) {
    total = 0;
    for (const g of gs) {
      const m = be.maxAbs(g);
      if (m > total || m !== m) total = m;
    }
  } else if (normType === 2) {
    let s = 0;
    for (const g of gs) s += be.sumSquares(g);
    total = Math.sqrt(s);
  } else {
    // NOTE: other p-norms are rare enough to stay a plain loop rather than a kernel.
    let s = 0;
    for (const g of gs) for (let i = 0; i < g.length; i++) s += Math.abs(g[i]) ** normType;
    total = s ** (1 / normType);
  }
  if (!Number.isFinite(total)) return total;
  const clipCoef = maxNorm / (total + 1e-6);
  if (clipCoef < 1) for (const g of gs) be.scal(clipCoef, g);
  return total;
}

/** The joint 2-norm of all grads, without changing them (what training checks for a non-finite gradient when it does not clip). */
export function gradNorm(params: ClipParams): number {
  let s = 0;
  for (const g of grads(params)) s += backend().sumSquares(g);
  return Math.sqrt(s);
}

/** Clamps every grad element into [-clipValue, clipValue] (NaN stays NaN), as torch's clip_grad_value_. */
export function clipGradValue(params: ClipParams, clipValue: number): void {
  if (!(Number.isFinite(clipValue) && clipValue >= 0)) throw new Error(`clipGradValue: clipValue must be a finite number >= 0, got ${clipValue}`);
  const be = backend();
  for (const g of grads(params)) be.clamp(g, -clipValue, clipValue);
}
