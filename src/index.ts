// The public API of `recurrent`: everything a user imports comes from here.

export { Tensor, tidy, keep, untracked, noGrad, type Shape } from './tensor/tensor.js';
export { heap, Heap } from './tensor/heap.js';
export { backward } from './autograd/tape.js';
export * as ops from './autograd/ops.js';
export { crossEntropy, mse } from './autograd/ops.js';
export type { Backend } from './backend/backend.js';
export { backend, setBackend, availableBackends } from './backend/registry.js';
export { Rng } from './random/rng.js';

export { Module } from './nn/module.js';
export { Linear } from './nn/linear.js';
export { Embedding } from './nn/embedding.js';
export { Dropout } from './nn/dropout.js';
export * from './nn/recurrent/index.js';
export { LanguageModel, type LanguageModelConfig, type CarriedState } from './nn/language-model.js';

export * from './optim/optimizer.js';
export { clipGradNorm, clipGradValue } from './optim/clip.js';
export { createSchedule, type ScheduleSpec } from './optim/schedule.js';

export { Vocabulary } from './data/vocabulary.js';
export { StreamBatcher, splitTrainVal } from './data/streams.js';
export { sampleLogits, type SampleOptions } from './decode/sample.js';
export { generateText, type GenerateOptions } from './decode/generate.js';
export { trainLanguageModel, validationLoss, defaultTrainOptions, type TrainOptions, type Metrics } from './train/train-language-model.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
