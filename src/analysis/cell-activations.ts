// What every cell of a character language model does over a text: the model reads the text one character
// at a time from a zero state (batch 1, eval mode, as sampling reads a prime), and after each character we
// keep every layer's h, tanh(c) for an LSTM (Karpathy, Johnson & Fei-Fei 2015 colour text by these), the
// gate activations, and the next-character distribution. Plain arrays out, so a page or a command can
// colour, rank and plot them. Not here: ranking cells by features (cell-search.ts), saturation (gate-saturation.ts).

import type { Vocabulary } from '../data/vocabulary.js';
import { LanguageModel } from '../nn/language-model.js';
import type { TransformerLanguageModel } from '../nn/transformer-language-model.js';
import type { CellKind } from '../nn/recurrent/cells.js';
import { languageModelStepper } from '../nn/language-model-stepper.js';

/** Where a cell's value is read: the hidden state h, or tanh(c) of an LSTM's cell state. */
export type CellSignal = 'h' | 'tanh_c';

/** One cell: a unit of one layer's h or tanh(c). */
export interface CellRef {
  layer: number;
  signal: CellSignal;
  unit: number;
}

/** Gate activations of one layer, (N, H) row t after reading character t. */
export interface GateSeries {
  /** The gate's name in the cell's parameter layout (LSTM i, f, o; GRU r, z; MUT z, r). */
  name: string;
  values: Float32Array;
}

export interface CellActivations {
  cell: CellKind;
  /** L */
  layers: number;
  /** H */
  hiddenSize: number;
  /** N: characters read (code points of the text). */
  length: number;
  /** (N) the text's character ids. */
  ids: Int32Array;
  /** Per layer (N, H): h after reading character t. */
  h: Float32Array[];
  /** Per layer (N, H): tanh(c_t), LSTM only (null for the other cells). */
  tanhC: Float32Array[] | null;
  /** Per layer, the σ gates (values in (0, 1)), when asked for; [] for an Elman RNN. */
  gates: GateSeries[][] | null;
  /** (N, V) p(next character | text[0..t]), when asked for. */
  probs: Float32Array | null;
}

export interface CellActivationOptions {
  /** Keep the gate activations (default false: they are the largest part). */
  gates?: boolean;
  /** Keep the next-character distributions (default false). */
  probs?: boolean;
}

/** The σ gates of each cell kind and where its cache keeps them (block index in CELL_LAYOUTS' cache). */
const SIGMOID_GATES: { readonly [K in CellKind]: readonly { name: string; block: number }[] } = {
  rnn_tanh: [],
  rnn_relu: [],
  lstm: [{ name: 'i', block: 0 }, { name: 'f', block: 1 }, { name: 'o', block: 3 }],
  gru: [{ name: 'r', block: 0 }, { name: 'z', block: 1 }],
  gru_cho: [{ name: 'r', block: 0 }, { name: 'z', block: 1 }],
  mut1: [{ name: 'z', block: 0 }, { name: 'r', block: 1 }],
  mut2: [{ name: 'z', block: 0 }, { name: 'r', block: 1 }],
  mut3: [{ name: 'z', block: 0 }, { name: 'r', block: 1 }],
};

/** The names of a cell kind's σ gates, in the order CellActivations.gates lists them. */
export function sigmoidGateNames(cell: CellKind): string[] {
  return SIGMOID_GATES[cell].map((g) => g.name);
}

/**
 * A character model as the recurrent one the cell analysis reads; a Transformer (`train --model transformer`)
 * is an error naming `what` (its attention views are still to come).
 */
export function recurrentModel(model: unknown, what: string): LanguageModel {
  if (model instanceof LanguageModel) return model;
  throw new Error(`${what} is a Transformer language model: it has no cells (this analysis reads recurrent models: rnn, lstm, gru, mut); its self-attention is the studio's Attention view`);
}

/** Every cell of the model's signals, layer by layer (h before tanh(c) in each layer). */
export function cellSignals(acts: Pick<CellActivations, 'layers' | 'h' | 'tanhC'>): { layer: number; signal: CellSignal; values: Float32Array }[] {
  const out: { layer: number; signal: CellSignal; values: Float32Array }[] = [];
  for (let l = 0; l < acts.layers; l++) {
    out.push({ layer: l, signal: 'h', values: acts.h[l] });
    if (acts.tanhC !== null) out.push({ layer: l, signal: 'tanh_c', values: acts.tanhC[l] });
  }
  return out;
}

