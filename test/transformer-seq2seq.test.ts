// The Transformer encoder–decoder: PyTorch parity (scripts/make-transformer-seq2seq-fixtures.py: nn.Transformer
// + nn.Embedding + nn.Linear; logits, loss and every gradient, post-norm and normFirst, padded sources), a
// finite-difference check, the key/value-cached steps against the teacher-forced forward (logits and
// cross-attention), beam search of width 1 against greedy, beam hypotheses rescored, ensembles (two
// Transformers; a Transformer with a recurrent model), bad options.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backward } from '../src/autograd/tape.js';
import { beamSearch } from '../src/decode/beam-search.js';
import { greedyDecode, sampleDecode } from '../src/decode/greedy.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { Seq2Seq } from '../src/nn/seq2seq.js';
import { TransformerSeq2Seq, type TransformerSeq2SeqConfig } from '../src/nn/transformer-seq2seq.js';
import { decodeLengthLimit } from '../src/tasks/seq2seq.js';
import { Rng } from '../src/random/rng.js';
import { seq2seqFromConfig, seq2seqModelFromConfig, seq2seqTask } from '../src/tasks/seq2seq.js';
import { Tensor, noGrad, tidy } from '../src/tensor/tensor.js';
import { compareToFixture, f32, fixturesDir } from './util/fixtures.js';
import { gradcheck } from './util/gradcheck.js';

const dir = join(fixturesDir(), 'transformer-seq2seq');

/** Rows of a (B, n) array padded with -1, as id sequences. */
function rows(data: Int32Array, shape: readonly number[]): Int32Array[] {
  const [B, n] = shape;
  return Array.from({ length: B }, (_, b) => Int32Array.from(data.subarray(b * n, (b + 1) * n)).filter((x) => x >= 0));
}

test('TransformerSeq2Seq fixtures: logits, loss and every gradient equal PyTorch (post-norm relu sinusoidal, normFirst gelu learned tied)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  assert.ok(files.length >= 2, `no fixtures in ${dir} (run: /usr/bin/python3 scripts/make-transformer-seq2seq-fixtures.py)`);
  for (const file of files) {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
    const c = JSON.parse(metadata.config) as { model: TransformerSeq2SeqConfig; labelSmoothing: number };
    const model = new TransformerSeq2Seq(c.model, new Rng(0));
    model.loadStateDict(new Map([...tensors].filter(([k]) => !/^(input|expected|grad)\./.test(k))));
    model.eval();
    const src = tensors.get('input.src')!;
    const tgt = tensors.get('input.tgt')!;
    const batch = { src: rows(src.data as Int32Array, src.shape), tgt: rows(tgt.data as Int32Array, tgt.shape) };
    assert.ok(new Set(batch.src.map((s) => s.length)).size > 1, 'the sources have different lengths');
    const problems: string[] = [];
    tidy(() => {
      const out = model.forward(batch, { labelSmoothing: c.labelSmoothing });
      backward(out.loss);
      for (const p of [compareToFixture(`${file} logits`, out.logits, f32(file, tensors, 'expected.logits'), 1e-4, 1e-6),
        compareToFixture(`${file} loss`, out.loss, f32(file, tensors, 'expected.loss'), 1e-4, 1e-6)]) if (p) problems.push(p);
      const names = model.namedParameters().map(([n]) => n);
      assert.deepEqual(names.sort(), [...tensors.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5)).sort(), `${file}: the parameters are PyTorch's`);
      for (const [name, p] of model.namedParameters()) {
        const e = compareToFixture(`${file} grad ${name}`, p.grad, f32(file, tensors, `grad.${name}`), 1e-4, 1e-6);
        if (e) problems.push(e);
      }
    });
    assert.deepEqual(problems, []);
    model.dispose();
  }
});

const small = (o: Partial<TransformerSeq2SeqConfig> = {}): TransformerSeq2SeqConfig => ({
  arch: 'transformer', srcVocabSize: 7, tgtVocabSize: 9, dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 2, dimFeedforward: 12,
  dropout: 0, activation: 'relu', normFirst: false, positions: 'sinusoidal', maxLength: 40, tieEmbeddings: false, bos: 1, eos: 2, ...o,
});

