// The Node entry, `recurrent/node`: the whole universal API of index.ts, plus what reads and writes
// files — the char-rnn training loop with its atomic checkpoints, the task checkpoints of the classify
// and seq2seq commands, and reading a training text. Browsers import `recurrent` (index.ts) instead.

export * from './index.js';
export { trainLanguageModel, validationLoss, defaultTrainOptions, type TrainOptions, type Metrics } from './train/train-language-model.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { saveTaskCheckpoint, readTaskConfig, loadTaskWeights, loadTaskTraining, taskCheckpointExists, type TaskTrainingState } from './train/task-checkpoint.js';
export { readTextFile } from './data/text-file.js';
