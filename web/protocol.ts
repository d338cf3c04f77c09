// The messages between the studio page (main.ts, through client.ts) and its Web Worker (studio-worker.ts):
// the page asks, the worker answers each request by id and pushes training progress as it comes. Plain
// data and typed arrays only (structured clone). The worker holds the model; the page only draws.

import type {
  AttentionMap, CellRef, CellSignal, EngineOptions, EvalRecord, FeatureName, GateSaturation, GradientFlow, RankedCell,
  SelfAttentionMap, SpanCell, TrainEvent, Unrolled,
} from '../src/index.js';

/** What the page trains: a text with the language model's options, or the lectures' "hello". */
export type TrainSpec =
  | { kind: 'text'; text: string; name: string; options: { cell: string; hiddenSize: number; numLayers: number; seqLength: number; batchSize: number; dropout: number } }
  | { kind: 'hello'; options: { cell: string; hiddenSize: number; numLayers: number } };

/** The engine's options the page sets (steps or a time budget; the rest take the command line's defaults). */
export type PageEngineOptions = Pick<EngineOptions, 'steps' | 'lr' | 'evalEvery' | 'seed' | 'clip'>;

export interface CheckpointBytes {
  config: Uint8Array;
  model: Uint8Array;
  training: Uint8Array | null;
}

/** The model the worker holds, for the page's views. */
export type ModelInfo =
  | { kind: 'none' }
  | { kind: 'language-model'; description: string; cell: string; layers: number; hiddenSize: number; vocab: string[]; step: number; resumable: boolean; hello: boolean }
  | { kind: 'seq2seq'; description: string; step: number; srcSplit: string; attention: string }
  /** A GPT-style language model (opened from a checkpoint): samples and self-attention; no cells. */
  | { kind: 'transformer'; description: string; step: number; layers: number; heads: number; context: number; vocab: string[] };

export type FeatureQuery = { kind: 'builtin'; name: FeatureName } | { kind: 'regex'; pattern: string; flags: string };

export interface Analysis {
  length: number;
  layers: number;
  hiddenSize: number;
  signals: CellSignal[];
  /** (N, 5) the five likeliest next characters after each character, and their probabilities. */
  topChars: string[][];
  topProbs: Float32Array;
  saturation: GateSaturation[];
  seconds: number;
}

export type Request =
  | { kind: 'train'; spec: TrainSpec; engine: PageEngineOptions; threads: number }
  /** `text`: the training text, for a checkpoint opened from files (a run trained here keeps its own). */
  | { kind: 'resume'; steps: number; text?: string }
  | { kind: 'load'; files: CheckpointBytes; name: string }
  | { kind: 'sample'; temperature: number; length: number }
  | { kind: 'analyse'; text: string }
  | { kind: 'series'; ref: CellRef }
  | { kind: 'rank'; feature: FeatureQuery }
  | { kind: 'span'; start: number; end: number; threshold: number }
  | { kind: 'flow'; text: string; length: number; windows: number }
  | { kind: 'unroll' }
  | { kind: 'decode'; source: string }
  | { kind: 'attend'; text: string }
  | { kind: 'files' };

/** Not answered: settings the worker applies from now on. */
export type Notice = { kind: 'pause' } | { kind: 'temperature'; temperature: number; length: number };

export type Reply =
  | { kind: 'train' | 'resume'; stopped: boolean; step: number }
  | { kind: 'load'; model: ModelInfo }
  | { kind: 'sample'; text: string }
  | { kind: 'analyse'; analysis: Analysis }
  | { kind: 'series'; values: Float32Array }
  | { kind: 'rank'; cells: RankedCell[]; feature: Float32Array }
  | { kind: 'span'; cells: SpanCell[] }
  | { kind: 'flow'; flow: GradientFlow }
  | { kind: 'unroll'; unrolled: Unrolled }
  | { kind: 'decode'; map: AttentionMap }
  | { kind: 'attend'; map: SelfAttentionMap }
  | { kind: 'files'; files: CheckpointBytes };

/** Pushed by the worker. */
export type Push =
  /** Step events since the last push (at most one push per 50 ms), the losses of every step. */
  | { kind: 'steps'; steps: { step: number; loss: number }[]; last: Extract<TrainEvent, { kind: 'step' }> }
  | { kind: 'eval'; record: EvalRecord; sample: string | null }
  | { kind: 'event'; event: TrainEvent }
  | { kind: 'model'; model: ModelInfo }
  | { kind: 'unrolled'; unrolled: Unrolled }
  | { kind: 'threads'; threads: number; ready: number; isolated: boolean; kernels: string };

export type ToWorker = { id: number; request: Request } | { id: null; notice: Notice };
export type FromWorker = { id: number; reply: Reply } | { id: number; error: string } | { id: null; push: Push };
