// Encoder–decoders for the training engine, on `source<TAB>target` lines (each side split into characters or
// space-separated tokens): the vocabularies come from the training file; a held-out file, or a seeded 5% of
// the training sources (with all their targets, so no source is on both sides), validates; batches group
// pairs of similar length (data/length-buckets.ts), an epoch at a time; teacher forcing or scheduled
// sampling (recurrent) — the recurrent encoder–decoder (nn/seq2seq.ts) or the Transformer one
// (nn/transformer-seq2seq.ts), as the run asks and the checkpoint's config says. Also here, for eval and decode: a checkpoint's config into a model, decoding many sources
// (greedy in batches, or beam search), and the scores of both.

import { checkSameData, dataFingerprint } from '../data/fingerprint.js';
import { lengthBucketedBatches } from '../data/length-buckets.js';
import { TokenVocabulary, parseParallelText, type ParallelPair, type TokenSplit } from '../data/parallel-text.js';
import { beamSearch } from '../decode/beam-search.js';
import { greedyDecode, type Hypothesis } from '../decode/greedy.js';
import { scoreSequences } from '../metrics/sequence-metrics.js';
import { teacherForcingProbability, type SamplingSchedule } from '../nn/scheduled-sampling.js';
import { IGNORE_INDEX, Seq2Seq, type Seq2SeqBatch, type Seq2SeqConfig } from '../nn/seq2seq.js';
import { TransformerSeq2Seq, type TransformerSeq2SeqConfig } from '../nn/transformer-seq2seq.js';
import { Rng } from '../random/rng.js';
import { noGrad, tidy } from '../tensor/tensor.js';
import { checkResumeOption, disposeOnThrow, type TaskDefinition, type TrainingTask } from '../train/engine.js';

export const SEQ2SEQ_FORMAT = 'recurrent-seq2seq/1';
export const BOS = '<s>';
export const EOS = '</s>';

/** The two encoder–decoders: a checkpoint's model config has arch 'transformer', or no arch (recurrent). */
export type Seq2SeqArch = 'recurrent' | 'transformer';
export type Seq2SeqModel = Seq2Seq | TransformerSeq2Seq;

/** Options only the recurrent model has, and only the Transformer has (each refused for the other arch). */
const RECURRENT_KEYS = ['cell', 'hiddenSize', 'embeddingSize', 'encoderHiddenSize', 'numLayers', 'bidirectional', 'attention', 'inputFeeding', 'attentionSize'] as const;
const TRANSFORMER_KEYS = ['dModel', 'nhead', 'numEncoderLayers', 'numDecoderLayers', 'dimFeedforward', 'activation', 'normFirst', 'positions', 'maxLength', 'tieEmbeddings'] as const;

/**
 * The model a run asks for: its arch, and that model's options but the vocabularies and the bos/eos ids,
 * which the data gives (dropout is both's); each one left out takes the command line's default (recurrent:
 * lstm, hidden 128, attention luong-general; Transformer: see seq2seqTask). On resume, each option given must
 * agree with the checkpoint's model.
 */
export type Seq2SeqModelOptions = { arch?: Seq2SeqArch } & Partial<Omit<Seq2SeqConfig, 'srcVocabSize' | 'tgtVocabSize' | 'bos' | 'eos'>>
  & Partial<Omit<TransformerSeq2SeqConfig, 'arch' | 'srcVocabSize' | 'tgtVocabSize' | 'bos' | 'eos'>>;

export interface Seq2SeqTaskOptions {
  srcSplit: TokenSplit;
  tgtSplit: TokenSplit;
  /** Probability of feeding the gold previous token, per training step (Bengio et al. 2015). */
  teacherForcing: SamplingSchedule;
  /** The model's own token when not teacher forcing. */
  feedback: 'sample' | 'argmax';
  /** Pairs per step. */
  batchSize: number;
  labelSmoothing: number;
}

export const defaultSeq2SeqTaskOptions: Seq2SeqTaskOptions = {
  srcSplit: 'char', tgtSplit: 'char', teacherForcing: { kind: 'constant', p: 1 }, feedback: 'sample', batchSize: 64, labelSmoothing: 0,
};

