// The library example of the README, run as written (imports from the public entry point).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  LanguageModel, Vocabulary, StreamBatcher, Rng, createOptimizer, optimizerStep, clipGradNorm,
  crossEntropy, backward, tidy, generateText, Tensor, classifierTask, seq2seqTask, trainTask, greedyDecode,
  languageModelTask, cellActivations, rankCells, textFeature, regexFeature, cellsOnSpan, gateSaturation, gradientFlow,
} from '../src/index.js';
import { checkpointDirectory, readTextFile } from '../src/node.js';

test('README library example: build a model, train a few steps, sample', () => {
  // --- README example begins ---
  const text = 'hello world, hello recurrent world\n'.repeat(100);
  const vocab = Vocabulary.fromText(text);
  const rng = new Rng(1);
  const model = new LanguageModel({ cell: 'lstm', vocabSize: vocab.size, hiddenSize: 32, numLayers: 1, dropout: 0 }, rng);
  const params = model.namedParameters(); // [['embedding.weight', Tensor], ['rnn.weight_ih_l0', Tensor], ...]
  const optim = createOptimizer('adam', params, { lr: 1e-2 });
  const T = 16, B = 8;
  const batches = new StreamBatcher(vocab.encode(text), B, T); // B contiguous streams, T characters a step
  let loss = 0;
  for (let step = 0; step < 150; step++) {
    const { inputs, targets } = batches.batch(step); // (T, B) ids and next-character targets
    loss = tidy(() => {
      const { logits } = model.forward(inputs, T, B, null); // (T*B, V); null = zero initial state
      const l = crossEntropy(logits, targets);
      backward(l);
      return l.item(); // every tensor made inside tidy is freed here
    });
    clipGradNorm(params, 5);
    optimizerStep(optim, params);
    model.zeroGrad();
  }
  const sample = generateText(model, vocab, { length: 40, prime: 'hello', temperature: 0.5 }, rng);
  // --- README example ends ---
  assert.ok(loss < 0.5, `loss ${loss}`);
  assert.ok(sample.startsWith('hello') && sample.length === 45);
  assert.match(sample, /world/);
});

test('README library example: a bidirectional LSTM over variable-length sequences', async () => {
  const { LSTM } = await import('../src/index.js');
  const rng = new Rng(42);
  const lstm = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true }, rng);
  const x = Tensor.from(Array.from({ length: 5 * 3 * 8 }, () => rng.normal()), [5, 3, 8]); // (T, B, D)
  const { output, h, c } = lstm.forward(x, { lengths: [5, 3, 2] });
  assert.deepEqual(output.shape, [5, 3, 32]);
  assert.deepEqual(h.shape, [4, 3, 16]);
  assert.deepEqual(c!.shape, [4, 3, 16]);
});

test('README seq2seq example: learns to reverse digits; greedy, beam search and an ensemble decode', async () => {
  const { Seq2Seq, teacherForcingProbability, greedyDecode, beamSearch } = await import('../src/index.js');
  // --- README example begins ---
  const rng = new Rng(12);
  const model = new Seq2Seq({ cell: 'gru', srcVocabSize: 10, tgtVocabSize: 12, embeddingSize: 16, hiddenSize: 32,
    attention: 'bahdanau', bidirectional: true, bos: 10, eos: 11 }, rng);
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 1e-2 });
  for (let step = 0; step < 200; step++) {
    const src = Array.from({ length: 16 }, () => Array.from({ length: 2 + rng.int(4) }, () => rng.int(10)));
    const tgt = src.map((s) => [...s].reverse()); // targets without bos/eos: eos is appended
    const eps = teacherForcingProbability({ kind: 'linear', k: 1, c: 1 / 200, min: 0.75 }, step);
    tidy(() => backward(model.forward({ src, tgt }, { teacherForcing: eps, feedback: 'argmax', rng }).loss));
    clipGradNorm(params, 5);
    optimizerStep(optim, params);
    model.zeroGrad();
  }
  const greedy = greedyDecode(model, [[1, 2, 3]], { maxLength: 8 });
  const beams = beamSearch([model, model], [1, 2, 3], { beamWidth: 5, maxLength: 8, nBest: 3 });
  // --- README example ends ---
  assert.deepEqual(greedy[0].tokens, [3, 2, 1]);
  assert.equal(beams.length, 3);
  assert.deepEqual(beams[0].tokens, [3, 2, 1]);
  assert.ok(beams[0].score >= beams[1].score && beams[1].score >= beams[2].score);
});

