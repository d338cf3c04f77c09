// The Node entry, `recurrent/node`: the whole universal API of index.ts, plus what reads and writes
// files — a checkpoint store on a directory (locked while a run trains) for the training engine, loading a
// checkpoint directory, the char-rnn training loop as one call, reading a training text, and the generated
// captioning datasets as PNG files (fast-png; a page renders the same images with renderScene). Browsers
// import `recurrent` (index.ts) instead.

export * from './index.js';
export { checkpointDirectory, loadCheckpointDirectory } from './train/checkpoint-directory.js';
export { trainLanguageModel, loadCheckpoint, defaultTrainOptions, type TrainOptions, type TrainHooks } from './train/train-language-model.js';
export { readTextFile } from './data/text-file.js';
export { datasetItem, pngToTensorData, HELD_OUT, SPLITS, DATASET_KINDS, type DatasetKind, type DatasetRecord } from './data/caption-dataset.js';
