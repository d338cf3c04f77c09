// Scores of decoded sequences against references: Levenshtein edit distance, token error rate (for G2P
// the phoneme error rate, PER) and sequence error rate (the word error rate, WER, of G2P). A source may
// have several correct references (CMUdict lists alternative pronunciations): a hypothesis is scored
// against the reference it is closest to, as G2P papers do.

/** Insertions, deletions and substitutions turning `a` into `b` (unit costs). */
export function editDistance(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

export interface SequenceScores {
  /** Sources scored. */
  sequences: number;
  /** Fraction of hypotheses equal to one of their references. */
  sequenceAccuracy: number;
  /** 1 − sequenceAccuracy: the word error rate (WER) of G2P. */
  sequenceErrorRate: number;
  /** Σ edit distance to the closest reference / Σ length of that reference: the phoneme error rate (PER) of G2P. */
  tokenErrorRate: number;
}

/** Scores hypotheses[i] against references[i] (one or more per source). */
export function scoreSequences<T>(hypotheses: ReadonlyArray<readonly T[]>, references: ReadonlyArray<ReadonlyArray<readonly T[]>>): SequenceScores {
  if (hypotheses.length !== references.length) throw new Error(`scoreSequences: ${hypotheses.length} hypotheses for ${references.length} sources`);
  if (hypotheses.length === 0) throw new Error('scoreSequences: nothing to score');
  let exact = 0;
  let errors = 0;
  let refTokens = 0;
  hypotheses.forEach((h, i) => {
    const refs = references[i];
    if (refs.length === 0) throw new Error(`scoreSequences: source ${i} has no reference`);
    let best = Infinity;
    let bestLen = 0;
    for (const r of refs) {
      const d = editDistance(h, r);
      // The closest reference; among equally close ones, the longest (the smaller error rate).
      if (d < best || (d === best && r.length > bestLen)) [best, bestLen] = [d, r.length];
    }
    if (best === 0) exact++;
    errors += best;
    refTokens += bestLen;
  });
  const n = hypotheses.length;
  return { sequences: n, sequenceAccuracy: exact / n, sequenceErrorRate: 1 - exact / n, tokenErrorRate: errors / refTokens };
}
