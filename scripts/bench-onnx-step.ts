// The speed of the language model's exported one-step graph in ONNX Runtime (onnxruntime-node, CPU)
// against recurrent's own batch-1 sampling (generateText) on the same model, in one process, interleaved:
// each round times both for the same budget (which goes first alternates), and the figure is the median
// of the per-round ratios with their min–max, so the shared machine's drift hits both alike. Both sides
// sample every character with the same sampleLogits (temperature 1) and feed it back; ONNX Runtime's side
// pays for one session.run per character, as a caller's generation loop does. A Transformer (--cell
// transformer) is recurrent's key/value-cached sampler against the exported step graph with its cache fed
// back, both sliding the window to its last half when it is full.
//
//   node --experimental-wasm-relaxed-simd dist/scripts/bench-onnx-step.js [--cell lstm] [--hidden 128] [--layers 2]
//        [--vocab 65] [--heads 4] [--context 64] [--rounds 7] [--seconds 2] [--ort-threads 1]
// Defaults: the bench's CR model (LSTM 2×128, 65 characters); --cell transformer --layers 4: nanoGPT's CPU
// configuration (4 layers, 4 heads, width 128, context 64).

import * as ort from 'onnxruntime-node';
import { backend } from '../src/backend/registry.js';
import { Vocabulary } from '../src/data/vocabulary.js';
import { generateText } from '../src/decode/generate.js';
import { sampleLogits } from '../src/decode/sample.js';
import { LanguageModel } from '../src/nn/language-model.js';
import type { CellKind } from '../src/nn/recurrent/index.js';
import { TransformerLanguageModel } from '../src/nn/transformer-language-model.js';
import { toOnnx } from '../src/onnx.js';
import { Rng } from '../src/random/rng.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const cell = (args.get('cell') ?? 'lstm') as CellKind | 'transformer';
const H = Number(args.get('hidden') ?? 128);
const L = Number(args.get('layers') ?? 2);
const V = Number(args.get('vocab') ?? 65);
const rounds = Number(args.get('rounds') ?? 7);
const seconds = Number(args.get('seconds') ?? 2);
const ortThreads = Number(args.get('ort-threads') ?? 1);
const heads = Number(args.get('heads') ?? 4);
const context = Number(args.get('context') ?? 64);

const rng = new Rng(1);
const model = cell === 'transformer'
  ? new TransformerLanguageModel({ arch: 'transformer', vocabSize: V, dModel: H, numLayers: L, numHeads: heads, context, dropout: 0, tieEmbeddings: false }, rng).eval()
  : new LanguageModel({ cell, vocabSize: V, hiddenSize: H, numLayers: L, dropout: 0 }, rng).eval();
const vocab = new Vocabulary(Array.from({ length: V }, (_, i) => String.fromCodePoint(0x21 + i)));
const [step] = toOnnx(model);
const session = await ort.InferenceSession.create(step.bytes, { intraOpNumThreads: ortThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const lstm = cell === 'lstm';

/** Characters per second of `fn(n)` (which produces n characters) over about `seconds`. */
async function rate(fn: (n: number) => Promise<void> | void): Promise<number> {
  const CHUNK = cell === 'transformer' ? 4 * context : 50; // a Transformer's through several slides of its window
  await fn(CHUNK); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await fn(CHUNK);
    n += CHUNK;
  }
  return n / ((performance.now() - t0) / 1000);
}

const ours = (n: number): void => {
  generateText(model, vocab, { length: n }, rng);
};
const onnxRecurrent = async (n: number): Promise<void> => {
  const zeros = (): ort.Tensor => new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
  let feeds: Record<string, ort.Tensor> = { token: new ort.Tensor('int64', BigInt64Array.from([BigInt(rng.int(V))]), [1]), h: zeros(), ...(lstm ? { c: zeros() } : {}) };
  for (let i = 0; i < n; i++) {
    const out = await session.run(feeds);
    const next = sampleLogits(out.logits.data as Float32Array, {}, rng);
    feeds = { token: new ort.Tensor('int64', BigInt64Array.from([BigInt(next)]), [1]), h: out.h_out, ...(lstm ? { c: out.c_out } : {}) };
  }
};

const onnxTransformer = async (n: number): Promise<void> => {
  const none = (): Record<string, ort.Tensor> => Object.fromEntries(Array.from({ length: L }, (_, l) => ['key', 'value'].map((kv) => [
    `past_${kv}_${l}`, new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, H / heads])])).flat());
  let past = none();
  let window: number[] = [];
  let logits: Float32Array = new Float32Array(0);
  const run = async (id: number): Promise<void> => {
    const out = await session.run({ token: new ort.Tensor('int64', BigInt64Array.from([BigInt(id)]), [1]), position: new ort.Tensor('int64', BigInt64Array.from([BigInt(past.past_key_0.dims[2])]), [1]), ...past });
    logits = out.logits.data as Float32Array;
    past = Object.fromEntries(Object.keys(past).map((k) => [k, out[k.replace('past', 'present')]]));
  };
  let id = rng.int(V);
  for (let i = 0; i < n; i++) {
    window.push(id);
    if (window.length > context) { // the window is full: its last half again from position 0, as generateText
      window = window.slice(-Math.max(1, Math.floor(context / 2)));
      past = none();
      for (const w of window.slice(0, -1)) await run(w);
    }
    await run(id);
    id = sampleLogits(logits, {}, rng);
  }
};
const onnx = cell === 'transformer' ? onnxTransformer : onnxRecurrent;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios: number[] = [];
const oursRates: number[] = [];
const onnxRates: number[] = [];
for (let r = 0; r < rounds; r++) {
  const first = r % 2 === 0;
  const a = first ? await rate(ours) : 0;
  const b = await rate(onnx);
  const c = first ? a : await rate(ours);
  oursRates.push(c);
  onnxRates.push(b);
  ratios.push(b / c);
}
const range = (xs: number[], d = 0): string => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;
process.stdout.write(JSON.stringify({
  model: cell === 'transformer' ? `TransformerLanguageModel(E ${H}, L ${L}, heads ${heads}, context ${context}, V ${V}), batch 1` : `LanguageModel(${cell}, H ${H}, L ${L}, V ${V}), batch 1`,
  rounds, secondsEach: seconds,
  recurrent: { backend: backend().name, charsPerSec: range(oursRates) },
  onnxRuntime: { version: ort.env.versions.common, intraOpThreads: ortThreads, charsPerSec: range(onnxRates) },
  onnxOverRecurrent: range(ratios, 2),
}, null, 2) + '\n');
