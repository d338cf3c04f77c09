// The GPT-style model's ONNX graphs run in ONNX Runtime against recurrent's own forward pass: several
// layer, head and width settings, tied and untied embeddings, the sequence graph on windows of every length
// up to the context, the step graph fed token by token with its key/value cache carried; and the step graph
// driven as a greedy loop that slides past the context as generateText does, token for token. Every
// tensor within 1e-5 of its largest magnitude.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Vocabulary } from '../src/data/vocabulary.js';
import { generateText } from '../src/decode/generate.js';
import { TransformerLanguageModel } from '../src/nn/transformer-language-model.js';
import { toOnnx } from '../src/onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { assertClose, int64, ort, session } from './util/onnx-runtime.js';

const V = 11;
const B = 3;

/** A model whose weights are of order 1 (GPT-2's N(0, 0.02) would give near-uniform logits), LayerNorm gains around 1. */
function model(c: { dModel: number; numLayers: number; numHeads: number; context: number; tieEmbeddings: boolean }, seed: number): TransformerLanguageModel {
  const m = new TransformerLanguageModel({ arch: 'transformer', vocabSize: V, dropout: 0, ...c }, new Rng(seed));
  const rng = new Rng(seed + 100);
  for (const [name, p] of m.namedParameters()) {
    const d = p.data;
    for (let i = 0; i < d.length; i++) d[i] = (/norm\d?\.weight$/.test(name) ? 1 : 0) + 0.4 * rng.normal();
  }
  return m.eval();
}

/** (T, B, ·) time-major rows to (B, T, ·) batch-first. */
function batchFirst(x: ArrayLike<number>, T: number, F: number): Float32Array {
  const out = new Float32Array(T * B * F);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) out[(b * T + t) * F + f] = x[(t * B + b) * F + f];
  return out;
}

/** Empty caches for every layer (P = 0). */
function emptyPast(m: TransformerLanguageModel, batch: number): Record<string, ort.Tensor> {
  const { numLayers: L, numHeads: heads, dModel: E } = m.config;
  const feeds: Record<string, ort.Tensor> = {};
  for (let l = 0; l < L; l++) for (const kv of ['key', 'value']) feeds[`past_${kv}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, E / heads]);
  return feeds;
}

const settings = [
  { dModel: 8, numLayers: 1, numHeads: 1, context: 6, tieEmbeddings: false },
  { dModel: 12, numLayers: 2, numHeads: 3, context: 7, tieEmbeddings: true },
  { dModel: 16, numLayers: 3, numHeads: 4, context: 8, tieEmbeddings: false },
  { dModel: 8, numLayers: 2, numHeads: 2, context: 5, tieEmbeddings: true },
];

for (const [i, c] of settings.entries()) {
  const what = `${c.numLayers} layers, ${c.numHeads} heads, width ${c.dModel}, ${c.tieEmbeddings ? 'tied' : 'untied'}`;
  test(`Transformer language model (${what}): the sequence and step graphs equal recurrent's forward`, async () => {
    const m = model(c, 10 + i);
    const [step, sequence] = toOnnx(m);
    assert.deepEqual([step.name, sequence.name], ['step', 'sequence']);
    const rng = new Rng(i);
    const seq = await session(sequence.bytes);
    // Every window length up to the context: the causal mask is built from T.
    for (const T of [1, 3, c.context]) {
      const ids = Int32Array.from({ length: T * B }, () => rng.int(V)); // (T, B)
      const want = noGrad(() => tidy(() => m.forward(ids, T, B, null).logits.data.slice())); // (T·B, V)
      const out = await seq.run({ tokens: int64(batchFirst(ids, T, 1), [B, T]) });
      assertClose(out.logits, batchFirst(want, T, V), `sequence logits, T ${T}`, [B, T, V]);
    }

    // The step graph, fed one position at a time, the cache carried from present to past.
    const T = c.context;
    const ids = Int32Array.from({ length: T * B }, () => rng.int(V)); // (T, B)
    const want = noGrad(() => tidy(() => m.forward(ids, T, B, null).logits.data.slice())); // (T·B, V)
    const stepper = await session(step.bytes);
    let past = emptyPast(m, B);
    for (let t = 0; t < T; t++) {
      const r = await stepper.run({ token: int64(ids.subarray(t * B, (t + 1) * B), [B]), position: int64(Array(B).fill(t), [B]), ...past });
      assertClose(r.logits, want.subarray(t * B * V, (t + 1) * B * V), `step ${t} logits`, [B, V]);
      past = {};
      for (let l = 0; l < c.numLayers; l++) {
        for (const kv of ['key', 'value']) {
          const p = r[`present_${kv}_${l}`];
          assert.deepEqual(p.dims, [B, c.numHeads, t + 1, c.dModel / c.numHeads], `present_${kv}_${l} after step ${t}`);
          past[`past_${kv}_${l}`] = p;
        }
      }
    }
    m.dispose();
  });
}

test('Transformer language model: the step graph driven greedily, sliding past the context as generateText does, writes its text', async () => {
  const vocab = new Vocabulary([...'abcdefghijk']); // V characters
  // A seed whose greedy text does not settle into one repeated character (most random models' does).
  const m = model({ dModel: 12, numLayers: 2, numHeads: 2, context: 6, tieEmbeddings: false }, 5);
  const [step] = toOnnx(m);
  const s = await session(step.bytes);
  const context = m.config.context;
  for (const [prime, length] of [['abc', 4], ['kbd', 20], ['a', 31]] as const) {
    const want = generateText(m, vocab, { length, prime, argmax: true }, new Rng(1));
    // The caller's loop: the window read so far; when it is full, the last half read again from position 0.
    let window: number[] = [];
    let past = emptyPast(m, 1);
    let logits = new Float32Array(0) as Float32Array<ArrayBufferLike>;
    const feed = async (id: number): Promise<void> => {
      window.push(id);
      if (window.length > context) {
        window = window.slice(-Math.max(1, Math.floor(context / 2)));
        past = emptyPast(m, 1);
        for (const w of window.slice(0, -1)) await run(w);
      }
      await run(id);
    };
    const run = async (id: number): Promise<void> => {
      const r = await s.run({ token: int64([id], [1]), position: int64([past.past_key_0.dims[2]], [1]), ...past });
      logits = r.logits.data as Float32Array;
      past = Object.fromEntries(Object.keys(past).map((k) => [k, r[k.replace('past', 'present')]]));
    };
    for (const id of vocab.encode(prime)) await feed(id);
    const out: number[] = [];
    for (let i = 0; i < length; i++) {
      out.push(logits.indexOf(Math.max(...logits)));
      if (i + 1 < length) await feed(out[out.length - 1]);
    }
    assert.equal(prime + vocab.decode(out), want, `prime ${JSON.stringify(prime)}, ${length} characters`);
    if (length > context) assert.ok(new Set(out).size > 2, `the greedy text ${JSON.stringify(want)} has more than two characters`);
  }
  m.dispose();
});