const batch = { src: [Int32Array.of(3, 4, 5, 6), Int32Array.of(2, 1)], tgt: [Int32Array.of(3, 4), Int32Array.of(5, 6, 7)] };

test('TransformerSeq2Seq: finite differences agree with the gradients (normFirst, learned positions, tied; dropout off)', () => {
  const model = new TransformerSeq2Seq(small({ normFirst: true, positions: 'learned', tieEmbeddings: true, maxLength: 6 }), new Rng(2));
  gradcheck('transformer-seq2seq', () => model.forward(batch, { labelSmoothing: 0.1 }).loss, model.parameters(), { maxPerInput: 6 });
  model.dispose();
});

/** Feeds `fed` (T ids, bos first) to row 0's decoder one token at a time; each step's logits and weights. */
function stepped(model: TransformerSeq2Seq, src: Int32Array[], fed: number[][]): { logits: number[][][]; weights: number[][][] } {
  return noGrad(() => tidy(() => {
    let { encoded, state } = model.encode(src);
    const logits: number[][][] = [];
    const weights: number[][][] = [];
    for (let t = 0; t < fed[0].length; t++) {
      const out = model.decodeStep(encoded, state, Int32Array.from(fed, (f) => f[t]));
      state = out.state;
      const V = out.logits.shape[1];
      const S = out.weights!.shape[1];
      logits.push(fed.map((_, b) => Array.from(out.logits.data.subarray(b * V, (b + 1) * V))));
      weights.push(fed.map((_, b) => Array.from(out.weights!.data.subarray(b * S, (b + 1) * S))));
    }
    return { logits, weights };
  }));
}

test('TransformerSeq2Seq: cached steps equal the teacher-forced forward (logits, last-layer cross-attention), past the first cache capacity', () => {
  for (const o of [{}, { normFirst: true, positions: 'learned' as const, tieEmbeddings: true, activation: 'gelu' as const }]) {
    const model = new TransformerSeq2Seq(small(o), new Rng(4)).eval();
    const long = Int32Array.from({ length: 21 }, (_, i) => 3 + (i * 5) % 6); // 22 steps: the caches grow past 16
    const b = { src: [Int32Array.of(3, 4, 5), Int32Array.of(6)], tgt: [long, Int32Array.of(4, 3)] };
    const { logits, inputs, crossWeights, T } = noGrad(() => tidy(() => {
      const out = model.forward(b);
      const last = crossWeights0(out.crossWeights[out.crossWeights.length - 1]);
      return { logits: Array.from(out.logits.data), inputs: Array.from(out.inputs), crossWeights: last, T: out.logits.shape[0] };
    }));
    const B = 2;
    const V = 9;
    const fed = [0, 1].map((r) => Array.from({ length: T }, (_, t) => inputs[t * B + r]));
    const s = stepped(model, b.src, fed);
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < B; r++) {
        s.logits[t][r].forEach((x, j) => assert.ok(Math.abs(x - logits[(t * B + r) * V + j]) < 1e-4, `step ${t} row ${r} logit ${j}: ${x} vs ${logits[(t * B + r) * V + j]}`));
        s.weights[t][r].forEach((x, j) => assert.ok(Math.abs(x - crossWeights[r][t][j]) < 1e-5, `step ${t} row ${r} weight ${j}`));
      }
    }
    assert.equal(s.weights[0][1][1], 0, 'no weight past a source\'s length');
    model.dispose();
  }
});

/** (B, H, T, S) -> [b][t][s] averaged over heads. */
function crossWeights0(w: { shape: readonly number[]; data: Float32Array }): number[][][] {
  const [B, H, T, S] = w.shape;
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Array.from({ length: S }, (_, s) => {
    let sum = 0;
    for (let h = 0; h < H; h++) sum += w.data[((b * H + h) * T + t) * S + s];
    return sum / H;
  })));
}