test('README one-to-many example: a vector-conditioned generator spells the number it is given', async () => {
  const { ConditionedGenerator, greedyDecode, beamSearch, sampleDecode } = await import('../src/index.js');
  // --- README example begins ---
  const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  const letters = [...new Set(names.join(''))].sort(); // token ids 2.. (0 = bos, 1 = eos)
  const code = (n: number): number[] => [0, 1, 2, 3].map((k) => ((n >> k) & 1 ? 1 : -1)); // the vector: n's bits as ±1
  const rng = new Rng(1);
  const model = new ConditionedGenerator({ cell: 'lstm', vectorSize: 4, vocabSize: 2 + letters.length, embeddingSize: 8,
    hiddenSize: 32, conditioning: 'both', bos: 0, eos: 1 }, rng); // 'init' | 'every-step' | 'both'
  const params = model.namedParameters();
  const optim = createOptimizer('adam', params, { lr: 2e-2 });
  for (let step = 0; step < 150; step++) {
    const ns = Array.from({ length: 16 }, () => rng.int(10));
    const tgt = ns.map((n) => [...names[n]].map((ch) => 2 + letters.indexOf(ch))); // eos is appended
    tidy(() => backward(model.forward({ vectors: ns.map(code), tgt }).loss));
    clipGradNorm(params, 5);
    optimizerStep(optim, params);
    model.zeroGrad();
  }
  const spell = (ids: number[]): string => ids.map((i) => letters[i - 2]).join('');
  const greedy = greedyDecode(model, [code(3), code(7)], { maxLength: 8 }).map((h) => spell(h.tokens)); // ['three', 'seven']
  const [best] = beamSearch([model, model], code(8), { beamWidth: 4, maxLength: 8 }); // an ensemble decodes too
  const sampled = sampleDecode(model, [code(5)], { maxLength: 8, temperature: 0.5 }, rng);
  // --- README example ends ---
  assert.deepEqual(greedy, ['three', 'seven']);
  assert.equal(spell(best.tokens), 'eight');
  assert.equal(sampled.length, 1);
});

test('README library example: a classifier and an encoder–decoder trained with checkpoints and resumed, through the engine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recurrent-readme-'));
  const rng = new Rng(5);
  const digits = (): string => Array.from({ length: 3 + rng.int(5) }, () => rng.int(10)).join('');
  writeFileSync(join(dir, 'sevens.tsv'), Array.from({ length: 300 }, () => digits()).map((d) => `${d.includes('7') ? 'seven' : 'none'}\t${d}`).join('\n') + '\n');
  const words = ['abc', 'bca', 'cab', 'aab', 'bba', 'ccb', 'acb', 'ba'];
  writeFileSync(join(dir, 'pairs.tsv'), words.flatMap((x) => words.map((y) => `${x}${y}\t${[...`${x}${y}`].reverse().join(' ')}`)).join('\n') + '\n');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const log: string[] = [];
    const console = { log: (...xs: unknown[]) => log.push(xs.join(' ')) };
    // --- README example begins ---
    // A classifier of "label<TAB>text" lines, checkpointed in runs/sevens every 100 steps and at the end.
    const sevens = classifierTask(readTextFile('sevens.tsv'), 'sevens.tsv', { cell: 'gru', hiddenSize: 24, bidirectional: true, pool: 'max' });
    const first = await trainTask(sevens, { steps: 200, lr: 1e-2, evalEvery: 100 }, {
      store: checkpointDirectory('runs/sevens'), // the command line's format, locked while it trains
      onEvent: (e) => { if (e.kind === 'eval') console.log(`step ${e.record.step}: val accuracy ${e.record.valAccuracy}`); },
    });
    first.task.model.dispose();
    // Later, in another process even: continue the same run to 300 steps, exactly where it stopped.
    const more = await trainTask(sevens, { steps: 300, lr: 1e-2, evalEvery: 100, resume: true }, { store: checkpointDirectory('runs/sevens') });
    const last = more.evaluations.at(-1)!; // { step: 300, tokens, trainLoss, valLoss, valAccuracy, lr, tokensPerSec, elapsedSec }

    // An encoder–decoder on "source<TAB>target" lines: attention, scheduled sampling, a moving average of the weights.
    const reverse = seq2seqTask(readTextFile('pairs.tsv'), 'pairs.tsv', {
      tgtSplit: 'space', batchSize: 16, teacherForcing: { kind: 'linear', k: 1, c: 1e-3, min: 0.8 },
      model: { cell: 'gru', hiddenSize: 32, bidirectional: true, attention: 'luong-general' },
    });
    const run = await trainTask(reverse, { steps: 300, lr: 1e-2, ema: 0.95, evalEvery: 100 }, { store: checkpointDirectory('runs/reverse') });
    const { model, src, tgt } = run.task; // the model holds what the checkpoint ships: the average
    const [hyp] = greedyDecode(model, [src.encode([...'cabba'], 'the source')], { maxLength: 10 });
    tgt.decode(hyp.tokens); // ['a', 'b', 'b', 'a', 'c']
    // --- README example ends ---
    assert.deepEqual(log.map((l) => l.split(':')[0]), ['step 100', 'step 200']);
    assert.equal(last.step, 300);
    assert.ok((last.valAccuracy as number) >= 0.9, `accuracy ${last.valAccuracy}`);
    assert.deepEqual(readFileSync(join(dir, 'runs/sevens/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), [100, 200, 300]);
    assert.deepEqual(tgt.decode(hyp.tokens), ['a', 'b', 'b', 'a', 'c']);
    more.task.model.dispose();
    model.dispose();
  } finally {
    process.chdir(cwd);
  }
});

