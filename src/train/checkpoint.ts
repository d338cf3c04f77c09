// Checkpoints of a language model, in a directory:
//   config.json          the model config, vocabulary, training options and a fingerprint of the data
//   model.safetensors    the weights under PyTorch names (loads into PyTorch with load_state_dict); with
//                        a moving average of the weights (--ema), the average: what sample and eval use
//   training.safetensors optimizer slots, the carried RNN state (with an average, the raw weights the run
//                        trains as `raw.*`), and in its metadata the step, token count, generator state,
//                        timers and the average's decay and count: everything `--resume` needs to continue exactly
// Each file is written to a temporary name, flushed, and renamed over the old one, so a crash never
// leaves a half-written file; model and training files carry their step and must agree on load.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFileSync as readSafetensorsFile, writeFileAtomicSync as writeFileAtomic } from '../io/checkpoint-file.js';
import { loadModelWeights, restoreSavedAverage, weightsToSave } from './model-weights.js';
import { encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import { Vocabulary } from '../data/vocabulary.js';
import { LanguageModel, type CarriedState, type LanguageModelConfig } from '../nn/language-model.js';
import { optimizerStateFromRecord, optimizerStateToRecord, type OptimizerState } from '../optim/optimizer.js';
import type { WeightAverage } from '../optim/weight-average.js';
import { Rng, type RngState } from '../random/rng.js';
import { Tensor, untracked } from '../tensor/tensor.js';
import type { TrainOptions } from './train-language-model.js';

export interface CheckpointConfig {
  model: LanguageModelConfig;
  vocab: string[];
  train: TrainOptions;
  data: { name: string; chars: number; hash: string };
}

export interface TrainingState {
  step: number;
  tokens: number;
  rng: Rng;
  optimizer: OptimizerState;
  carried: CarriedState | null;
  /** Sum and count of the training losses since the last multiple of evalEvery. */
  lossSum: number;
  lossCount: number;
  trainSec: number;
  elapsedSec: number;
  /** A moving average of the weights, saved as the model (the raw weights go to the training file); null or absent: none. */
  average?: WeightAverage | null;
}

const FORMAT = 'recurrent-language-model/1';

export function checkpointExists(dir: string): boolean {
  return existsSync(join(dir, 'config.json'));
}

/** A cheap fingerprint of the training text (length in characters and FNV-1a of its UTF-16 units). */
export function dataFingerprint(text: string): { chars: number; hash: string } {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return { chars: Array.from(text).length, hash: h.toString(16).padStart(8, '0') };
}

export function saveCheckpoint(dir: string, ck: { config: CheckpointConfig; model: LanguageModel; training: TrainingState }): void {
  mkdirSync(dir, { recursive: true });
  const { training: t } = ck;
  const opt = optimizerStateToRecord(t.optimizer);
  const tensors = new Map<string, NamedArray>();
  for (const [name, v] of opt.tensors) tensors.set(`optimizer.${name}`, { dtype: 'F32', shape: [...v.shape], data: v.data.slice() });
  const avg = t.average ?? null;
  const weights = weightsToSave(ck.model.namedParameters(), avg, tensors);
  if (t.carried !== null) {
    tensors.set('carried.h', { dtype: 'F32', shape: [...t.carried.h.shape], data: t.carried.h.data.slice() });
    if (t.carried.c !== null) tensors.set('carried.c', { dtype: 'F32', shape: [...t.carried.c.shape], data: t.carried.c.data.slice() });
  }
  const trainingMeta = {
    step: t.step, tokens: t.tokens, rng: t.rng.getState(), optimizer: opt.json, lossSum: t.lossSum, lossCount: t.lossCount, trainSec: t.trainSec, elapsedSec: t.elapsedSec,
    ...(avg === null ? {} : { average: { decay: avg.decay, count: avg.count } }),
  };
  const step = String(t.step);
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ format: FORMAT, ...ck.config }, null, 2) + '\n');
  writeFileAtomic(join(dir, 'training.safetensors'), encodeSafetensors(tensors, { format: FORMAT, step, training: JSON.stringify(trainingMeta) }));
  writeFileAtomic(join(dir, 'model.safetensors'), encodeSafetensors(weights, { format: FORMAT, step }));
}

