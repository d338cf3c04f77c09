// Parallel text for encoder–decoders: one `source<TAB>target` pair per line, each side split into
// tokens by character or by spaces, and the token vocabularies built from the training pairs. Every
// malformed line is an error naming its number. Not here: batching (length-buckets.ts).

import { splitLines } from './lines.js';

export type TokenSplit = 'char' | 'space';
export const tokenSplits: readonly TokenSplit[] = ['char', 'space'];

export interface ParallelPair {
  src: string[];
  tgt: string[];
  /** 1-based line number in its file. */
  line: number;
}

/** The tokens of one side: its characters (code points), or its space-separated words. */
export function splitTokens(text: string, split: TokenSplit): string[] {
  return split === 'char' ? Array.from(text) : text.split(' ').filter((w) => w !== '');
}

/** Parses `source<TAB>target` lines; `what` names the file in errors. */
export function parseParallelText(text: string, what: string, splits: { src: TokenSplit; tgt: TokenSplit }): ParallelPair[] {
  const pairs = splitLines(text).map((l, i) => {
    const line = i + 1;
    const parts = l.split('\t');
    if (parts.length !== 2) throw new Error(`${what} line ${line}: expected "source<TAB>target", found ${parts.length - 1} tabs`);
    const src = splitTokens(parts[0], splits.src);
    const tgt = splitTokens(parts[1], splits.tgt);
    if (src.length === 0) throw new Error(`${what} line ${line}: the source is empty`);
    if (tgt.length === 0) throw new Error(`${what} line ${line}: the target is empty`);
    return { src, tgt, line };
  });
  if (pairs.length === 0) throw new Error(`${what} has no pairs`);
  return pairs;
}

/** Parses source-only lines (decoding input): one source per line, no tab. */
export function parseSourceLines(text: string, what: string, split: TokenSplit): ParallelPair[] {
  const lines = splitLines(text).map((l, i) => {
    const line = i + 1;
    if (l.includes('\t')) throw new Error(`${what} line ${line}: a source to decode has no tab (give the source alone)`);
    const src = splitTokens(l, split);
    if (src.length === 0) throw new Error(`${what} line ${line}: the source is empty`);
    return { src, tgt: [], line };
  });
  if (lines.length === 0) throw new Error(`${what} has no sources`);
  return lines;
}

/** Tokens ↔ ids. `specials` come first (ids 0, 1, …), then the tokens in the order given. */
export class TokenVocabulary {
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;

  constructor(tokens: readonly string[]) {
    this.tokens = [...tokens];
    this.index = new Map(this.tokens.map((t, i) => [t, i]));
    if (this.index.size !== this.tokens.length) throw new Error('vocabulary has repeated tokens');
  }

  /** The sorted unique tokens of `seqs` after `specials` (sorted by code points, as the char vocabulary). */
  static fromSequences(seqs: Iterable<readonly string[]>, specials: readonly string[] = []): TokenVocabulary {
    const seen = new Set<string>();
    for (const s of seqs) for (const t of s) seen.add(t);
    for (const sp of specials) seen.delete(sp);
    const sorted = [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new TokenVocabulary([...specials, ...sorted]);
  }

  get size(): number {
    return this.tokens.length;
  }

  id(token: string): number | undefined {
    return this.index.get(token);
  }

  /** Ids of `tokens`; an unknown token is an error naming `what` (e.g. "data.tsv line 3, source") and the token. */
  encode(tokens: readonly string[], what: string): Int32Array {
    const ids = new Int32Array(tokens.length);
    tokens.forEach((t, i) => {
      const id = this.index.get(t);
      if (id === undefined) throw new Error(`${what}: the token ${JSON.stringify(t)} (position ${i + 1}) is not in the model's vocabulary`);
      ids[i] = id;
    });
    return ids;
  }

  decode(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (i) => this.tokens[i]);
  }
}