export interface Seq2SeqCheckpointConfig {
  format: typeof SEQ2SEQ_FORMAT;
  model: Seq2SeqConfig | TransformerSeq2SeqConfig;
  srcVocab: string[];
  tgtVocab: string[];
  train: Seq2SeqTaskOptions & Record<string, unknown>;
  data: { name: string; chars: number; hash: string };
}

/** Pairs as ids: `src` ids, `tgt` ids (without bos/eos). */
export interface EncodedPairs {
  src: Int32Array[];
  tgt: Int32Array[];
}

export function encodePairs(pairs: readonly ParallelPair[], src: TokenVocabulary, tgt: TokenVocabulary, what: string): EncodedPairs {
  return {
    src: pairs.map((p) => src.encode(p.src, `${what} line ${p.line}, source`)),
    tgt: pairs.map((p) => tgt.encode(p.tgt, `${what} line ${p.line}, target`)),
  };
}

export type SourceGroup = { pair: ParallelPair; refs: string[][] };

/** Groups pairs by source (alternative references); returns the distinct sources and their references, in first-seen order. */
export function groupBySource(pairs: readonly ParallelPair[]): SourceGroup[] {
  const bySrc = new Map<string, SourceGroup>();
  for (const p of pairs) {
    const key = p.src.join('\u0000');
    const g = bySrc.get(key);
    if (g === undefined) bySrc.set(key, { pair: p, refs: [p.tgt] });
    else g.refs.push(p.tgt);
  }
  return [...bySrc.values()];
}

/** A checkpoint's model and vocabularies from its config.json (weights not loaded); `rng` becomes the model's dropout generator. */
export function seq2seqModelFromConfig(config: Seq2SeqCheckpointConfig, configPath: string, rng: Rng = new Rng(0)): { model: Seq2SeqModel; src: TokenVocabulary; tgt: TokenVocabulary } {
  if (!Array.isArray(config.srcVocab) || !Array.isArray(config.tgtVocab) || config.model === null || typeof config.model !== 'object') {
    throw new Error(`${configPath} is corrupt: it lacks the model or a vocabulary`);
  }
  const src = new TokenVocabulary(config.srcVocab);
  const tgt = new TokenVocabulary(config.tgtVocab);
  if (config.model.srcVocabSize !== src.size || config.model.tgtVocabSize !== tgt.size) {
    throw new Error(`${configPath} is inconsistent: the model's vocabulary sizes do not match its vocabularies`);
  }
  const m = config.model;
  return { model: isTransformerConfig(m) ? new TransformerSeq2Seq(m, rng) : new Seq2Seq(m, rng), src, tgt };
}

export function isTransformerConfig(m: Seq2SeqCheckpointConfig['model']): m is TransformerSeq2SeqConfig {
  return m !== null && typeof m === 'object' && 'arch' in m && m.arch === 'transformer';
}

/** seq2seqModelFromConfig for readers of the recurrent model only (the studio's attention view, ONNX): a Transformer's config is an error. */
export function seq2seqFromConfig(config: Seq2SeqCheckpointConfig, configPath: string, rng: Rng = new Rng(0)): { model: Seq2Seq; src: TokenVocabulary; tgt: TokenVocabulary } {
  if (config?.model !== null && typeof config?.model === 'object' && isTransformerConfig(config.model)) {
    throw new Error(`${configPath}: the model is the Transformer encoder–decoder (arch transformer); only the recurrent one is read here`);
  }
  return seq2seqModelFromConfig(config, configPath, rng) as { model: Seq2Seq; src: TokenVocabulary; tgt: TokenVocabulary };
}

export interface DecodeOptions {
  beam: number;
  lengthPenalty: number;
  /** Most target tokens per sequence; null: 2 × the source length + 10. */
  maxLength: number | null;
  nBest?: number;
}

