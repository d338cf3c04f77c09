// What Conv2d and MaxPool2d share: PyTorch's "int or (h, w)" sizes, checked and made pairs. Not here: the
// layers (conv2d.ts, max-pool2d.ts) or the ops (autograd/image-ops.ts).

import type { Pair } from '../../autograd/image-ops.js';

/** v (a number, or [h, w]) as [h, w]; each an integer >= min, else an error naming `name`. */
export function pair(name: string, v: number | readonly number[], min: number): Pair {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`${name} must be an integer >= ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}