/**
 * Reads a checkpoint. The model holds model.safetensors' weights (the average, if the run kept one); with
 * `withTraining` it holds the raw weights the run trains instead, and training.average the average.
 */
export function loadCheckpoint(
  dir: string, opts: { withTraining: boolean },
): { config: CheckpointConfig; vocab: Vocabulary; model: LanguageModel; step: number; training: TrainingState | null } {
  const configPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new Error(`checkpoint directory ${dir} does not exist`);
  if (!existsSync(configPath)) throw new Error(`${dir} is not a checkpoint (no config.json)`);
  let config: CheckpointConfig & { format?: string };
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath} is corrupt: ${(e as Error).message}`);
  }
  if (config.format !== FORMAT || !Array.isArray(config.vocab) || typeof config.model !== 'object' || config.model === null) {
    throw new Error(`${configPath} is not a recurrent language-model checkpoint (format ${JSON.stringify(config.format)})`);
  }
  const vocab = new Vocabulary(config.vocab);
  if (config.model.vocabSize !== vocab.size) throw new Error(`${configPath} is inconsistent: vocabSize ${config.model.vocabSize} but ${vocab.size} characters`);

  const rng = new Rng(0);
  const model = new LanguageModel(config.model, rng);
  const step = loadModelWeights(model, join(dir, 'model.safetensors'), configPath);
  if (!opts.withTraining) return { config, vocab, model, step, training: null };

  const trainingPath = join(dir, 'training.safetensors');
  if (!existsSync(trainingPath)) throw new Error(`${dir} has no training.safetensors: it can be sampled and evaluated but not resumed`);
  const tr = readSafetensorsFile(trainingPath);
  let meta: {
    step: number; tokens: number; rng: RngState; optimizer: unknown; lossSum: number; lossCount: number; trainSec: number; elapsedSec: number;
    average?: { decay: unknown; count: unknown };
  };
  try {
    meta = JSON.parse(tr.metadata.training ?? '');
  } catch {
    throw new Error(`${trainingPath} is corrupt: its training metadata is not JSON`);
  }
  for (const k of ['step', 'tokens', 'lossSum', 'lossCount', 'trainSec', 'elapsedSec'] as const) {
    if (typeof meta[k] !== 'number' || !Number.isFinite(meta[k])) throw new Error(`${trainingPath} is corrupt: training.${k} is ${JSON.stringify(meta[k])}`);
  }
  if (!Array.isArray(meta.rng) || meta.rng.length !== 4 || !meta.rng.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) {
    throw new Error(`${trainingPath} is corrupt: the generator state is not four 32-bit integers`);
  }
  if (meta.step !== step) {
    throw new Error(`${dir} is inconsistent: model.safetensors is at step ${step}, training.safetensors at step ${meta.step} (interrupted while saving?)`);
  }
  rng.setState(meta.rng);
  const slots = new Map<string, { shape: number[]; data: Float32Array }>();
  let carried: CarriedState | null = null;
  const B = config.train.batchSize;
  const want = [config.model.numLayers, B, config.model.hiddenSize];
  for (const [k, v] of tr.tensors) {
    if (k.startsWith('optimizer.')) slots.set(k.slice('optimizer.'.length), { shape: v.shape, data: v.data as Float32Array });
  }
  const h = tr.tensors.get('carried.h');
  const c = tr.tensors.get('carried.c');
  if (h !== undefined) {
    for (const [name, t] of [['carried.h', h], ['carried.c', c]] as const) {
      if (t !== undefined && t.shape.join() !== want.join()) throw new Error(`${trainingPath}: ${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
    carried = untracked(() => ({
      h: Tensor.from(h.data as Float32Array, h.shape),
      c: c === undefined ? null : Tensor.from(c.data as Float32Array, c.shape),
    }));
  }
  const params = model.namedParameters();
  const optimizer = optimizerStateFromRecord({ json: meta.optimizer, tensors: slots }, params);
  const average = restoreSavedAverage(params, meta.average, tr.tensors, trainingPath);
  return {
    config, vocab, model, step,
    training: {
      step, tokens: meta.tokens, rng, optimizer, carried, lossSum: meta.lossSum, lossCount: meta.lossCount, trainSec: meta.trainSec, elapsedSec: meta.elapsedSec, average,
    },
  };
}