/** The length limit of decoding `src`: `maxLength` if given, else 2·|src| + 10, but no further than a Transformer member's positions. */
export function decodeLengthLimit(models: readonly Seq2SeqModel[], src: ArrayLike<number>, maxLength: number | null): number {
  if (maxLength !== null) return maxLength;
  const positions = Math.min(...models.map((m) => (m instanceof TransformerSeq2Seq ? m.config.maxLength : Infinity)));
  return Math.min(2 * src.length + 10, positions);
}

/**
 * Hypotheses (best first per source) for every source, decoded in batches (greedy) or one by one (beam). The
 * default length limit stops at a Transformer member's positions (maxLength); an explicit one past them is its error.
 */
export function decodeAll(models: Seq2SeqModel[], srcs: readonly Int32Array[], o: DecodeOptions, batchSize = 64): Hypothesis[][] {
  const maxLen = (s: Int32Array): number => decodeLengthLimit(models, s, o.maxLength);
  const out: Hypothesis[][] = [];
  if (o.beam === 1) {
    for (let i = 0; i < srcs.length; i += batchSize) {
      const chunk = srcs.slice(i, i + batchSize);
      const hyps = greedyDecode(models, chunk, { maxLength: Math.max(...chunk.map(maxLen)) });
      // A batch decodes to its longest limit; cut each row back to its own.
      hyps.forEach((h, b) => out.push([cutTo(h, maxLen(chunk[b]))]));
    }
    return out;
  }
  for (const s of srcs) out.push(beamSearch(models, s, { beamWidth: o.beam, maxLength: maxLen(s), lengthPenalty: o.lengthPenalty, nBest: o.nBest ?? 1 }));
  return out;
}

function cutTo(h: Hypothesis, n: number): Hypothesis {
  if (h.tokens.length + (h.finished ? 1 : 0) <= n) return h;
  return { ...h, tokens: h.tokens.slice(0, n), finished: false, weights: h.weights?.slice(0, n) ?? null };
}

/** Teacher-forced mean loss per target token (eos included) and argmax token accuracy. */
export function teacherForcedScores(model: Seq2SeqModel, data: EncodedPairs, batchSize: number): { loss: number; tokenAccuracy: number } {
  let lossSum = 0;
  let tokens = 0;
  let right = 0;
  const V = model.config.tgtVocabSize;
  for (let i = 0; i < data.src.length; i += batchSize) {
    const batch = { src: data.src.slice(i, i + batchSize), tgt: data.tgt.slice(i, i + batchSize) };
    noGrad(() => tidy(() => {
      const out = model.forward(batch);
      const n = out.targets.reduce((a, t) => a + (t === IGNORE_INDEX ? 0 : 1), 0);
      lossSum += out.loss.item() * n;
      tokens += n;
      const logits = out.logits.data; // (T, B, V)
      out.targets.forEach((t, r) => {
        if (t === IGNORE_INDEX) return;
        let best = 0;
        for (let j = 1; j < V; j++) if (logits[r * V + j] > logits[r * V + best]) best = j;
        if (best === t) right++;
      });
    }));
  }
  return { loss: lossSum / tokens, tokenAccuracy: right / tokens };
}

/** Decoding scores over sources grouped with all their references. */
export function decodedScores(models: Seq2SeqModel[], groups: readonly SourceGroup[], src: TokenVocabulary, tgt: TokenVocabulary, o: DecodeOptions, what: string) {
  const srcs = groups.map((g) => src.encode(g.pair.src, `${what} line ${g.pair.line}, source`));
  const hyps = decodeAll(models, srcs, o).map((h) => tgt.decode(h[0].tokens));
  return scoreSequences(hyps, groups.map((g) => g.refs));
}

export interface Seq2SeqTask extends TrainingTask<Seq2SeqBatch> {
  readonly model: Seq2SeqModel;
  readonly src: TokenVocabulary;
  readonly tgt: TokenVocabulary;
}

/**
 * The task of training an encoder–decoder on `text` (`source<TAB>target` lines, named `dataName`),
 * validated on `val` when given. `optionName` names a model option in the message that refuses a resume
 * whose model options disagree with the checkpoint's (the command line names its flags).
 */
