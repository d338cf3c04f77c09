// `recurrent export --format onnx` end to end: checkpoints of the three tasks trained by the command line,
// exported, and run in ONNX Runtime against the commands that read the same checkpoint (the language
// model's forward, `classify predict`, `seq2seq decode`); where the files go; `recurrent/onnx` from code;
// and a one-line error for every checkpoint or model that cannot be exported.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as ort from 'onnxruntime-node';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { SequenceTagger } from '../src/nn/sequence-tagger.js';
import { checkpointToOnnx, onnxFileNames, toOnnx } from '../src/onnx.js';
import { Rng } from '../src/random/rng.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';
import { loadCheckpoint } from '../src/train/train-language-model.js';
import { assertOneLineError, runCli, smallCorpus, tempDir } from './util/cli.js';
import { assertClose, int64, session, zeros } from './util/onnx-runtime.js';

test('export a language model: FILE-step.onnx and FILE-sequence.onnx, equal to the checkpoint\'s forward', async () => {
  const dir = tempDir();
  const data = join(dir, 'text.txt');
  writeFileSync(data, smallCorpus(60));
  const run = join(dir, 'lm');
  const t = runCli(['train', '--data', data, '--model', 'lstm', '--hidden', '12', '--layers', '2', '--seq-length', '8', '--batch-size', '4', '--steps', '3', '--eval-every', '3', '--sample-length', '0', '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'out', 'lm.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lm-step\.onnx  step graph, [\d.]+ KiB\n.*lm-sequence\.onnx  sequence graph/s);
  const { model, vocab } = loadCheckpoint(run);
  const ids = vocab.encode('the cat sat', 'test'); // (T, 1)
  const T = ids.length;
  const want = noGrad(() => tidy(() => model.eval().forward(ids, T, 1, null).logits.data.slice())); // (T, V)
  const seq = await session(readFileSync(join(dir, 'out', 'lm-sequence.onnx')));
  const out = await seq.run({ tokens: int64(ids, [1, T]), h: zeros([2, 1, 12]), c: zeros([2, 1, 12]) });
  assertClose(out.logits, want, 'sequence logits', [1, T, vocab.size]);
  const step = await session(readFileSync(join(dir, 'out', 'lm-step.onnx')));
  const first = await step.run({ token: int64([ids[0]], [1]), h: zeros([2, 1, 12]), c: zeros([2, 1, 12]) });
  assertClose(first.logits, want.subarray(0, vocab.size), 'step logits', [1, vocab.size]);
  model.dispose();
});

test('export a Transformer language model: its sequence graph scores as the checkpoint\'s forward, its step graph starts as it', async () => {
  const dir = tempDir();
  const data = join(dir, 'text.txt');
  writeFileSync(data, smallCorpus(60));
  const run = join(dir, 'gpt');
  const t = runCli(['train', '--data', data, '--model', 'transformer', '--hidden', '8', '--layers', '2', '--heads', '2', '--context', '12', '--tie-embeddings',
    '--batch-size', '4', '--steps', '3', '--eval-every', '3', '--sample-length', '0', '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'gpt.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gpt-step\.onnx  step graph, [\d.]+ KiB\n.*gpt-sequence\.onnx  sequence graph/s);
  const { model, vocab } = loadCheckpoint(run);
  const ids = vocab.encode('the cat sat', 'test'); // (T, 1)
  const T = ids.length;
  const want = noGrad(() => tidy(() => model.eval().forward(ids, T, 1, null).logits.data.slice())); // (T, V)
  const seq = await session(readFileSync(join(dir, 'gpt-sequence.onnx')));
  assertClose((await seq.run({ tokens: int64(ids, [1, T]) })).logits, want, 'sequence logits', [1, T, vocab.size]);
  const step = await session(readFileSync(join(dir, 'gpt-step.onnx')));
  const past = Object.fromEntries([0, 1].flatMap((l) => ['key', 'value'].map((kv) => [`past_${kv}_${l}`, zeros([1, 2, 0, 4])])));
  const first = await step.run({ token: int64([ids[0]], [1]), position: int64([0], [1]), ...past });
  assertClose(first.logits, want.subarray(0, vocab.size), 'step logits', [1, vocab.size]);
  model.dispose();
});

test('export a classifier: one graph, whose probabilities are classify predict\'s', async () => {
  const dir = tempDir();
  const data = join(dir, 'train.tsv');
  const rng = new Rng(4);
  writeFileSync(data, Array.from({ length: 60 }, (_, i) => `${i % 2 ? 'odd' : 'even'}\t${Array.from({ length: 2 + rng.int(5) }, () => rng.int(10)).join('')}`).join('\n') + '\n');
  const run = join(dir, 'clf');
  assert.equal(runCli(['classify', 'train', '--data', data, '--model', 'gru', '--hidden', '8', '--bidirectional', '--pool', 'max', '--steps', '3', '--eval-every', '3', '--out', run]).code, 0);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'clf.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  const texts = ['123', '98765', '4'];
  writeFileSync(join(dir, 'texts.txt'), texts.join('\n') + '\n');
  const p = runCli(['classify', 'predict', '--checkpoint', run, '--data', join(dir, 'texts.txt')]);
  assert.equal(p.code, 0, p.stderr);
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const T = Math.max(...texts.map((s) => s.length));
  const tokens = texts.flatMap((s) => Array.from({ length: T }, (_, i) => (i < s.length ? config.vocab.indexOf(s[i]) : 0)));
  const out = await (await session(readFileSync(join(dir, 'clf.onnx')))).run({ tokens: int64(tokens, [texts.length, T]), lengths: int64(texts.map((s) => s.length), [texts.length]) });
  const logits = out.logits.data as Float32Array;
  const C = config.labels.length;
  const fromOnnx = texts.map((_, b) => {
    const row = Array.from(logits.subarray(b * C, (b + 1) * C));
    const z = row.map((v) => Math.exp(v - Math.max(...row)));
    const best = z.indexOf(Math.max(...z));
    return `${config.labels[best]}\t${(z[best] / z.reduce((a, x) => a + x, 0)).toFixed(4)}`;
  });
  assert.deepEqual(fromOnnx, p.stdout.trim().split('\n'));
});

/**
 * A reversal encoder–decoder trained by `seq2seq train` with `flags` (seed `seed` for the data), exported to
 * `out` (in its directory), and `seq2seq decode`'s greedy lines for three sources.
 */
function reversalCheckpoint(seed: number, flags: string[], out: string) {
  const dir = tempDir();
  const data = join(dir, 'pairs.tsv');
  const rng = new Rng(seed);
  writeFileSync(data, Array.from({ length: 80 }, () => {
    const w = Array.from({ length: 2 + rng.int(3) }, () => 'abcd'[rng.int(4)]);
    return `${w.join('')}\t${[...w].reverse().join('')}`;
  }).join('\n') + '\n');
  const run = join(dir, 's2s');
  const t = runCli(['seq2seq', 'train', '--data', data, ...flags, '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const exported = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, out)]);
  assert.equal(exported.code, 0, exported.stderr);
  const sources = ['abc', 'dd', 'cab'];
  writeFileSync(join(dir, 'src.txt'), sources.join('\n') + '\n');
  const d = runCli(['seq2seq', 'decode', '--checkpoint', run, '--data', join(dir, 'src.txt'), '--max-length', '6']);
  assert.equal(d.code, 0, d.stderr);
  return { dir, exported, sources, decoded: d.stdout.trim().split('\n'), config: JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) };
}

/**
 * The greedy loop a caller of the exported graphs writes, up to 6 tokens per source: `begin` runs the
 * encoder over a source's ids, `step` the decoder on the previous token. Lines as `seq2seq decode` prints them.
 */
async function onnxGreedy<S>(sources: string[], config: { srcVocab: string[]; tgtVocab: string[]; model: { bos: number; eos: number } },
  begin: (ids: number[]) => Promise<S>, step: (state: S, prev: number, ids: number[]) => Promise<{ logits: Float32Array; next: S }>): Promise<string[]> {
  const lines: string[] = [];
  for (const s of sources) {
    const ids = [...s].map((ch) => config.srcVocab.indexOf(ch));
    let state: S = await begin(ids);
    let prev = config.model.bos;
    const out: string[] = [];
    for (let k = 0; k < 6; k++) {
      const { logits, next } = await step(state, prev, ids);
      const row = Array.from(logits);
      prev = row.indexOf(Math.max(...row));
      if (prev === config.model.eos) break;
      out.push(config.tgtVocab[prev]);
      state = next;
    }
    lines.push(`${s}\t${out.join('')}`);
  }
  assert.ok(lines.some((l) => l.split('\t')[1].length >= 2), `decoding should produce tokens: ${JSON.stringify(lines)}`);
  return lines;
}

test('export an encoder–decoder: FILE-encoder.onnx and FILE-decoder.onnx, whose greedy loop decodes as seq2seq decode', async () => {
  const { dir, exported, sources, decoded, config } = reversalCheckpoint(2, ['--model', 'lstm', '--hidden', '10', '--bidirectional', '--attention', 'bahdanau',
    '--steps', '20', '--lr', '3e-2', '--eval-every', '20'], 's2s'); // no .onnx: the stem is the name
  assert.ok(existsSync(join(dir, 's2s-encoder.onnx')) && existsSync(join(dir, 's2s-decoder.onnx')), exported.stdout);
  const enc = await session(readFileSync(join(dir, 's2s-encoder.onnx')));
  const dec = await session(readFileSync(join(dir, 's2s-decoder.onnx')));
  type State = { e: Record<string, ort.Tensor>; h: ort.Tensor; c: ort.Tensor };
  const lines = await onnxGreedy<State>(sources, config, async (ids) => {
    const e = await enc.run({ src: int64(ids, [1, ids.length]), src_lengths: int64([ids.length], [1]) });
    return { e, h: e.h, c: e.c };
  }, async ({ e, h, c }, prev, ids) => {
    const o = await dec.run({ token: int64([prev], [1]), h, c, memory: e.memory, memory_keys: e.memory_keys, src_lengths: int64([ids.length], [1]) });
    const logits = o.logits.data as Float32Array;
    assert.equal(logits.length, config.model.tgtVocabSize);
    return { logits, next: { e, h: o.h_out, c: o.c_out } };
  });
  assert.deepEqual(lines, decoded);
});

test('export a Transformer encoder–decoder: FILE-encoder.onnx and FILE-decoder.onnx, whose greedy loop decodes as seq2seq decode', async () => {
  const { dir, exported, sources, decoded, config } = reversalCheckpoint(3, ['--arch', 'transformer', '--width', '16', '--heads', '2', '--layers', '2', '--ff', '32',
    '--dropout', '0', '--steps', '40', '--lr', '1e-2', '--eval-every', '40'], 's2s.onnx');
  assert.match(exported.stdout, /s2s-encoder\.onnx  encoder graph, [\d.]+ KiB\n.*s2s-decoder\.onnx  decoder graph/s);
  const enc = await session(readFileSync(join(dir, 's2s-encoder.onnx')));
  const dec = await session(readFileSync(join(dir, 's2s-decoder.onnx')));
  // The encoder's outputs are the decoder's inputs: its memory keys and values, and the empty caches to start from.
  const names = Array.from({ length: config.model.numDecoderLayers as number }, (_, l) => ['key', 'value'].flatMap((kv) => [`memory_${kv}_${l}`, `past_${kv}_${l}`])).flat();
  const lines = await onnxGreedy<Record<string, ort.Tensor>>(sources, config, async (ids) => {
    const e = await enc.run({ src: int64(ids, [1, ids.length]), src_lengths: int64([ids.length], [1]) });
    return Object.fromEntries(names.map((n) => [n, e[n]]));
  }, async (feeds, prev, ids) => {
    const o = await dec.run({ token: int64([prev], [1]), ...feeds, src_lengths: int64([ids.length], [1]) });
    const next = { ...feeds };
    for (const n of names) if (n.startsWith('past')) next[n] = o[n.replace('past', 'present')];
    return { logits: o.logits.data as Float32Array, next };
  });
  assert.deepEqual(lines, decoded);
});

test('onnxFileNames: one graph is FILE, several are FILE\'s stem and each role', () => {
  const g = (name: string) => ({ name, bytes: new Uint8Array() });
  assert.deepEqual(onnxFileNames('a/clf.onnx', [g('classifier')]), ['a/clf.onnx']);
  assert.deepEqual(onnxFileNames('a/lm.onnx', [g('step'), g('sequence')]), ['a/lm-step.onnx', 'a/lm-sequence.onnx']);
  assert.deepEqual(onnxFileNames('m', [g('encoder'), g('decoder')]), ['m-encoder.onnx', 'm-decoder.onnx']);
});

test('what cannot be exported is one line naming it', () => {
  const dir = tempDir();
  assertOneLineError(runCli(['export', '--format', 'onnx', '--out', 'x.onnx']), /export needs --checkpoint DIR/, 2);
  assertOneLineError(runCli(['export', '--checkpoint', dir, '--out', 'x.onnx']), /export needs --format onnx/, 2);
  assertOneLineError(runCli(['export', '--checkpoint', dir, '--format', 'tflite', '--out', 'x']), /unknown --format "tflite" \(choose one of: onnx\)/, 2);
  assertOneLineError(runCli(['export', '--checkpoint', dir, '--format', 'onnx']), /export needs --out FILE/, 2);
  assertOneLineError(runCli(['export', '--checkpoint', join(dir, 'nope'), '--format', 'onnx', '--out', 'x.onnx']), /checkpoint directory .*nope does not exist/);
  assertOneLineError(runCli(['export', '--checkpoint', dir, '--format', 'onnx', '--out', 'x.onnx']), /is not a checkpoint \(no config\.json\)/);

  const ckpt = (name: string, config: object, model?: Uint8Array): string => {
    const d = join(dir, name);
    mkdirSync(d);
    writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    if (model !== undefined) writeFileSync(join(d, 'model.safetensors'), model);
    return d;
  };
  const out = join(dir, 'x.onnx');
  // A kind of model with no exporter (a format recurrent does not know).
  const future = ckpt('future', { format: 'recurrent-transformer/1' }, new Uint8Array());
  assertOneLineError(runCli(['export', '--checkpoint', future, '--format', 'onnx', '--out', out]), /cannot export .*future to ONNX: its model \(format "recurrent-transformer\/1"\) has no ONNX exporter/);
  const lm = { format: 'recurrent-language-model/1', model: { cell: 'lstm', vocabSize: 3, hiddenSize: 4, numLayers: 1, dropout: 0 }, vocab: ['a', 'b', 'c'] };
  assertOneLineError(runCli(['export', '--checkpoint', ckpt('noweights', lm), '--format', 'onnx', '--out', out]), /cannot read .*noweights\/model\.safetensors: it does not exist/);
  assertOneLineError(runCli(['export', '--checkpoint', ckpt('truncated', lm, new Uint8Array([1, 2, 3])), '--format', 'onnx', '--out', out]), /truncated\/model\.safetensors/);
  const wrong = encodeSafetensors(new Map([['embedding.weight', { dtype: 'F32' as const, shape: [3, 5], data: new Float32Array(15) }]]), {});
  assertOneLineError(runCli(['export', '--checkpoint', ckpt('mismatch', lm, wrong), '--format', 'onnx', '--out', out]), /mismatch\/model\.safetensors does not match .*config\.json: .*embedding\.weight/);
  const badCell = { ...lm, model: { ...lm.model, cell: 'transformer' } };
  assertOneLineError(runCli(['export', '--checkpoint', ckpt('badcell', badCell, wrong), '--format', 'onnx', '--out', out]), /badcell\/config\.json describes a model that cannot be built: .*cell must be one of/);
  assert.ok(!existsSync(out), 'nothing is written on an error');

  // From code: bytes in, the same one-line errors; a model class with no exporter is named.
  assert.throws(() => checkpointToOnnx({ config: new TextEncoder().encode('{"format": "recurrent-transformer/1"}'), model: new Uint8Array() }, 'mine'), /^Error: cannot export mine to ONNX/);
  const tagger = new SequenceTagger({ cell: 'gru', vocabSize: 4, hiddenSize: 3, numTags: 2 }, new Rng(1));
  assert.throws(() => toOnnx(tagger), /cannot export a SequenceTagger to ONNX: the exportable models are LanguageModel, TransformerLanguageModel, SequenceClassifier, BagOfWordsClassifier, Seq2Seq, TransformerSeq2Seq, Captioner and VqaModel/);
  tagger.dispose();
});
