// Caption metrics as the COCO caption evaluation computes them, on tokenised sentences (arrays of words):
// corpus-level BLEU-4 (Papineni et al. 2002: clipped n-gram precisions summed over the corpus, their
// geometric mean, and a brevity penalty against each hypothesis's closest reference length; no smoothing,
// so a corpus without one matching 4-gram scores 0; a hypothesis shorter than k words offers no k-gram, as
// COCO counts it, where NLTK's corpus_bleu counts one) and CIDEr-D (Vedantam et al. 2015: TF-IDF n-gram
// vectors, document frequencies from the references, clipped, a Gaussian penalty on the length difference,
// ×10). Checked against NLTK's corpus_bleu and an independent CIDEr-D (scripts/make-caption-metric-fixtures.py).

type Sentence = readonly string[];

/** The n-grams of `s` of order 1..n, counted, keyed by their words joined with a space. */
function ngramCounts(s: Sentence, n: number): Array<Map<string, number>> {
  const out = Array.from({ length: n }, () => new Map<string, number>());
  for (let k = 1; k <= n; k++) {
    for (let i = 0; i + k <= s.length; i++) {
      const g = s.slice(i, i + k).join(' ');
      out[k - 1].set(g, (out[k - 1].get(g) ?? 0) + 1);
    }
  }
  return out;
}

function checkCorpus(hyps: readonly Sentence[], refs: ReadonlyArray<readonly Sentence[]>, what: string): void {
  if (hyps.length !== refs.length) throw new Error(`${what}: ${hyps.length} hypotheses but ${refs.length} reference sets`);
  refs.forEach((r, i) => {
    if (r.length === 0) throw new Error(`${what}: hypothesis ${i} has no reference`);
  });
}

/**
 * Corpus BLEU of order `n` (default 4, uniform weights): the brevity penalty uses, for each hypothesis, the
 * reference length closest to its length (the shorter on a tie), as NLTK and the COCO evaluation do.
 */
export function corpusBleu(hyps: readonly Sentence[], refs: ReadonlyArray<readonly Sentence[]>, n = 4): number {
  checkCorpus(hyps, refs, 'corpusBleu');
  const matched = new Array<number>(n).fill(0);
  const total = new Array<number>(n).fill(0);
  let hypLength = 0;
  let refLength = 0;
  hyps.forEach((h, i) => {
    const hc = ngramCounts(h, n);
    // The most times each n-gram occurs in any one reference: the clip.
    const maxRef = Array.from({ length: n }, () => new Map<string, number>());
    for (const r of refs[i]) {
      ngramCounts(r, n).forEach((m, k) => m.forEach((c, g) => maxRef[k].set(g, Math.max(maxRef[k].get(g) ?? 0, c))));
    }
    hc.forEach((m, k) => m.forEach((c, g) => {
      matched[k] += Math.min(c, maxRef[k].get(g) ?? 0);
      total[k] += c;
    }));
    hypLength += h.length;
    let best = refs[i][0].length;
    for (const r of refs[i]) {
      const d = Math.abs(r.length - h.length);
      const bd = Math.abs(best - h.length);
      if (d < bd || (d === bd && r.length < best)) best = r.length;
    }
    refLength += best;
  });
  if (matched.some((m) => m === 0)) return 0; // no smoothing: one empty precision zeroes the geometric mean
  const logP = matched.reduce((a, m, k) => a + Math.log(m / total[k]), 0) / n;
  const bp = hypLength > refLength ? 1 : Math.exp(1 - refLength / Math.max(hypLength, 1e-300));
  return bp * Math.exp(logP);
}

/**
 * CIDEr-D over a corpus (the mean of each hypothesis's score): for n-grams of order 1..n, TF-IDF vectors
 * with document frequencies counted over the references of all images (an n-gram counts once per image),
 * the hypothesis's vector clipped to each reference's (min), cosine similarity per order, times
 * exp(−δ²/2σ²) with δ the difference of the two sentences' lengths, averaged over orders and references,
 * ×10. As the COCO code, a sentence's "length" for δ is its number of bigrams.
 */
export function ciderD(hyps: readonly Sentence[], refs: ReadonlyArray<readonly Sentence[]>, opts: { n?: number; sigma?: number } = {}): { score: number; scores: number[] } {
  checkCorpus(hyps, refs, 'ciderD');
  const n = opts.n ?? 4;
  const sigma = opts.sigma ?? 6;
  const refCounts = refs.map((rs) => rs.map((r) => ngramCounts(r, n)));
  const df = new Map<string, number>(); // keyed by order and n-gram
  for (const rs of refCounts) {
    const seen = new Set<string>();
    for (const r of rs) r.forEach((m, k) => m.forEach((_, g) => seen.add(`${k}\u0000${g}`)));
    for (const key of seen) df.set(key, (df.get(key) ?? 0) + 1);
  }
  const logImages = Math.log(refs.length);
  const vectorOf = (counts: Array<Map<string, number>>): { vec: Array<Map<string, number>>; norm: number[]; length: number } => {
    const vec = counts.map(() => new Map<string, number>());
    const norm = new Array<number>(n).fill(0);
    let length = 0;
    counts.forEach((m, k) => m.forEach((tf, g) => {
      const w = tf * (logImages - Math.log(Math.max(1, df.get(`${k}\u0000${g}`) ?? 0)));
      vec[k].set(g, w);
      norm[k] += w * w;
      if (k === 1) length += tf;
    }));
    return { vec, norm: norm.map(Math.sqrt), length };
  };
  const scores = hyps.map((h, i) => {
    const hv = vectorOf(ngramCounts(h, n));
    let sum = 0;
    for (const rc of refCounts[i]) {
      const rv = vectorOf(rc);
      const delta = hv.length - rv.length;
      let orders = 0;
      for (let k = 0; k < n; k++) {
        let dot = 0;
        hv.vec[k].forEach((w, g) => {
          const r = rv.vec[k].get(g) ?? 0;
          dot += Math.min(w, r) * r;
        });
        if (hv.norm[k] !== 0 && rv.norm[k] !== 0) dot /= hv.norm[k] * rv.norm[k];
        orders += dot * Math.exp(-(delta * delta) / (2 * sigma * sigma));
      }
      sum += orders / n;
    }
    return (sum / refCounts[i].length) * 10;
  });
  return { score: scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length), scores };
}

/** The fraction of hypotheses equal to one of their references, word for word. */
export function exactMatch(hyps: readonly Sentence[], refs: ReadonlyArray<readonly Sentence[]>): number {
  checkCorpus(hyps, refs, 'exactMatch');
  const same = (a: Sentence, b: Sentence): boolean => a.length === b.length && a.every((w, i) => w === b[i]);
  return hyps.filter((h, i) => refs[i].some((r) => same(h, r))).length / Math.max(1, hyps.length);
}
