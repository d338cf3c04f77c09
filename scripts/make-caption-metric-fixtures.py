#!/usr/bin/python3
"""Reference numbers for the caption metrics (src/metrics/caption-metrics.ts), from implementations that are
not ours: BLEU from NLTK's corpus_bleu (Debian's python3-nltk), CIDEr-D from the algorithm of the COCO
caption evaluation's ciderD_scorer.py written out again here in plain Python (document frequencies from
the references, log(#images) - log(max(1, df)) weights, the hypothesis vector clipped to the reference's,
a Gaussian penalty exp(-delta^2 / 2 sigma^2) on the difference of the two sentences' bigram counts, x10).

Run:  /usr/bin/python3 scripts/make-caption-metric-fixtures.py   (writes test/fixtures/caption-metrics.json)
The corpora are made here from a fixed seed: a vocabulary of scene words, references from a grammar,
hypotheses that copy, perturb, shorten or lengthen them, so every branch (clipping, brevity penalty, ties
of the closest reference length, zero precisions) is exercised.
"""
import json
import math
import random
from collections import Counter, defaultdict
from pathlib import Path

from nltk.translate.bleu_score import corpus_bleu

rng = random.Random(20261203)
SHAPES = ['circle', 'square', 'triangle']
COLOURS = ['red', 'green', 'blue', 'yellow']
SIZES = ['small', 'large']
RELS = ['above', 'below', 'left of', 'right of']


def phrase():
    return f'a {rng.choice(SIZES)} {rng.choice(COLOURS)} {rng.choice(SHAPES)}'


def caption():
    if rng.random() < 0.3:
        return phrase().split()
    return f'{phrase()} {rng.choice(RELS)} {phrase()}'.split()


def perturb(ref):
    h = list(ref)
    kind = rng.randrange(5)
    if kind == 0:
        return h  # exact
    if kind == 1:  # swap a word
        i = rng.randrange(len(h))
        h[i] = rng.choice(SHAPES + COLOURS + SIZES)
        return h
    if kind == 2:  # shorter (at least 4 words: see coco_bleu below)
        return h[: max(4, len(h) - rng.randrange(1, 4))]
    if kind == 3:  # longer, with repeats (clipping)
        return h + h[: rng.randrange(1, 4)]
    return caption()  # unrelated


def corpus(n_images, n_refs):
    refs = [[caption() for _ in range(rng.randrange(1, n_refs + 1))] for _ in range(n_images)]
    hyps = [perturb(rng.choice(rs)) for rs in refs]
    return hyps, refs


def coco_bleu(hyps, refss, n=4):
    """BLEU as the COCO evaluation counts it (bleu_scorer.py, without its 1e-15/1e-9 guards): a hypothesis
    of fewer than k words offers no k-gram (NLTK's modified_precision counts max(1, 0) = 1 there instead, so
    NLTK and COCO agree only when every hypothesis has at least n words; the corpora above keep to that)."""
    correct, guess = [0] * n, [0] * n
    hyp_len = ref_len = 0
    for h, rs in zip(hyps, refss):
        hc = precook(h, n)
        maxref = Counter()
        for r in rs:
            for g, c in precook(r, n).items():
                maxref[g] = max(maxref[g], c)
        for g, c in hc.items():
            correct[len(g) - 1] += min(c, maxref[g])
            guess[len(g) - 1] += c
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
    if min(correct) == 0:
        return 0.0
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(sum(math.log(c / g) for c, g in zip(correct, guess)) / n)


def precook(words, n):
    counts = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def cider_d(hyps, refss, n=4, sigma=6.0):
    crefs = [[precook(r, n) for r in rs] for rs in refss]
    ctest = [precook(h, n) for h in hyps]
    df = defaultdict(float)
    for rs in crefs:
        for ngram in set(g for r in rs for g in r):
            df[ngram] += 1
    ref_len = math.log(float(len(crefs)))

    def vec(cnts):
        v = [defaultdict(float) for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for ngram, tf in cnts.items():
            k = len(ngram) - 1
            w = float(tf) * (ref_len - math.log(max(1.0, df[ngram])))
            v[k][ngram] = w
            norm[k] += w * w
            if k == 1:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    scores = []
    for test, rs in zip(ctest, crefs):
        vh, nh, lh = vec(test)
        total = 0.0
        for r in rs:
            vr, nr, lr = vec(r)
            delta = float(lh - lr)
            per = 0.0
            for k in range(n):
                val = sum(min(w, vr[k][g]) * vr[k][g] for g, w in vh[k].items())
                if nh[k] != 0 and nr[k] != 0:
                    val /= nh[k] * nr[k]
                per += val * math.e ** (-(delta ** 2) / (2 * sigma ** 2))
            total += per / n
        scores.append(total / len(rs) * 10.0)
    return sum(scores) / len(scores), scores


cases = []
for name, (n_images, n_refs) in {'small': (6, 3), 'medium': (40, 5), 'single-reference': (25, 1)}.items():
    hyps, refs = corpus(n_images, n_refs)
    score, scores = cider_d(hyps, refs)
    cases.append({'name': name, 'hyps': hyps, 'refs': refs, 'bleu4': float(corpus_bleu(refs, hyps)),
                  'bleu2': float(corpus_bleu(refs, hyps, weights=(0.5, 0.5))), 'ciderD': score, 'ciderDPerImage': scores})
# No 4-gram matches anywhere: unsmoothed BLEU-4 is 0 (NLTK warns and returns 0).
hyps = [['a', 'red', 'circle'], ['blue', 'square']]
refs = [[['a', 'red', 'square', 'above', 'a', 'circle']], [['a', 'blue', 'square']]]
score, scores = cider_d(hyps, refs)
cases.append({'name': 'no-4gram', 'hyps': hyps, 'refs': refs, 'bleu4': float(corpus_bleu(refs, hyps)),
              'bleu2': float(corpus_bleu(refs, hyps, weights=(0.5, 0.5))), 'ciderD': score, 'ciderDPerImage': scores})

# Hypotheses shorter than 4 words: the COCO count (expected), and NLTK's, which differs (kept to show it).
hyps = [['a', 'red', 'circle'], ['a', 'blue', 'square', 'below', 'a', 'circle'], ['a', 'small', 'green', 'triangle']]
refs = [[['a', 'red', 'circle']], [['a', 'blue', 'square', 'below', 'a', 'red', 'circle']], [['a', 'small', 'green', 'triangle'], ['a', 'green', 'triangle']]]
score, scores = cider_d(hyps, refs)
cases.append({'name': 'short-hypotheses', 'hyps': hyps, 'refs': refs, 'bleu4': coco_bleu(hyps, refs), 'nltkBleu4': float(corpus_bleu(refs, hyps)),
              'bleu2': coco_bleu(hyps, refs, 2), 'ciderD': score, 'ciderDPerImage': scores})
for c in cases[:-1]:
    assert abs(coco_bleu(c['hyps'], c['refs']) - c['bleu4']) < 1e-12 or c['bleu4'] < 1e-100, c['name']

out = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'caption-metrics.json'
out.write_text(json.dumps({'generator': 'scripts/make-caption-metric-fixtures.py', 'cases': cases}, indent=1) + '\n')
print(f'wrote {out} ({len(cases)} cases)')
