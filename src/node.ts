// The Node entry, `recurrent/node`: the whole universal API of index.ts, plus what reads and writes
// files — a checkpoint store on a directory (locked while a run trains) for the training engine, loading a
// checkpoint directory, the char-rnn training loop as one call, and reading a training text. Browsers
// import `recurrent` (index.ts) instead.

export * from './index.js';
export { checkpointDirectory, loadCheckpointDirectory } from './train/checkpoint-directory.js';
export { trainLanguageModel, loadCheckpoint, defaultTrainOptions, type TrainOptions, type TrainHooks } from './train/train-language-model.js';
export { readTextFile } from './data/text-file.js';