/** Σ log p of `tokens` (then eos, when finished) under the teacher-forced forward of each model, p the models' mean. */
function rescored(models: Array<TransformerSeq2Seq | Seq2Seq>, src: Int32Array, tokens: number[], finished: boolean): number {
  const probs = models.map((m) => noGrad(() => tidy(() => {
    m.eval();
    const out = m.forward({ src: [src], tgt: [Int32Array.from(tokens.length === 0 ? [3] : tokens)] });
    const V = out.logits.shape[2];
    return Array.from({ length: tokens.length + 1 }, (_, t) => {
      const row = Array.from(out.logits.data.subarray(t * V, (t + 1) * V));
      const max = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp(x - max), 0);
      return row.map((x) => Math.exp(x - max) / z);
    });
  })));
  let lp = 0;
  const eos = models[0].config.eos;
  for (let t = 0; t < tokens.length + (finished ? 1 : 0); t++) {
    const y = t < tokens.length ? tokens[t] : eos;
    lp += Math.log(probs.reduce((a, p) => a + p[t][y], 0) / models.length);
  }
  return lp;
}

test('TransformerSeq2Seq: beam search of width 1 equals greedy; wider beams reorder the caches (hypotheses rescored teacher-forced)', () => {
  const model = new TransformerSeq2Seq(small({ tgtVocabSize: 6 }), new Rng(7));
  const srcs = [Int32Array.of(3, 4, 5), Int32Array.of(6, 1, 2, 3, 4)];
  const greedy = greedyDecode(model, srcs, { maxLength: 12 });
  let checked = 0;
  srcs.forEach((s, i) => {
    const [beam] = beamSearch(model, s, { beamWidth: 1, maxLength: 12 });
    assert.deepEqual(beam.tokens, greedy[i].tokens);
    assert.ok(Math.abs(beam.logProb - greedy[i].logProb) < 1e-5);
    assert.deepEqual(beam.weights!.map((w) => w.length), greedy[i].weights!.map(() => s.length));
    for (const h of beamSearch(model, s, { beamWidth: 4, maxLength: 12, nBest: 4 })) {
      assert.ok(Math.abs(h.logProb - rescored([model], s, h.tokens, h.finished)) < 1e-4, `beam hypothesis ${h.tokens} logProb ${h.logProb} vs rescored`);
      checked++;
    }
  });
  assert.equal(checked, 8);
  model.dispose();
});

test('TransformerSeq2Seq ensembles: two Transformers, and a Transformer with a recurrent Seq2Seq (both read id sequences): the mean distribution', () => {
  const a = new TransformerSeq2Seq(small({ tgtVocabSize: 6 }), new Rng(8));
  const b = new TransformerSeq2Seq(small({ tgtVocabSize: 6, normFirst: true, numDecoderLayers: 1, positions: 'learned' }), new Rng(9));
  const r = new Seq2Seq({ cell: 'gru', srcVocabSize: 7, tgtVocabSize: 6, embeddingSize: 5, hiddenSize: 6, attention: 'luong-dot', bos: 1, eos: 2 }, new Rng(10));
  const src = Int32Array.of(3, 4, 5, 6);
  let checked = 0;
  for (const members of [[a, b], [a, r]]) {
    for (const h of [...greedyDecode(members, [src], { maxLength: 8 }), ...beamSearch(members, src, { beamWidth: 3, maxLength: 8, nBest: 3 })]) {
      assert.ok(Math.abs(h.logProb - rescored(members, src, h.tokens, h.finished)) < 1e-4, `ensemble hypothesis ${h.tokens}`);
      checked++;
      assert.equal(h.weights![0].length, src.length);
    }
  }
  assert.equal(checked, 8);
  assert.throws(() => greedyDecode([a, new TransformerSeq2Seq(small({ tgtVocabSize: 7 }), new Rng(1))], [src], { maxLength: 3 }), /member 1 has tgtVocabSize 7, member 0 has 6/);
  for (const m of [a, b, r]) m.dispose();
});

