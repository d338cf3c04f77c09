// The one seeded random generator: xoshiro128** seeded through splitmix32. Pure 32-bit integer math,
// so the same seed gives the same weights, batches, dropout masks and samples in Node and browsers.
// Its state is four numbers, saved in checkpoints so a resumed run draws what the original would have.

export type RngState = [number, number, number, number];

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | RngState = 0) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.s.set(seed);
    } else {
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        // splitmix32
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
    }
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits, exactly representable as float32. */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /**
   * Fills `out` with an inverted-dropout mask: out[i] = uniform() < p ? 0 : keep, drawing exactly what that
   * loop would (so the same state gives the same mask and leaves the same state), by `kernel` (a backend's
   * dropoutMask: the wasm kernel where the backend has one, xoshiroDropoutMask in JS otherwise) on this
   * generator's state. NOTE: it does not call uniform(): a subclass that overrides uniform() overrides this too.
   */
  dropoutMask(out: Float32Array, p: number, keep: number, kernel: MaskKernel = JS_MASK_KERNEL): void {
    kernel.dropoutMask(this.s, p, keep, out);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller; one value per pair of uniforms, so the state alone says what comes next). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** An independent generator for a sub-task (e.g. sampling at evaluation), leaving this one untouched. */
  fork(salt: number): Rng {
    const a = this.s[0] ^ Math.imul(salt >>> 0, 0x9e3779b1);
    return new Rng((a ^ this.s[1] ^ (this.s[2] << 1) ^ (this.s[3] >>> 1)) >>> 0);
  }

  /** Continues from a saved state (see getState). */
  setState(state: RngState): void {
    this.s.set(state);
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }
}

/** What draws a dropout mask on a generator's 4-word state: the JS loop below, or a backend's kernel of it. */
export interface MaskKernel {
  dropoutMask(state: Uint32Array, p: number, keep: number, out: Float32Array): void;
}

/**
 * The mask of `out.length` xoshiro128** draws from `state` (advanced in place): out[i] = 0 where the draw's
 * 24 high bits are below p·2²⁴ (uniform() < p: both sides exact in doubles), else keep. The state in
 * locals and the comparison on integers (a Transformer with dropout draws millions a step); the wasm kernel
 * (assembly/elementwise.ts) is the same loop.
 */
export function xoshiroDropoutMask(state: Uint32Array, p: number, keep: number, out: Float32Array): void {
  let s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  const below = p * 16777216;
  for (let i = 0; i < out.length; i++) {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    out[i] = r >>> 8 < below ? 0 : keep;
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}
const JS_MASK_KERNEL: MaskKernel = { dropoutMask: xoshiroDropoutMask };

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Shuffles `xs` in place (Fisher–Yates from the end: j = rng.int(i + 1) for i = n − 1 down to 1) and returns it. */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