export function seq2seqTask(
  text: string, dataName: string,
  opts: Partial<Seq2SeqTaskOptions> & { model?: Seq2SeqModelOptions; val?: { text: string; name: string }; optionName?(key: keyof Seq2SeqModelOptions): string } = {},
): TaskDefinition<Seq2SeqTask> {
  const { model: asked = {}, val, optionName = (k) => k, ...given } = opts;
  const own: Seq2SeqTaskOptions = { ...defaultSeq2SeqTaskOptions, ...given };
  const fingerprint = dataFingerprint(text);
  const splits = { src: own.srcSplit, tgt: own.tgtSplit };
  const all = parseParallelText(text, dataName, splits);
  for (const p of all) {
    for (const t of p.tgt) if (t === BOS || t === EOS) throw new Error(`${dataName} line ${p.line}: the target token ${t} is reserved (start and end of a target)`);
  }
  const valName = val?.name ?? `${dataName} (validation)`;
  const split = (seed: number): { trainPairs: ParallelPair[]; valPairs: ParallelPair[] } => {
    if (val !== undefined) return { trainPairs: all, valPairs: parseParallelText(val.text, val.name, splits) };
    // A seeded 5% of the distinct sources (with all their targets), so no source is on both sides.
    const groups = groupBySource(all);
    if (groups.length < 2) throw new Error(`${dataName} has ${groups.length} distinct source; training needs at least 2 (one to validate) or --val FILE`);
    const pick = new Rng(seed ^ 0x5eed);
    const order = groups.map((_, i) => i);
    const nVal = Math.max(1, Math.round(groups.length * 0.05));
    for (let i = 0; i < nVal; i++) {
      const j = i + pick.int(order.length - i); // a partial Fisher–Yates shuffle: the first nVal are the sample
      [order[i], order[j]] = [order[j], order[i]];
    }
    const held = new Set(order.slice(0, nVal).map((i) => groups[i].pair.src.join('\u0000')));
    return { trainPairs: all.filter((p) => !held.has(p.src.join('\u0000'))), valPairs: all.filter((p) => held.has(p.src.join('\u0000'))) };
  };

  const make = (model: Seq2SeqModel, src: TokenVocabulary, tgt: TokenVocabulary, data: Seq2SeqCheckpointConfig['data'], seed: number, rng: Rng, pairs: ReturnType<typeof split>): Seq2SeqTask => {
    const { trainPairs, valPairs } = pairs;
    const trainSet = encodePairs(trainPairs, src, tgt, dataName);
    const valSet = encodePairs(valPairs, src, tgt, valName);
    const valGroups = groupBySource(valPairs);
    const lengths = trainSet.tgt.map((t, i) => Math.max(t.length, trainSet.src[i].length));
    let epoch = 0;
    let batchIndex = 0;
    let batches = lengthBucketedBatches(lengths, own.batchSize, seed, epoch);
    const limit = model instanceof TransformerSeq2Seq ? model.config.maxLength : Infinity;
    for (const [set, name] of [[trainSet, dataName], [valSet, valName]] as const) {
      set.src.forEach((x, i) => {
        if (Math.max(x.length, set.tgt[i].length + 1) > limit) throw new Error(`${name}: pair ${i + 1} has a source of ${x.length} or a target of ${set.tgt[i].length} (+ eos) tokens, past the Transformer's ${limit} positions (--max-positions)`);
      });
    }
    return {
      format: SEQ2SEQ_FORMAT,
      config: { model: { ...model.config } as Seq2SeqCheckpointConfig['model'], srcVocab: [...src.tokens], tgtVocab: [...tgt.tokens], train: own, data },
      model, src, tgt,
      description: `${describe(model)}, ${model.config.dropout > 0 ? `dropout ${model.config.dropout}, ` : ''}on ${trainPairs.length} pairs of ${dataName} (${valPairs.length} validate)`,
      batch: () => {
        if (batchIndex >= batches.length) {
          epoch++;
          batchIndex = 0;
          batches = lengthBucketedBatches(lengths, own.batchSize, seed, epoch);
        }
        const idx = batches[batchIndex++];
        return { src: idx.map((i) => trainSet.src[i]), tgt: idx.map((i) => trainSet.tgt[i]) };
      },
      loss: (batch, step) => ({
        loss: model.forward(batch, { teacherForcing: teacherForcingProbability(own.teacherForcing, step), feedback: own.feedback, rng, labelSmoothing: own.labelSmoothing }).loss,
        tokens: batch.tgt.reduce((a, t) => a + t.length + 1, 0),
      }),
      evaluate: () => {
        // Validation is inference: no dropout (and no draws from the run's generator), then back to training.
        model.eval();
        try {
          const tf = teacherForcedScores(model, valSet, own.batchSize);
          const dec = decodedScores([model], valGroups, src, tgt, { beam: 1, lengthPenalty: 1, maxLength: null }, valName);
          return { valLoss: tf.loss, valTokenAccuracy: tf.tokenAccuracy, valSequenceAccuracy: dec.sequenceAccuracy, valTokenErrorRate: dec.tokenErrorRate };
        } finally {
          model.train();
        }
      },
      progress: (step) => ({ epoch: epoch + batchIndex / batches.length, teacherForcing: teacherForcingProbability(own.teacherForcing, step) }),
      saveState: () => ({ counters: { epoch, batchIndex }, tensors: new Map() }),
      restoreState: (counters) => {
        epoch = counters.epoch ?? 0;
        batchIndex = counters.batchIndex ?? 0;
        batches = lengthBucketedBatches(lengths, own.batchSize, seed, epoch);
      },
    };
  };

  return {
    formats: [SEQ2SEQ_FORMAT],
    what: 'recurrent seq2seq',
    create: ({ rng, seed }) => {
      const pairs = split(seed);
      // The vocabularies of the whole data file (its held-out part included): tokens only a --val file has are an error.
      const src = TokenVocabulary.fromSequences(all.map((p) => p.src));
      const tgt = TokenVocabulary.fromSequences(all.map((p) => p.tgt), [BOS, EOS]);
      const arch = asked.arch ?? 'recurrent';
      checkArchOptions(arch, asked, optionName);
      if (arch === 'transformer') {
        const tf = own.teacherForcing;
        if (!(tf.kind === 'constant' && tf.p === 1)) throw new Error('scheduled sampling (teacher forcing < 1) applies to the recurrent encoder–decoder, not the Transformer (it reads every fed token in one pass)');
        const dModel = asked.dModel ?? 128;
        const longest = Math.max(...all.map((p) => Math.max(p.src.length, p.tgt.length + 1)));
        const config: TransformerSeq2SeqConfig = {
          arch, srcVocabSize: src.size, tgtVocabSize: tgt.size, dModel, nhead: asked.nhead ?? 4,
          numEncoderLayers: asked.numEncoderLayers ?? 3, numDecoderLayers: asked.numDecoderLayers ?? 3, dimFeedforward: asked.dimFeedforward ?? 4 * dModel,
          dropout: asked.dropout ?? 0, activation: asked.activation ?? 'relu', normFirst: asked.normFirst ?? false, positions: asked.positions ?? 'sinusoidal',
          maxLength: asked.maxLength ?? 2 * longest, tieEmbeddings: asked.tieEmbeddings ?? false, bos: tgt.id(BOS)!, eos: tgt.id(EOS)!,
        };
        const model = new TransformerSeq2Seq(config, rng);
        return disposeOnThrow(model, () => make(model, src, tgt, { name: dataName, ...fingerprint }, seed, rng, pairs));
      }
      const hidden = asked.hiddenSize ?? 128;
      const config: Seq2SeqConfig = {
        cell: asked.cell ?? 'lstm', srcVocabSize: src.size, tgtVocabSize: tgt.size,
        embeddingSize: asked.embeddingSize ?? hidden, hiddenSize: hidden, numLayers: asked.numLayers ?? 1,
        ...(asked.encoderHiddenSize === undefined ? {} : { encoderHiddenSize: asked.encoderHiddenSize }),
        bidirectional: asked.bidirectional ?? false, attention: asked.attention ?? 'luong-general', inputFeeding: asked.inputFeeding ?? false,
        ...(asked.attentionSize === undefined ? {} : { attentionSize: asked.attentionSize }),
        dropout: asked.dropout ?? 0, bos: tgt.id(BOS)!, eos: tgt.id(EOS)!,
      };
      const model = new Seq2Seq(config, rng);
      return disposeOnThrow(model, () => make(model, src, tgt, { name: dataName, ...fingerprint }, seed, rng, pairs));
    },
    resume: (raw, { rng, seed }, where) => {
      const config = raw as unknown as Seq2SeqCheckpointConfig;
      const s = (config.train ?? {}) as Partial<Seq2SeqTaskOptions>;
      // labelSmoothing: absent from checkpoints before the option, 0.
      for (const k of ['srcSplit', 'tgtSplit', 'batchSize', 'labelSmoothing'] as const) checkResumeOption(where, k, s[k] ?? 0, own[k]);
      checkSameData(where, config.data, fingerprint);
      const m = (config.model ?? {}) as Partial<Seq2SeqConfig> & { arch?: string };
      const had = m.arch === 'transformer' ? 'transformer' : 'recurrent';
      if (asked.arch !== undefined && asked.arch !== had) throw new Error(`cannot resume ${where}: its model is the ${had} encoder–decoder, this run asks for ${optionName('arch')} ${asked.arch}`);
      checkArchOptions(had, asked, optionName);
      // What a key absent from an older config means (Seq2Seq's defaults).
      const defaults: Partial<Record<keyof Seq2SeqModelOptions, unknown>> = {
        arch: 'recurrent', numLayers: 1, bidirectional: false, inputFeeding: false, dropout: 0, encoderHiddenSize: m.hiddenSize, attentionSize: m.hiddenSize,
      };
      for (const [k, want] of Object.entries(asked) as Array<[keyof Seq2SeqModelOptions, unknown]>) {
        const had = (m as Partial<Record<keyof Seq2SeqModelOptions, unknown>>)[k] ?? defaults[k];
        if (want !== undefined && had !== want) throw new Error(`cannot resume ${where}: its model has ${k} ${String(had)}, this run asks for ${optionName(k)} ${String(want)}`);
      }
      const pairs = split(seed);
      const { model, src, tgt } = seq2seqModelFromConfig(config, `${where}/config.json`, rng);
      return disposeOnThrow(model, () => make(model, src, tgt, config.data, seed, rng, pairs));
    },
  };
}