test('README analysis example: a quote cell found, a regular expression, the span select, gate saturation, gradient flow', async () => {
  // --- README example begins ---
  // A text where quotes decide the case: an LSTM that predicts it well must keep track of them.
  const rng = new Rng(5);
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'said', 'dog'];
  const pick = () => words[rng.int(words.length)];
  let text = '';
  while (text.length < 20_000) text += `${pick()} ${pick()} ${pick()} "${pick().toUpperCase()} ${pick().toUpperCase()}" `;
  const { task } = await trainTask(languageModelTask(text, 'quotes.txt', { cell: 'lstm', hiddenSize: 16, numLayers: 1, seqLength: 32, batchSize: 16 }), { steps: 200, lr: 1e-2 });
  const { model, vocab } = task;
  const probe = text.slice(0, 3000);
  const acts = cellActivations(model, vocab, probe, { gates: true }); // after each character: every layer's h, tanh(c), σ gates
  const [best] = rankCells(acts, textFeature(probe, 'quotes'), 1);   // e.g. { layer: 0, signal: 'tanh_c', unit: 14, r: 0.99 }
  const mats = rankCells(acts, regexFeature(probe, '\\bmat\\b'), 5); // the five cells that best track a regular expression
  const on = cellsOnSpan(acts, 120, 140, 0.5);  // LSTMVis: the cells on across characters 120–139, the most specific first
  const saturation = gateSaturation(acts);      // per layer and gate (i, f, o): each unit's fraction of time < 0.1 and > 0.9
  const flow = gradientFlow(model, vocab, probe, new Rng(1), { length: 100, windows: 32 }); // ‖∂ℓ/∂h_k‖ per layer, k = 0..99
  // --- README example ends ---
  assert.ok(Math.abs(best.r) >= 0.8, `best quote cell ${JSON.stringify(best)}`);
  assert.equal(mats.length, 5);
  assert.ok(on.every((c) => c.least >= 0.5));
  assert.deepEqual(saturation.map((s) => s.gate), ['i', 'f', 'o']);
  assert.equal(flow.h[0].length, 100);
  model.dispose();
});

