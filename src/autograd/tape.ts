// Reverse-mode autodiff. Every op that has an input requiring grad records, on its output, the inputs
// (`parents`) and a closure that adds the output's grad into theirs (+=, never =). `backward` orders the
// graph that reaches the loss and runs the closures from the loss back. The graph is the tape.

import { Tensor, isGradEnabled, noGrad } from '../tensor/tensor.js';

/** Backpropagates from `loss` (or from `seed`, a gradient of loss's shape, e.g. for sum(out * dOut)). */
export function backward(loss: Tensor, seed?: Tensor): void {
  if (!loss.requiresGrad) throw new Error('backward: the loss does not depend on anything that requires grad');
  const order = topologicalOrder(loss);
  const g = loss.ensureGrad().data;
  if (seed === undefined) {
    if (loss.size !== 1) throw new Error(`backward: a loss of shape [${loss.shape.join(', ')}] needs a seed gradient`);
    g[0] += 1;
  } else {
    if (seed.size !== loss.size) throw new Error(`backward: seed has ${seed.size} elements, loss has ${loss.size}`);
    const s = seed.data;
    for (let i = 0; i < g.length; i++) g[i] += s[i];
  }
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      if (t.backwardFn === null) continue;
      // NOTE: allocate the parents' grads before the closure runs. An allocation may grow the heap,
      // and a closure that took a view (of its output's grad, say) and then allocated would be left
      // holding a view of the old buffer.
      for (const p of t.parents) if (p.requiresGrad) p.ensureGrad();
      t.backwardFn();
    }
  });
}

/** Tensors reachable from `root` through parents, each after all of its parents (iterative DFS). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1]++;
      const p = t.parents[i];
      if (!visited.has(p) && p.requiresGrad) {
        visited.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Records one fused op with several outputs (a recurrent layer's output and final states). A hidden
 * node sits between the inputs and the outputs, so the backward pass reaches it only after every
 * consumer of every output has run; `backwardFn` then reads each output's grad (null if unused).
 */
export function recordMulti(outputs: Tensor[], parents: Tensor[], backwardFn: () => void): void {
  if (!isGradEnabled() || !parents.some((p) => p.requiresGrad)) return;
  const node = new Tensor([1]);
  node.requiresGrad = true;
  node.parents = parents;
  node.backwardFn = backwardFn;
  for (const o of outputs) {
    o.requiresGrad = true;
    o.parents = [node];
    o.backwardFn = null;
  }
}
