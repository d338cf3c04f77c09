// BLEU and CIDEr-D against reference numbers from implementations that are not ours (NLTK's corpus_bleu and
// the COCO CIDEr-D algorithm written again in Python), on corpora made by scripts/make-caption-metric-fixtures.py.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ciderD, corpusBleu, exactMatch } from '../src/metrics/caption-metrics.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = JSON.parse(readFileSync(join(here, '..', '..', 'test', 'fixtures', 'caption-metrics.json'), 'utf8')) as {
  cases: Array<{ name: string; hyps: string[][]; refs: string[][][]; bleu4: number; nltkBleu4?: number; bleu2: number; ciderD: number; ciderDPerImage: number[] }>;
};

test('corpus BLEU-4 and BLEU-2 equal NLTK corpus_bleu (closest reference length, no smoothing), and COCO\'s count for short hypotheses', () => {
  for (const c of fixtures.cases) {
    assert.ok(Math.abs(corpusBleu(c.hyps, c.refs) - c.bleu4) < 1e-12, `${c.name}: BLEU-4 ${corpusBleu(c.hyps, c.refs)} vs NLTK ${c.bleu4}`);
    assert.ok(Math.abs(corpusBleu(c.hyps, c.refs, 2) - c.bleu2) < 1e-12, `${c.name}: BLEU-2`);
  }
  assert.ok(fixtures.cases.some((c) => c.bleu4 < 1e-100), 'a corpus without a matching 4-gram is in the fixtures');
  // A hypothesis of fewer than 4 words offers no 4-gram (COCO); NLTK counts one there, and differs.
  const short = fixtures.cases.find((c) => c.name === 'short-hypotheses')!;
  assert.ok(Math.abs(short.nltkBleu4! - short.bleu4) > 1e-3, 'the fixture shows the difference');
});

test('CIDEr-D equals the reference implementation, per image and over the corpus', () => {
  for (const c of fixtures.cases) {
    const got = ciderD(c.hyps, c.refs);
    assert.ok(Math.abs(got.score - c.ciderD) < 1e-9, `${c.name}: ${got.score} vs ${c.ciderD}`);
    got.scores.forEach((s, i) => assert.ok(Math.abs(s - c.ciderDPerImage[i]) < 1e-9, `${c.name} image ${i}`));
  }
});

test('exact match; a hypothesis without references is an error', () => {
  assert.equal(exactMatch([['a', 'b'], ['c']], [[['x'], ['a', 'b']], [['c', 'd']]]), 0.5);
  assert.throws(() => corpusBleu([['a']], [[]]), /corpusBleu: hypothesis 0 has no reference/);
  assert.throws(() => ciderD([['a']], []), /ciderD: 1 hypotheses but 0 reference sets/);
});
