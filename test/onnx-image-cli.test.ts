// `recurrent export --format onnx` of the image tasks end to end: checkpoints of `caption train` and `vqa
// train` trained by the command line, exported, and run in ONNX Runtime against the commands that read the
// same checkpoint — the captioner's two graphs driven as a greedy loop against `caption decode`, the VQA
// graph against `vqa answer` — on the PNGs of a generated dataset. The graphs' tensors against recurrent's:
// onnx-captioner.test.ts and onnx-vqa.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pngToTensorData } from '../src/data/caption-dataset.js';
import { runCli, tempDir } from './util/cli.js';
import { float, int64, session, type ort } from './util/onnx-runtime.js';

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

test('export a caption train checkpoint: FILE-encoder.onnx and FILE-decoder.onnx, whose greedy loop captions as caption decode', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  assert.equal(runCli(['caption', 'data', '--out', data, '--kinds', 'scenes', '--train', '32']).code, 0);
  const run = join(dir, 'cap');
  const t = runCli(['caption', 'train', '--data', data, '--encoder', '4,4,8', '--hidden', '16', '--embedding', '8', '--batch-size', '8', '--eval-images', '4',
    '--lr', '1e-2', '--steps', '20', '--eval-every', '20', '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'cap.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cap-encoder\.onnx  encoder graph, [\d.]+ KiB\n.*cap-decoder\.onnx  decoder graph/s);
  const maxLength = 8;
  const d = runCli(['caption', 'decode', '--checkpoint', run, '--data', data, '--split', 'test-novel', '--images', '3', '--max-length', String(maxLength), '--out', join(dir, 'pics')]);
  assert.equal(d.code, 0, d.stderr);
  const want = readFileSync(join(dir, 'pics', 'captions.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t')[1]);

  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const { bos, eos, vocabSize, image } = config.model;
  const files = readFileSync(join(data, 'scenes', 'test-novel.jsonl'), 'utf8').trim().split('\n').slice(0, 3).map((l) => join(data, 'scenes', JSON.parse(l).image as string));
  const pixels = files.flatMap((f) => Array.from(pngToTensorData(readFileSync(f), f).data));
  const n = files.length;
  const enc = await (await session(readFileSync(join(dir, 'cap-encoder.onnx')))).run({ image: float(pixels, [n, image.channels, image.height, image.width]) });
  const dec = await session(readFileSync(join(dir, 'cap-decoder.onnx')));
  const words: string[][] = files.map(() => []);
  const done = files.map(() => false);
  let state: Record<string, ort.Tensor> = { h: enc.h, c: enc.c };
  let prev = new Array<number>(n).fill(bos);
  for (let k = 0; k < maxLength && done.some((x) => !x); k++) {
    const o = await dec.run({ token: int64(prev, [n]), ...state, memory: enc.memory, memory_keys: enc.memory_keys });
    const logits = o.logits.data as Float32Array;
    prev = prev.map((_, b) => {
      const best = argmax(logits.subarray(b * vocabSize, (b + 1) * vocabSize));
      if (best === eos) done[b] = true;
      else if (!done[b]) words[b].push(config.vocab[best]);
      return best;
    });
    state = { h: o.h_out, c: o.c_out };
  }
  assert.ok(want.some((w) => w.split(' ').length >= 2), `decoding should produce words: ${JSON.stringify(want)}`);
  assert.deepEqual(words.map((w) => w.join(' ')), want);
});

test('export a vqa train checkpoint: one graph, whose answers are vqa answer\'s', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  assert.equal(runCli(['caption', 'data', '--out', data, '--kinds', 'questions', '--train', '32']).code, 0);
  const run = join(dir, 'vqa');
  const t = runCli(['vqa', 'train', '--data', data, '--encoder', '4,4,8', '--hidden', '16', '--embedding', '8', '--batch-size', '8', '--steps', '40', '--lr', '1e-2', '--eval-every', '40', '--out', run]);
  assert.equal(t.code, 0, t.stderr);
  const r = runCli(['export', '--checkpoint', run, '--format', 'onnx', '--out', join(dir, 'vqa.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vqa\.onnx  vqa graph, [\d.]+ KiB\n$/);

  // Questions of different lengths about different images, asked one by one on the command line and all at once of the graph.
  const records = readFileSync(join(data, 'questions', 'test.jsonl'), 'utf8').trim().split('\n').slice(0, 4).map((l) => JSON.parse(l));
  const asked = records.map((rec, i) => ({ file: join(data, 'questions', rec.image as string), words: rec.questions[i % rec.questions.length].words as string[] }));
  const want = asked.map(({ file, words }) => {
    const a = runCli(['vqa', 'answer', '--checkpoint', run, '--question', words.join(' '), '--image', file]);
    assert.equal(a.code, 0, a.stderr);
    return a.stdout.trim();
  });
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const { image } = config.model;
  const B = asked.length;
  const T = Math.max(...asked.map((q) => q.words.length));
  const question = asked.flatMap((q) => Array.from({ length: T }, (_, k) => (k < q.words.length ? config.vocab.indexOf(q.words[k]) : 0)));
  const pixels = asked.flatMap(({ file }) => Array.from(pngToTensorData(readFileSync(file), file).data));
  const out = await (await session(readFileSync(join(dir, 'vqa.onnx')))).run({
    image: float(pixels, [B, image.channels, image.height, image.width]), question: int64(question, [B, T]), question_lengths: int64(asked.map((q) => q.words.length), [B]),
  });
  const A = config.answers.length;
  const logits = out.logits.data as Float32Array;
  const got = asked.map((_, b) => config.answers[argmax(logits.subarray(b * A, (b + 1) * A))]);
  assert.ok(new Set(want).size >= 2, `the answers should differ: ${JSON.stringify(want)}`);
  assert.deepEqual(got, want);
});
