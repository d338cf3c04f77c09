// The timing rule every measuring child follows (peers/common.mjs and peers/torch_bench.py repeat it):
// two warm-up steps, then timed steps until the budget is spent, at least two. A step slower than
// SLOW_STEP_SEC gets one warm-up and one timed step instead, and the figure is marked time-boxed.

export const SLOW_STEP_SEC = 10;

export interface Timed {
  count: number;
  warmup: number;
  seconds: number;
  /** CPU seconds (user + system, every thread of the process) of the timed steps: on a loaded machine, what other processes' turns on the cores do not inflate. */
  cpuSeconds: number;
  timeBoxed: boolean;
}

export function timeboxed(step: () => void, budgetSec: number): Timed {
  const t0 = performance.now();
  step();
  const first = (performance.now() - t0) / 1000;
  const slow = first >= SLOW_STEP_SEC;
  let warmup = 1;
  if (!slow) {
    step();
    warmup = 2;
  }
  const minCount = slow ? 1 : 2;
  let count = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (count < minCount || (performance.now() - start) / 1000 < budgetSec) {
    step();
    count++;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { count, warmup, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, timeBoxed: slow };
}
