// What the JavaScript peer children share: the timing rule of ../timebox.ts (kept identical by hand:
// two warm-up steps, then timed steps for the budget, at least two; a step slower than 10 s gets one
// warm-up and one timed step, marked time-boxed), the result line, and reading the spec.

export const RESULT_PREFIX = '@@RESULT ';
const SLOW_STEP_SEC = 10;

/** `onTimed` runs once between the warm-up and the timed steps (e.g. to reset a counter). */
export function timeboxed(step, budgetSec, onTimed = () => {}) {
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
  onTimed();
  let count = 0;
  const start = performance.now();
  while (count < minCount || (performance.now() - start) / 1000 < budgetSec) {
    step();
    count++;
  }
  return { count, warmup, seconds: (performance.now() - start) / 1000, timeBoxed: slow };
}

export function maxRssKB() {
  return process.resourceUsage().maxRSS;
}

export function readSpec() {
  return JSON.parse(process.argv[process.argv.length - 1]);
}

export function emit(result) {
  if (result.ok) {
    const u = process.cpuUsage();
    result.cpuSec = (u.user + u.system) / 1e6;
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Stream batches as the recipe cuts them: B contiguous streams, chunk c = step mod chunks, T per step. */
export function streamBatcher(ids, B, T) {
  const L = Math.floor(ids.length / B);
  const chunks = Math.floor((L - 1) / T);
  if (chunks < 1) throw new Error('ids file too short for one batch');
  return (step) => {
    const c = step % chunks;
    const x = new Int32Array(B * T); // (B, T) batch-major
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        x[b * T + t] = ids[b * L + c * T + t];
        y[b * T + t] = ids[b * L + c * T + t + 1];
      }
    }
    return { x, y, reset: c === 0 };
  };
}

/** Draw an index from probabilities (a Float32Array summing to ~1). */
export function drawIndex(p, u) {
  let acc = 0;
  for (let j = 0; j < p.length; j++) {
    acc += p[j];
    if (u < acc) return j;
  }
  return p.length - 1;
}