test('TransformerSeq2Seq: bad options are one-line errors', () => {
  assert.throws(() => new TransformerSeq2Seq(small({ nhead: 3 }), new Rng(1)), /nhead 3 does not divide the width dModel 8/);
  assert.throws(() => new TransformerSeq2Seq(small({ positions: 'rotary' as never }), new Rng(1)), /positions must be one of sinusoidal, learned/);
  assert.throws(() => new TransformerSeq2Seq({ ...small(), cell: 'lstm' } as never, new Rng(1)), /unknown.*cell|cell/);
  const m = new TransformerSeq2Seq(small({ maxLength: 4 }), new Rng(1));
  const mha = m.transformer.decoder.layers[0].multiheadAttn;
  noGrad(() => tidy(() => {
    const q = Tensor.from(new Float32Array(2 * 1 * 8), [2, 1, 8]);
    const mem = Tensor.from(new Float32Array(3 * 1 * 8), [3, 1, 8]);
    assert.throws(() => mha.forward(q, mem, mem, { keyValue: mha.projectKeyValue(q) }), /keyValue must be projectKeyValue\(key\), shape \[3, 1, 16\], got \[2, 1, 16\]/);
    assert.throws(() => mha.forward(q, q, q, { keyValue: mha.projectKeyValue(q) }), /keyValue is for attention over a memory/);
  }));
  assert.throws(() => m.forward(batch, { teacherForcing: 0.5, rng: new Rng(1) }), /scheduled sampling\) applies to the recurrent encoder–decoder only/);
  assert.throws(() => m.forward({ src: [Int32Array.of(3, 4, 5, 6, 3)], tgt: [Int32Array.of(3)] }), /positions \[0, 5\) are past the model's maxLength 4/);
  m.head!.bias!.data[2] = -1e4; // never eos: decoding runs into maxLength
  assert.throws(() => greedyDecode(m, [Int32Array.of(3)], { maxLength: 6 }), /position 4 is past the model's maxLength 4/);
  m.dispose();
});

test('the seq2seq task: a checkpoint config with arch transformer builds a TransformerSeq2Seq; readers of the recurrent model only refuse it; options of the other arch refused', () => {
  const c = small();
  const config = { format: 'recurrent-seq2seq/1', model: c, srcVocab: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], tgtVocab: ['x', '<s>', '</s>', 'A', 'B', 'C', 'D', 'E', 'F'] } as never;
  const { model } = seq2seqModelFromConfig(config, 'ck/config.json');
  assert.ok(model instanceof TransformerSeq2Seq);
  model.dispose();
  assert.throws(() => seq2seqFromConfig(config, 'ck/config.json'), /^Error: ck\/config.json: the model is the Transformer encoder–decoder \(arch transformer\); only the recurrent one is read here$/);
  const text = 'ab\tB A\nabc\tC B A\nba\tA B\n';
  const create = (o: Parameters<typeof seq2seqTask>[2]) => seq2seqTask(text, 'pairs.tsv', o).create({ rng: new Rng(1), seed: 1 } as never);
  assert.throws(() => create({ model: { arch: 'transformer', hiddenSize: 8 } }), /hiddenSize applies to the recurrent encoder–decoder, not the transformer one/);
  assert.throws(() => create({ model: { nhead: 2 } }), /nhead applies to the Transformer encoder–decoder, not the recurrent one/);
  assert.throws(() => create({ model: { arch: 'transformer' }, teacherForcing: { kind: 'constant', p: 0.5 } }), /scheduled sampling \(teacher forcing < 1\) applies to the recurrent encoder–decoder/);
});

test('TransformerSeq2Seq at its length limit: crossAttention of a hypothesis that fills every position, sampling capped by decodeLengthLimit', () => {
  const model = new TransformerSeq2Seq(small({ maxLength: 5 }), new Rng(4));
  model.eval();
  const src = Int32Array.of(3, 4, 5, 6);
  // An unfinished hypothesis of maxLength tokens: the last was never fed back, so 5 positions suffice.
  const att = model.crossAttention(src, [4, 5, 4, 5, 4], false);
  assert.equal(att.length, 2, 'every decoder layer');
  for (const layer of att) for (const head of layer) assert.equal(head.length, 5, 'one row per token written');
  assert.equal(model.crossAttention(src, [4, 5, 4, 5], true)[0][0].length, 5, 'a finished one: its tokens and eos');
  assert.equal(decodeLengthLimit([model], src, null), 5);
  assert.equal(decodeLengthLimit([model], src, 30), 30, 'an explicit limit is the caller\'s');
  for (let seed = 0; seed < 20; seed++) {
    const [h] = sampleDecode(model, [src], { maxLength: decodeLengthLimit([model], src, null) }, new Rng(seed));
    assert.ok(h.tokens.length <= 5);
  }
});
