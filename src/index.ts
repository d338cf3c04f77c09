// The public API of `recurrent`: everything a user imports comes from here, and all of it loads in Node and
// in browsers alike, the training engine included (it writes checkpoints through a store). What reads or
// writes files (a checkpoint directory) is `recurrent/node` (node.ts), which re-exports all of this too.

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
export { recurrentSteps, type RecurrentSteps, type RecurrentStepsOptions } from './nn/recurrent/recurrent-steps.js';
export { LanguageModel, detachState, disposeState, type LanguageModelConfig, type CarriedState } from './nn/language-model.js';
export { TransformerLanguageModel, type TransformerLanguageModelConfig } from './nn/transformer-language-model.js';
export { TransformerSeq2Seq, positionKinds, type PositionKind, type TransformerSeq2SeqConfig, type TransformerEncodedSource, type TransformerDecoderState } from './nn/transformer-seq2seq.js';

export * from './optim/optimizer.js';
export { clipGradNorm, clipGradValue, gradNorm } from './optim/clip.js';
export { createSchedule, type ScheduleSpec } from './optim/schedule.js';
export {
  createWeightAverage, restoreWeightAverage, updateWeightAverage, swapWeights, withAveragedWeights, disposeWeightAverage, effectiveDecay,
  type WeightAverage,
} from './optim/weight-average.js';

export { Vocabulary } from './data/vocabulary.js';
export { StreamBatcher, splitTrainVal } from './data/streams.js';
export { longRangeBatch, longRangeAccuracy, longRangeVocabSize, resolveLongRangeTask, type LongRangeTaskOptions, type LongRangeBatch } from './data/long-range-task.js';
export { sampleLogits, type SampleOptions } from './decode/sample.js';
export { generateText, type GenerateOptions } from './decode/generate.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { TokenVocabulary, parseParallelText, parseSourceLines, splitTokens, tokenSplits, type TokenSplit, type ParallelPair } from './data/parallel-text.js';
export { lengthBucketedBatches } from './data/length-buckets.js';
export { editDistance, scoreSequences, type SequenceScores } from './metrics/sequence-metrics.js';

export * from './nn/transformer/index.js';
export * from './nn/image/index.js';
export * as imageOps from './autograd/image-ops.js';
export { Attention, attentionKinds, type AttentionKind, type AttentionOptions, type AttentionMemory, type AttentionOutput } from './nn/attention.js';
export {
  Seq2Seq, seq2seqAttentionKinds, selectDecoderRows, IGNORE_INDEX, type Seq2SeqConfig, type Seq2SeqAttention, type Seq2SeqBatch,
  type Seq2SeqForwardOptions, type Seq2SeqOutput, type EncodedSource, type DecoderState, type DecoderStep,
} from './nn/seq2seq.js';
export { teacherForcingProbability, validateSamplingSchedule, type SamplingSchedule } from './nn/scheduled-sampling.js';
export { greedyDecode, sampleDecode, type Hypothesis, type GreedyOptions, type SampleDecodeOptions } from './decode/greedy.js';
export { beamSearch, type BeamSearchOptions } from './decode/beam-search.js';
export { createScorer, disposeScorerState, type Scorer, type ScorerState, type ScorerStep, type Seq2SeqModels, type ScorerModel, type ScorerModels, type MemberState } from './decode/ensemble.js';
export { isStepDecoder, type StepDecoder, type StepDecoderStep, type DecodingSignature } from './decode/step-decoder.js';
export { ConditionedGenerator, conditioningKinds, selectGeneratorRows, type ConditionedGeneratorConfig, type Conditioning, type ConditioningVectors, type ConditionedGeneratorBatch, type ConditionedGeneratorForwardOptions, type ConditionedGeneratorOutput, type GeneratorCondition, type GeneratorState, type GeneratorStep } from './nn/conditioned-generator.js';
export { Captioner, captionerAttentionKinds, type CaptionerAttention, type CaptionerBatch, type CaptionerConfig, type CaptionerEncoded, type CaptionerForwardOptions, type CaptionerOutput, type CaptionerSources, type CaptionerState, type CaptionerStep } from './nn/captioner.js';
export {
  SequenceClassifier, poolKinds, type PoolKind, type SequenceClassifierConfig, type SequenceEncoderConfig,
} from './nn/sequence-classifier.js';
export { SequenceTagger, type SequenceTaggerConfig } from './nn/sequence-tagger.js';
export { WordVocabulary, wordTokens, type WordVocabularyOptions } from './data/word-vocabulary.js';
export {
  BagOfWordsClassifier, bagOfWords, bowFeatureKinds, type BowFeatureKind, type BagOfWordsClassifierConfig,
} from './nn/bag-of-words-classifier.js';

