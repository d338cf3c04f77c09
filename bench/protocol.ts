// What the bench orchestrator (run.ts) sends to a measuring child and what the child prints back. Every
// child — ours.ts, peers/tfjs.mjs, peers/brain.mjs, peers/torch_bench.py — takes one JSON spec as its
// last argument and prints one line `@@RESULT <json>` to stdout. Not here: timing rules (timebox.ts).

/** A recurrent cell every system can build, or the GPT-style Transformer (PyTorch, and this library). */
export type BenchCell = 'lstm' | 'gru' | 'transformer';

/**
 * The char-level model: Embedding(V, H) → L layers of `cell` with H units → Linear(H, V); or, for
 * 'transformer', token and learned position embeddings → L pre-norm blocks (nn.TransformerEncoderLayer
 * norm_first, GELU, feed-forward 4H, `heads` heads, causal) → LayerNorm → Linear(H, V, no bias), windows of
 * T = seq characters (its context) at random offsets.
 */
export interface ModelSpec {
  cell: BenchCell;
  /** H (a Transformer's width) */
  hidden: number;
  /** L */
  layers: number;
  /** V */
  vocab: number;
  /** Transformer only: attention heads. */
  heads?: number;
  /** Transformer only: its context (the training windows' length; sampling slides past it). */
  context?: number;
}

/** Training throughput: full steps (forward, cross-entropy, backward, clip 5, Adam 2e-3) on B streams of T. */
export interface TrainSpec extends ModelSpec {
  task: 'train';
  batch: number;
  seq: number;
  /** Seconds of measured steps after the warm-up (at least 2 steps). */
  budgetSec: number;
  /** A file of token ids, one byte each, all < vocab. */
  idsFile: string;
}

/** Batch-1 generation: per character a forward step, softmax and a draw, state carried. */
export interface SampleSpec extends ModelSpec {
  task: 'sample';
  budgetSec: number;
  /** The vocabulary's characters (length V), for systems that sample text. */
  chars: string;
}

/** Matrix-product throughput of square n×n×n products. */
export interface GemmSpec {
  task: 'gemm';
  sizes: number[];
  budgetSec: number;
}

/** Load the library and exit: the RSS floor of a system. */
export interface IdleSpec {
  task: 'idle';
}

/** Which backend of a system (ours: a registered backend name; tfjs: 'cpu' or 'wasm'; torch: threads). */
export interface SystemOptions {
  backend?: string;
  threads?: number;
}

export type TaskSpec = (TrainSpec | SampleSpec | GemmSpec | IdleSpec) & SystemOptions;

export interface GemmFigure {
  n: number;
  /** 'NN': C = A B; 'NT': C = A Bᵀ (what a Linear forward does). */
  layout: 'NN' | 'NT';
  threads: number;
  gflops: number;
}

/** One core's f32x4 multiply-add rate with `chains` independent dependency chains and no memory traffic (bench/assembly/fma-chains.ts). */
export interface FmaFigure {
  chains: number;
  gflops: number;
}

export interface OkResult {
  ok: true;
  /** tokens/s (train) or characters/s (sample); absent for gemm and idle. */
  value?: number;
  /** Timed steps (train) or characters (sample), after the warm-up. */
  count?: number;
  warmup?: number;
  seconds?: number;
  /** True when the step was too slow for the full rule (2 warm-up steps, ≥ 2 timed): fewer were run. */
  timeBoxed?: boolean;
  gemm?: GemmFigure[];
  /** With gemm, where the engine has relaxed SIMD: the core's FMA rate (ours only). */
  fma?: FmaFigure[];
  /** ru_maxrss of the measuring process, in KiB. */
  maxRssKB: number;
  /** CPU seconds (user + system, all threads) the measuring process used in all. */
  cpuSec?: number;
  /** CPU seconds (user + system, all threads) of the timed steps alone (bench/timebox.ts). */
  cpuSeconds?: number;
  /** What the system actually ran (versions, backend, threads, model form). */
  info: Record<string, string | number | boolean>;
  notes?: string[];
}

export interface SkipResult {
  ok: false;
  /** Why nothing was measured (library absent, option unsupported, ...). */
  skip: string;
}

export type ChildResult = OkResult | SkipResult;

export const RESULT_PREFIX = '@@RESULT ';
