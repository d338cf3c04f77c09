// Which models go to ONNX and how: a model object (toOnnx) or a checkpoint's config.json and
// model.safetensors as bytes (checkpointToOnnx), each to its graphs, and where a command writes them
// (onnxFileNames). Bytes in, bytes out, so it runs in browsers; reading and writing files is the CLI's.
// Anything else — a checkpoint of another kind, a model class with no exporter — is a one-line error
// naming what cannot be exported.

import { BagOfWordsClassifier } from '../nn/bag-of-words-classifier.js';
import { Captioner } from '../nn/captioner.js';
import { LanguageModel } from '../nn/language-model.js';
import type { Module } from '../nn/module.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import { Seq2Seq } from '../nn/seq2seq.js';
import { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import { TransformerSeq2Seq } from '../nn/transformer-seq2seq.js';
import { VqaModel } from '../nn/vqa-model.js';
import { Rng } from '../random/rng.js';
import { CAPTIONER_FORMAT, captionerFromConfig, type CaptionerCheckpointConfig } from '../tasks/captioning.js';
import { BOW_CLASSIFIER_FORMAT, CHAR_CLASSIFIER_FORMAT, classifierFromConfig, type ClassifierCheckpointConfig } from '../tasks/classifier.js';
import { LANGUAGE_MODEL_FORMAT, languageModelFromConfig, type LanguageModelCheckpointConfig } from '../tasks/language-model.js';
import { SEQ2SEQ_FORMAT, seq2seqModelFromConfig, type Seq2SeqCheckpointConfig } from '../tasks/seq2seq.js';
import { VQA_FORMAT, vqaFromConfig, type VqaCheckpointConfig } from '../tasks/vqa.js';
import { checkpointPath, loadCheckpointWeights, parseCheckpointConfig } from '../train/checkpoint-files.js';
import { captionerToOnnx } from './captioner-onnx.js';
import { bagOfWordsToOnnx, sequenceClassifierToOnnx } from './classifier-onnx.js';
import type { OnnxGraph } from './layers.js';
import { languageModelToOnnx } from './language-model-onnx.js';
import { seq2seqToOnnx } from './seq2seq-onnx.js';
import { transformerLanguageModelToOnnx } from './transformer-language-model-onnx.js';
import { transformerSeq2seqToOnnx } from './transformer-seq2seq-onnx.js';
import { vqaToOnnx } from './vqa-onnx.js';

export type { OnnxGraph };

/** The checkpoint formats that export, with what each becomes. */
export const ONNX_EXPORTS = {
  [LANGUAGE_MODEL_FORMAT]: 'a language model, recurrent or Transformer: step and sequence graphs',
  [CHAR_CLASSIFIER_FORMAT]: 'a recurrent classifier: one graph',
  [BOW_CLASSIFIER_FORMAT]: 'a bag-of-words classifier: one graph',
  [SEQ2SEQ_FORMAT]: 'an encoder–decoder, recurrent or Transformer: encoder and decoder-step graphs',
  [CAPTIONER_FORMAT]: 'a captioner: image-encoder and decoder-step graphs',
  [VQA_FORMAT]: 'a VQA model: one graph',
} as const;
export const onnxExportFormats = Object.keys(ONNX_EXPORTS);

/**
 * A model's ONNX graphs: LanguageModel and TransformerLanguageModel → [step, sequence], SequenceClassifier and BagOfWordsClassifier →
 * [classifier], Seq2Seq, TransformerSeq2Seq and Captioner → [encoder, decoder], VqaModel → [vqa]. `config` (a checkpoint's
 * config.json) goes into each graph's metadata as `recurrent.config`, so the vocabulary travels with the graph.
 */
export function toOnnx(model: Module, config: object | null = null): OnnxGraph[] {
  if (model instanceof LanguageModel) return languageModelToOnnx(model, config);
  if (model instanceof TransformerLanguageModel) return transformerLanguageModelToOnnx(model, config);
  if (model instanceof SequenceClassifier) return sequenceClassifierToOnnx(model, config);
  if (model instanceof BagOfWordsClassifier) return bagOfWordsToOnnx(model, config);
  if (model instanceof Seq2Seq) return seq2seqToOnnx(model, config);
  if (model instanceof TransformerSeq2Seq) return transformerSeq2seqToOnnx(model, config);
  if (model instanceof Captioner) return captionerToOnnx(model, config);
  if (model instanceof VqaModel) return vqaToOnnx(model, config);
  throw new Error(`cannot export a ${model?.constructor?.name ?? String(model)} to ONNX: the exportable models are LanguageModel, TransformerLanguageModel, SequenceClassifier, BagOfWordsClassifier, Seq2Seq, TransformerSeq2Seq, Captioner and VqaModel`);
}

/** The model a checkpoint's parsed config.json describes (weights not loaded); errors name `configPath`. */
export function modelFromCheckpointConfig(config: { format: string }, configPath: string): { model: Module } {
  switch (config.format) {
    case LANGUAGE_MODEL_FORMAT:
      return languageModelFromConfig(config as LanguageModelCheckpointConfig, configPath, new Rng(0));
    case CHAR_CLASSIFIER_FORMAT:
    case BOW_CLASSIFIER_FORMAT:
      return classifierFromConfig(config as ClassifierCheckpointConfig, configPath);
    case SEQ2SEQ_FORMAT:
      return seq2seqModelFromConfig(config as Seq2SeqCheckpointConfig, configPath);
    case CAPTIONER_FORMAT:
      return captionerFromConfig(config as CaptionerCheckpointConfig, configPath);
    case VQA_FORMAT:
      return vqaFromConfig(config as VqaCheckpointConfig, configPath);
    default:
      throw new Error(`${configPath}: format ${JSON.stringify(config.format)} cannot be exported to ONNX (exportable: ${onnxExportFormats.join(', ')})`);
  }
}

/** The checkpoint kinds parseCheckpointConfig names in its error. */
export const EXPORTABLE_WHAT = 'recurrent model (language model, classifier, encoder–decoder, captioner or VQA model)';

/**
 * A checkpoint's graphs from its files' bytes: config.json and model.safetensors (`where` names the
 * checkpoint in errors). Every failure is one line naming the file and what is wrong with it.
 */
export function checkpointToOnnx(files: { config: Uint8Array; model: Uint8Array }, where = 'checkpoint'): OnnxGraph[] {
  const configPath = checkpointPath(where, 'config.json');
  let format: unknown = null;
  try {
    format = (JSON.parse(new TextDecoder().decode(files.config)) as { format?: unknown } | null)?.format;
  } catch {
    // not JSON: parseCheckpointConfig says so, naming the file
  }
  if (typeof format === 'string' && !onnxExportFormats.includes(format)) {
    throw new Error(`cannot export ${where} to ONNX: its model (format ${JSON.stringify(format)}) has no ONNX exporter (exportable: ${onnxExportFormats.join(', ')})`);
  }
  const config = parseCheckpointConfig<{ format: string }>(files.config, configPath, onnxExportFormats, EXPORTABLE_WHAT);
  const { model } = checkedModel(() => modelFromCheckpointConfig(config, configPath), configPath);
  loadCheckpointWeights(model, files.model, checkpointPath(where, 'model.safetensors'), configPath);
  try {
    return toOnnx(model.eval(), config);
  } finally {
    model.dispose();
  }
}

/** A model constructor's complaint about a config (an unknown cell, a bad size) said as the config's. */
function checkedModel<M>(build: () => M, configPath: string): M {
  try {
    return build();
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith(configPath) ? m : `${configPath} describes a model that cannot be built: ${m}`);
  }
}

/**
 * Where the graphs of one export go, from `out`: a single graph is `out` itself; several are `out`
 * without its `.onnx`, a dash, the graph's role and `.onnx` (lm.onnx → lm-step.onnx, lm-sequence.onnx).
 */
export function onnxFileNames(out: string, graphs: readonly OnnxGraph[]): string[] {
  if (graphs.length === 1) return [out];
  const stem = out.replace(/\.onnx$/i, '');
  return graphs.map((g) => `${stem}-${g.name}.onnx`);
}