test('README Transformer example: a PyTorch TransformerEncoderLayer state_dict loads as it is and gives PyTorch\'s output', async () => {
  const { TransformerEncoderLayer, decodeSafetensors, encodeSafetensors, noGrad } = await import('../src/index.js');
  const { fixturesDir } = await import('./util/fixtures.js');
  // A state_dict as PyTorch saves it: the fixture of this very layer (nn.TransformerEncoderLayer), without its test tensors.
  const fixture = decodeSafetensors(readFileSync(join(fixturesDir(), 'transformer', 'encoder-pre-gelu-bf-causal.safetensors')));
  const stateDict = new Map([...fixture.tensors].filter(([k]) => !/^(input|mask|upstream|expected|grad)\./.test(k)));
  const dir = mkdtempSync(join(tmpdir(), 'recurrent-readme-'));
  writeFileSync(join(dir, 'layer.safetensors'), encodeSafetensors(stateDict));
  const inputs = fixture.tensors.get('input.src')!.data as Float32Array;
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    // --- README example begins ---
    // In PyTorch: layer = nn.TransformerEncoderLayer(12, 3, dim_feedforward=16, activation='gelu', batch_first=True, norm_first=True)
    //             safetensors.torch.save_file(layer.state_dict(), 'layer.safetensors')
    const layer = new TransformerEncoderLayer({ dModel: 12, nhead: 3, dimFeedforward: 16, activation: 'gelu', batchFirst: true, normFirst: true }, new Rng(0));
    layer.loadStateDict(decodeSafetensors(readFileSync('layer.safetensors')).tensors); // self_attn.in_proj_weight, ..., norm2.bias
    layer.eval(); // dropout (0.1 by default, as PyTorch's) only trains
    const x = Tensor.from(inputs, [2, 5, 12]); // (B, T, E): 120 numbers
    const y = noGrad(() => layer.forward(x, { isCausal: true })); // (B, T, E): PyTorch's layer(x, src_mask=generate_square_subsequent_mask(5))
    // --- README example ends ---
    const want = fixture.tensors.get('expected.output')!.data as Float32Array;
    assert.deepEqual(y.shape, [2, 5, 12]);
    want.forEach((w, i) => assert.ok(Math.abs(y.data[i] - w) < 1e-5, `output[${i}] ${y.data[i]}, PyTorch ${w}`));
    layer.dispose();
  } finally {
    process.chdir(cwd);
  }
});

test('README captioning example: a captioner trained from code on scenes drawn in memory; its words and their attention', async () => {
  const { captioningTask, captionImages, randomScene, renderScene, sceneCaptions } = await import('../src/index.js');
  // --- README example begins ---
  // Scenes drawn in memory: each image's pixels (3, H, W) as bytes, its captions as words, and the scene itself.
  const scenes = (n: number, rng: Rng) => Array.from({ length: n }, () => {
    const scene = randomScene(rng); // 64×64, one to four objects
    const rgb = renderScene(scene); // (H, W, 3)
    const pixels = new Uint8Array(rgb.length);
    for (let i = 0; i < 64 * 64; i++) for (let c = 0; c < 3; c++) pixels[c * 64 * 64 + i] = rgb[i * 3 + c]; // (3, H, W)
    return { pixels, captions: sceneCaptions(scene, rng).map((c) => c.words), scene };
  });
  const rng = new Rng(3);
  const train = { name: 'scenes', width: 64, height: 64, images: scenes(64, rng) };
  const val = { name: 'validation', width: 64, height: 64, images: scenes(8, rng) };
  const definition = captioningTask(train, val, {
    batchSize: 16, evalImages: 8, penalty: 1, // λ of the doubly stochastic attention penalty (Xu et al.'s 1; the default is 0, see the results below)
    model: { attention: 'soft', encoderChannels: [4, 8, 8], hiddenSize: 32, embeddingSize: 16 }, // a 3-stage CNN: an 8×8 grid
  });
  const { task, evaluations } = await trainTask(definition, { steps: 40, lr: 3e-3, evalEvery: 20 });
  const [hyp] = captionImages([task.model], val.images.slice(0, 1), { beam: 1, maxLength: 25 });
  const words = task.vocab.decode(hyp.tokens); // e.g. ['a', 'small', 'red', ...]
  const alpha = hyp.weights!; // per word (eos last): its attention over the 64 grid cells
  // --- README example ends ---
  assert.ok(evaluations[1].valLoss! < evaluations[0].valLoss!, `val loss ${evaluations[0].valLoss} → ${evaluations[1].valLoss}`);
  assert.equal(alpha.length, words.length + (hyp.finished ? 1 : 0));
  assert.equal(alpha[0].length, 64);
  task.model.dispose();
});
