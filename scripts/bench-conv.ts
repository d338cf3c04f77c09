// Times ImageEncoder's forward + backward (the convolutions as im2col + gemm, col2im, ReLU, max pooling,
// the grid read-out) on a batch of random RGB images, on each backend, and where the time goes by kernel
// (one more step with every backend method timed: gemm against the image kernels and the rest).
//
//   node dist/scripts/bench-conv.js [--batch 16] [--size 64] [--channels 32,64,128] [--convs 1] [--steps 5]
//        [--backends reference,wasm,native] [--threads N]   (--threads: of wasm and native; the reference has one)
//
// The reference backend runs min(steps, 2) steps (it is plain TypeScript). Not a benchmark against peers.

import { timeKernels } from './kernel-timers.js';
import { ImageEncoder, Rng, Tensor, availableBackends, backend, backward, heap, setBackend, tidy, untracked, type Backend } from '../src/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i];
  if (!k.startsWith('--') || process.argv[i + 1] === undefined) throw new Error(`bench-conv: expected --name value pairs, got ${k}`);
  args.set(k.slice(2), process.argv[i + 1]);
}
const known = ['batch', 'size', 'channels', 'convs', 'steps', 'backends', 'threads'];
for (const k of args.keys()) if (!known.includes(k)) throw new Error(`bench-conv: unknown option --${k} (expected one of ${known.map((n) => `--${n}`).join(', ')})`);
const num = (k: string, d: number): number => {
  const v = args.has(k) ? Number(args.get(k)) : d;
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench-conv: --${k} must be a positive integer, got ${args.get(k)}`);
  return v;
};
const B = num('batch', 16);
const S = num('size', 64);
const STEPS = num('steps', 5);
const channels = (args.get('channels') ?? '32,64,128').split(',').map(Number);
const convs = num('convs', 1) as 1 | 2;
const names = (args.get('backends') ?? availableBackends().join(',')).split(',');

/** Multiply-adds of the convolutions' gemms in one forward: Σ O·(C·9)·(H·W) per image, the backward 2× that. */
function convMacs(): number {
  let c = 3;
  let hw = S * S;
  let macs = 0;
  for (const o of channels) {
    for (let k = 0; k < convs; k++) {
      macs += o * c * 9 * hw;
      c = o;
    }
    hw = Math.floor(Math.sqrt(hw) / 2) ** 2;
  }
  return B * macs;
}
const flopsPerStep = 2 * 3 * convMacs(); // forward, dx and dweight gemms

/**
 * CPU ms per maxPool2dForward call on the first pool's input (B·32 planes of S×S): the 2×2 stride-2 windows
 * (the encoder's, a vector path in wasm and native) and 3×3 stride-2 windows with padding 1 (the general path).
 */
function timePools(be: Backend): void {
  const planes = B * channels[0];
  const calls = be.name === 'reference' ? 2 : 20;
  const rng = new Rng(2);
  tidy(() => {
    const x = Tensor.from(Float32Array.from({ length: planes * S * S }, () => rng.normal()));
    const O = Math.floor(S / 2);
    const y = new Tensor([planes * O * O]);
    const idx = new Tensor([planes * O * O]);
    const line = [['2×2 stride 2', 2, 0], ['3×3 stride 2 padding 1', 3, 1]].map(([name, k, p]) => {
      const g = { C: planes, H: S, W: S, kh: k as number, kw: k as number, sh: 2, sw: 2, ph: p as number, pw: p as number, OH: O, OW: O };
      const c0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) be.maxPool2dForward(g, x.data, y.data, new Int32Array(heap.memory.buffer, idx.offset, idx.size));
      const c = process.cpuUsage(c0);
      return `${name} ${((c.user + c.system) / 1000 / calls).toFixed(2)} ms`;
    });
    console.log(`  maxPool2dForward alone, ${planes} planes ${S}×${S}, CPU per call: ${line.join(', ')}`);
  });
}

console.log(`ImageEncoder channels [${channels.join(', ')}], ${convs} conv(s) per stage, forward + backward of ${B} images 3×${S}×${S}`);
console.log(`(${(flopsPerStep / 1e9).toFixed(2)} GFLOP of convolution gemms per step)\n`);
for (const name of names) {
  setBackend(name);
  const be = backend();
  if (args.has('threads') && be.setThreads !== undefined) be.setThreads(num('threads', 1)); // the reference has one thread
  const rng = new Rng(1);
  const enc = new ImageEncoder({ channels, convsPerStage: convs }, rng);
  const images = untracked(() => Tensor.from(Float32Array.from({ length: B * 3 * S * S }, () => rng.uniform()), [B, 3, S, S]));
  const [gh, gw] = enc.gridSize(S, S);
  const seed = untracked(() => Tensor.from(Float32Array.from({ length: B * gh * gw * enc.featureSize }, () => rng.normal()), [B, gh * gw, enc.featureSize]));
  const step = (): void => {
    tidy(() => backward(enc.forward(images), seed));
    enc.zeroGrad();
  };
  step(); // warm-up (first calls compile, heap grows)
  const steps = name === 'reference' ? Math.min(STEPS, 2) : STEPS;
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps; // every thread of the process: on a loaded machine, what the step cost
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  const threads = be.threads !== undefined ? `, ${be.threads} thread(s)` : '';
  console.log(`${name}${threads}: ${med.toFixed(0)} ms/step median of ${steps} (min ${times[0].toFixed(0)}), ` +
    `${((1000 * B) / med).toFixed(1)} images/s, ${(flopsPerStep / med / 1e6).toFixed(2)} GFLOP/s of conv gemms; CPU ${cpuMs.toFixed(0)} ms/step`);
  // One step more with every kernel timed, grouped.
  const timers = timeKernels(be);
  const t0 = performance.now();
  step();
  const total = performance.now() - t0;
  console.log(timers.table(1, total).split('\n').map((l) => `  ${l}`).join('\n'));
  timePools(be);
  console.log();
  enc.dispose();
  images.dispose();
  seed.dispose();
}