/** The options of the other arch, refused: a one-line error naming the first one given. */
function checkArchOptions(arch: Seq2SeqArch, asked: Seq2SeqModelOptions, optionName: (k: keyof Seq2SeqModelOptions) => string): void {
  const foreign = arch === 'transformer' ? RECURRENT_KEYS : TRANSFORMER_KEYS;
  const k = foreign.find((key) => asked[key] !== undefined);
  if (k !== undefined) throw new Error(`${optionName(k)} applies to the ${arch === 'transformer' ? 'recurrent' : 'Transformer'} encoder–decoder, not the ${arch} one`);
}

/** A one-line description of a model, for the run's first line. */
function describe(model: Seq2SeqModel): string {
  if (model instanceof TransformerSeq2Seq) {
    const c = model.config;
    return `seq2seq transformer ${c.numEncoderLayers}+${c.numDecoderLayers} layers × ${c.dModel} (${c.nhead} heads, feed-forward ${c.dimFeedforward}, ${c.activation}, ` +
      `${c.normFirst ? 'pre-norm' : 'post-norm'}, ${c.positions} positions up to ${c.maxLength}${c.tieEmbeddings ? ', tied head' : ''})`;
  }
  const c = model.config;
  const He = c.encoderHiddenSize;
  const encoderNote = He === c.hiddenSize ? '' : ` ${c.numLayers}×${He}`;
  const shape = c.bidirectional ? ` (bidirectional encoder${encoderNote})` : encoderNote === '' ? '' : ` (encoder${encoderNote})`;
  return `seq2seq ${c.cell} ${c.numLayers}×${c.hiddenSize}${shape}, attention ${c.attention}`;
}
