// Writes one exported graph for every shape the ONNX tests run (each cell kind, layers, bidirectional,
// every pooling, the bag of words' features, every attention kind, bridged encoders, input feeding, the
// Transformer language model tied and untied, the Transformer encoder–decoder post-norm and pre-norm, relu and
// gelu, sinusoidal and learned positions, tied and untied, the captioner with and without attention and CNN,
// VQA with and without the image) into a directory, for scripts/check-onnx.py (onnx.checker, from Debian's
// python3-onnx) to check: `npm run test:onnx-checker`. Untrained weights: the checker reads structure and types, not values.
//   node dist/scripts/write-onnx-samples.js DIR

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BagOfWordsClassifier, bowFeatureKinds } from '../src/nn/bag-of-words-classifier.js';
import { Captioner, captionerAttentionKinds } from '../src/nn/captioner.js';
import { LanguageModel } from '../src/nn/language-model.js';
import type { Module } from '../src/nn/module.js';
import { cellKinds } from '../src/nn/recurrent/index.js';
import { SequenceClassifier, poolKinds } from '../src/nn/sequence-classifier.js';
import { Seq2Seq, seq2seqAttentionKinds } from '../src/nn/seq2seq.js';
import { TransformerLanguageModel } from '../src/nn/transformer-language-model.js';
import { TransformerSeq2Seq } from '../src/nn/transformer-seq2seq.js';
import { VqaModel } from '../src/nn/vqa-model.js';
import { toOnnx } from '../src/onnx.js';
import { Rng } from '../src/random/rng.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: node dist/scripts/write-onnx-samples.js DIR');
mkdirSync(dir, { recursive: true });
const rng = new Rng(1);
let n = 0;
const write = (name: string, model: Module): void => {
  for (const g of toOnnx(model.eval())) {
    writeFileSync(join(dir, `${name}-${g.name}.onnx`), g.bytes);
    n++;
  }
  model.dispose();
};
for (const cell of cellKinds) {
  const readsX = cell === 'mut1' || cell === 'mut2';
  write(`lm-${cell}`, new LanguageModel({ cell, vocabSize: 7, hiddenSize: 4, numLayers: 2, dropout: 0 }, rng));
  for (const pool of poolKinds) {
    write(`clf-${cell}-${pool}`, new SequenceClassifier({ cell, vocabSize: 7, hiddenSize: 4, numLayers: readsX ? 1 : 2, bidirectional: true, numClasses: 3, pool }, rng));
  }
  write(`s2s-${cell}`, new Seq2Seq({ cell, srcVocabSize: 6, tgtVocabSize: 8, embeddingSize: 4, hiddenSize: 4, numLayers: 2, attention: 'luong-general', bos: 0, eos: 1 }, rng));
}
for (const features of bowFeatureKinds) write(`bow-${features}`, new BagOfWordsClassifier({ vocabSize: 9, numClasses: 2, features }, rng));
for (const attention of seq2seqAttentionKinds) {
  for (const cell of ['lstm', 'gru_cho'] as const) {
    write(`s2s-${attention}-${cell}-bidirectional`, new Seq2Seq({
      cell, srcVocabSize: 6, tgtVocabSize: 8, embeddingSize: 4, hiddenSize: 4, bidirectional: true, attention, bos: 0, eos: 1,
      ...(attention === 'luong-dot' ? { encoderHiddenSize: 2 } : {}), ...(attention.startsWith('luong') ? { inputFeeding: true } : {}),
    }, rng));
  }
}
write('s2s-bridged', new Seq2Seq({ cell: 'lstm', srcVocabSize: 6, tgtVocabSize: 8, embeddingSize: 4, hiddenSize: 4, encoderHiddenSize: 3, numLayers: 2, attention: 'none', bos: 0, eos: 1 }, rng));
for (const [numLayers, numHeads, tieEmbeddings] of [[1, 1, false], [2, 2, true]] as const) {
  write(`gpt-${numLayers}x${numHeads}-${tieEmbeddings ? 'tied' : 'untied'}`, new TransformerLanguageModel({
    arch: 'transformer', vocabSize: 7, dModel: 4, numLayers, numHeads, context: 5, dropout: 0, tieEmbeddings,
  }, rng));
}
for (const [normFirst, activation, positions, tieEmbeddings] of [[false, 'relu', 'sinusoidal', false], [true, 'gelu', 'learned', true]] as const) {
  write(`transformer-s2s-${normFirst ? 'pre' : 'post'}-norm-${activation}-${positions}-${tieEmbeddings ? 'tied' : 'untied'}`, new TransformerSeq2Seq({
    arch: 'transformer', srcVocabSize: 6, tgtVocabSize: 8, dModel: 4, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 6, dropout: 0,
    activation, normFirst, positions, maxLength: 5, tieEmbeddings, bos: 0, eos: 1,
  }, rng));
}
const image = { channels: 3, height: 13, width: 11 };
for (const attention of captionerAttentionKinds) {
  const caption = { vocabSize: 8, embeddingSize: 4, hiddenSize: 4, attention, bos: 0, eos: 1 };
  write(`caption-${attention}`, new Captioner({ ...caption, image, encoder: { channels: [3, 4], convsPerStage: 2 } }, rng));
  write(`caption-${attention}-grids`, new Captioner({ ...caption, gridCells: 5, annotationSize: 3 }, rng));
}
for (const withImage of [true, false]) {
  write(`vqa-${withImage ? 'image' : 'baseline'}`, new VqaModel({ vocabSize: 7, numAnswers: 3, embeddingSize: 4, hiddenSize: 4, ...(withImage ? { image, encoder: { channels: [3, 4] } } : {}) }, rng));
}
process.stdout.write(`wrote ${n} graphs to ${dir}\n`);