/** One cell's value after each character, (N). */
export function cellSeries(acts: CellActivations, ref: CellRef): Float32Array {
  const { layer, signal, unit } = ref;
  const H = acts.hiddenSize;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < acts.layers)) throw new Error(`layer must be an integer in [0, ${acts.layers}), got ${layer}`);
  if (!(Number.isInteger(unit) && unit >= 0 && unit < H)) throw new Error(`unit must be an integer in [0, ${H}), got ${unit}`);
  if (signal === 'tanh_c' && acts.tanhC === null) throw new Error(`tanh(c) exists for LSTM cells only; this model is ${acts.cell}`);
  const m = signal === 'h' ? acts.h[layer] : acts.tanhC![layer]; // (N, H)
  const out = new Float32Array(acts.length);
  for (let t = 0; t < acts.length; t++) out[t] = m[t * H + unit];
  return out;
}

/**
 * Reads `text` through `model` one character at a time from a zero state and records the activations
 * after each character (a character outside the vocabulary is an error naming it).
 */
export function cellActivations(charModel: LanguageModel | TransformerLanguageModel, vocab: Vocabulary, text: string, opts: CellActivationOptions = {}): CellActivations {
  const model = recurrentModel(charModel, 'the model');
  const ids = vocab.encode(text, 'the text to analyse');
  const N = ids.length;
  if (N === 0) throw new Error('the text to analyse is empty');
  const { cell, hiddenSize: H, numLayers: L, vocabSize: V } = model.config;
  const sig = opts.gates === true ? SIGMOID_GATES[cell] : null;
  const h = Array.from({ length: L }, () => new Float32Array(N * H));
  const tanhC = cell === 'lstm' ? Array.from({ length: L }, () => new Float32Array(N * H)) : null;
  const gates = sig === null ? null : Array.from({ length: L }, () => sig.map((g) => ({ name: g.name, values: new Float32Array(N * H) })));
  const probs = opts.probs === true ? new Float32Array(N * V) : null;
  const { stepper, feed, dispose } = languageModelStepper(model);
  try {
    for (let t = 0; t < N; t++) {
      const lv = feed(ids[t]); // (V)
      const state = stepper.state();
      for (let l = 0; l < L; l++) {
        h[l].set(state.h[l], t * H);
        const cache = stepper.cache(l); // (1, C·H)
        // The LSTM's cache keeps tanh(c) in its fifth block (CELL_LAYOUTS).
        if (tanhC !== null) tanhC[l].set(cache.subarray(4 * H, 5 * H), t * H);
        if (gates !== null) sig!.forEach((g, k) => gates[l][k].values.set(cache.subarray(g.block * H, (g.block + 1) * H), t * H));
      }
      if (probs !== null) softmaxInto(lv, probs.subarray(t * V, (t + 1) * V));
    }
  } finally {
    dispose();
  }
  return { cell, layers: L, hiddenSize: H, length: N, ids, h, tanhC, gates, probs };
}

/** p = softmax(z), in float64 with the maximum subtracted (NOTE: log-sum-exp stability). */
function softmaxInto(z: Float32Array, p: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += Math.exp(z[i] - max);
  for (let i = 0; i < z.length; i++) p[i] = Math.exp(z[i] - max) / sum;
}

/** The k most likely next characters after character t, with their probabilities, best first. */
export function topPredictions(acts: CellActivations, vocab: Vocabulary, t: number, k = 5): { char: string; p: number }[] {
  if (acts.probs === null) throw new Error('topPredictions: the activations were recorded without probs');
  if (!(Number.isInteger(t) && t >= 0 && t < acts.length)) throw new Error(`position must be an integer in [0, ${acts.length}), got ${t}`);
  const V = vocab.size;
  const row = acts.probs.subarray(t * V, (t + 1) * V);
  return Array.from(row, (p, i) => ({ char: vocab.chars[i], p }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}