export {
  trainTask, DivergedError, defaultEngineOptions, type EngineOptions, type TaskDefinition, type TaskContext, type TrainingTask, type TaskLoss,
  type TrainEvent, type TrainIO, type TrainResult, type EvalRecord,
} from './train/engine.js';
export { memoryStore, type CheckpointStore, type MemoryStore } from './train/checkpoint-store.js';
export {
  encodeCheckpoint, parseCheckpointConfig, loadCheckpointWeights, decodeTrainingState, type CheckpointFile, type TrainingState,
} from './train/checkpoint-files.js';
export { dataFingerprint, countCodePoints } from './data/fingerprint.js';
export {
  languageModelTask, languageModelFromConfig, validationLoss, heldOutLoss, describeModel, defaultLanguageModelTaskOptions, LANGUAGE_MODEL_FORMAT,
  type LanguageModelTask, type CharModel, type LanguageModelTaskOptions, type LanguageModelCheckpointConfig,
} from './tasks/language-model.js';
export {
  classifierTask, classifierFromConfig, parseLabeledLines, predictProbs, classificationScores, CHAR_CLASSIFIER_FORMAT, BOW_CLASSIFIER_FORMAT,
  type ClassifierTask, type ClassifierTaskOptions, type Classifier, type ClassifierCheckpointConfig, type LabeledLine,
} from './tasks/classifier.js';
export {
  seq2seqTask, seq2seqFromConfig, seq2seqModelFromConfig, isTransformerConfig, decodeAll, teacherForcedScores, decodedScores, SEQ2SEQ_FORMAT,
  type Seq2SeqTask, type Seq2SeqModel, type Seq2SeqArch, type Seq2SeqTaskOptions, type Seq2SeqModelOptions, type Seq2SeqCheckpointConfig, type DecodeOptions,
} from './tasks/seq2seq.js';
export { oneSequenceTask, defaultOneSequenceTaskOptions, type OneSequenceTaskOptions } from './tasks/one-sequence.js';
export { decodeTextBytes } from './data/text-bytes.js';

export {
  cellActivations, cellSeries, cellSignals, recurrentModel, sigmoidGateNames, topPredictions,
  type CellActivations, type CellActivationOptions, type CellRef, type CellSignal, type GateSeries,
} from './analysis/cell-activations.js';
export { textFeature, regexFeature, featureNames, featureTitles, type FeatureName } from './analysis/text-features.js';
export { rankCells, cellsOnSpan, type RankedCell, type SpanCell } from './analysis/cell-search.js';
export { gateSaturation, LEFT_SATURATED, RIGHT_SATURATED, type GateSaturation } from './analysis/gate-saturation.js';
export { gradientFlow, gradientFlowWindows, type GradientFlow, type GradientFlowOptions } from './analysis/gradient-flow.js';
export { unrollSequence, type Unrolled, type UnrolledStep } from './analysis/unroll.js';
export { attentionMap, type AttentionMap } from './analysis/attention-map.js';
export { selfAttentionMap, type SelfAttentionMap } from './analysis/self-attention.js';
export { activationColor } from './analysis/activation-color.js';
export {
  randomScene, renderScene, objectMask, sceneCaptions, sceneQuestions, relation, randomNumber, renderNumber, digitMask, numberCaption, itemRng,
  SHAPES, COLOURS, SIZES, QUESTION_TYPES, type Scene, type SceneObject, type SceneOptions, type Caption, type Question, type QuestionType, type NumberImage,
} from './data/scenes.js';
export { corpusBleu, ciderD, exactMatch } from './metrics/caption-metrics.js';
export { maskMass, namedObjects, type PixelTile } from './metrics/attention-correctness.js';
export {
  CAPTIONER_FORMAT, CAPTION_KINDS, accuracyByDigits, attentionCorrectness, captionImages, captionScores, captionerFromConfig, captioningTask, cellTiles,
  checkpointKind, defaultCaptioningTaskOptions, imageSources, namedRegions, teacherForcedLoss, type CaptionImage, type CaptionKind, type CaptionSet, type CaptionerCheckpointConfig, type CaptionerModelOptions, type CaptioningTask, type CaptioningTaskOptions,
  type DecodeCaptionOptions,
} from './tasks/captioning.js';
export { VqaModel, type VqaBatch, type VqaModelConfig, type VqaOutput } from './nn/vqa-model.js';
export { VQA_FORMAT, defaultVqaTaskOptions, vqaFromConfig, vqaScores, vqaTask, type VqaCheckpointConfig, type VqaImage, type VqaModelOptions, type VqaSet, type VqaTask, type VqaTaskOptions } from './tasks/vqa.js';
