// Seq2seq decoding: beam search of width 1 is greedy decoding; a beam wide enough to keep every prefix
// is exhaustive search; an ensemble of one model is that model (greedy, sampling, beam); an ensemble
// averages probabilities; members with different vocabularies are refused; decoding frees its memory.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beamSearch } from '../src/decode/beam-search.js';
import { createScorer, disposeScorerState, type Seq2SeqModels } from '../src/decode/ensemble.js';
import { greedyDecode, sampleDecode, type Hypothesis } from '../src/decode/greedy.js';
import { Seq2Seq, seq2seqAttentionKinds, type Seq2SeqConfig } from '../src/nn/seq2seq.js';
import { Rng } from '../src/random/rng.js';
import { heap } from '../src/tensor/heap.js';
import { noGrad, tidy } from '../src/tensor/tensor.js';

const base: Seq2SeqConfig = { cell: 'gru', srcVocabSize: 6, tgtVocabSize: 5, embeddingSize: 4, hiddenSize: 6, bos: 0, eos: 1 };
const sources = [[1, 2, 3], [4], [5, 5, 0, 2]];

function models(): Seq2Seq[] {
  return seq2seqAttentionKinds.flatMap((attention, i) => [
    new Seq2Seq({ ...base, attention }, new Rng(10 + i)),
    new Seq2Seq({ ...base, cell: 'lstm', attention, bidirectional: attention !== 'luong-dot', ...(attention.startsWith('luong') ? { inputFeeding: true } : {}) }, new Rng(20 + i)),
  ]);
}

function close(a: number, b: number, tol = 1e-9): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

function assertSameHyp(what: string, got: Hypothesis, want: Hypothesis, tol = 1e-9): void {
  assert.deepEqual(got.tokens, want.tokens, `${what}: tokens`);
  assert.equal(got.finished, want.finished, `${what}: finished`);
  assert.ok(close(got.logProb, want.logProb, tol), `${what}: logProb ${got.logProb} vs ${want.logProb}`);
  assert.equal(got.weights === null, want.weights === null, `${what}: weights`);
  got.weights?.forEach((w, t) => w.forEach((v, j) => assert.ok(Math.abs(v - want.weights![t][j]) < 1e-6, `${what}: weights[${t}][${j}]`)));
}

/** log p(tokens, then eos) under the scorer, stepped by hand. */
function sequenceLogProb(m: Seq2SeqModels, src: number[], tokens: number[]): number {
  const scorer = createScorer(m);
  return noGrad(() => tidy(() => {
    let state = scorer.start([src]);
    let lp = 0;
    let prev = scorer.bos;
    for (const next of [...tokens, scorer.eos]) {
      const out = tidy(() => scorer.step(state, Int32Array.of(prev)));
      disposeScorerState(state, out.state);
      state = out.state;
      lp += out.logProbs[next];
      prev = next;
    }
    return lp;
  }));
}

test('beam search of width 1 is greedy decoding', () => {
  for (const m of models()) {
    for (const maxLength of [1, 3, 8]) {
      const greedy = greedyDecode(m, sources, { maxLength });
      sources.forEach((src, i) => {
        const [beam] = beamSearch(m, src, { beamWidth: 1, maxLength });
        assertSameHyp(`${m.config.cell} ${m.config.attention} maxLength ${maxLength} source ${i}`, beam, greedy[i], 1e-6);
      });
    }
  }
});

test('a beam that keeps every prefix is exhaustive search: the n-best list is every finished sequence, best first', () => {
  for (const m of models().slice(0, 4)) {
    for (const alpha of [0, 1]) {
      const src = sources[0];
      const maxLength = 3;
      const V = base.tgtVocabSize;
      // Every sequence of non-eos symbols of length < maxLength, followed by eos.
      const all: number[][] = [[]];
      for (let len = 1; len < maxLength; len++) {
        for (const s of all.filter((x) => x.length === len - 1)) for (let v = 0; v < V; v++) if (v !== base.eos) all.push([...s, v]);
      }
      const want = all
        .map((tokens) => ({ tokens, lp: sequenceLogProb(m, src, tokens) }))
        .map((x) => ({ ...x, score: x.lp / Math.pow(x.tokens.length + 1, alpha) }))
        .sort((a, b) => b.score - a.score);
      const K = 256; // more than the (V−1)^2·V candidates of the last step: nothing is pruned
      const got = beamSearch(m, src, { beamWidth: K, maxLength, lengthPenalty: alpha, nBest: all.length });
      assert.equal(got.length, all.length, 'every finished sequence');
      got.forEach((h, i) => {
        assert.ok(h.finished);
        assert.ok(close(h.score, want[i].score, 1e-6), `${m.config.attention} α=${alpha} #${i}: score ${h.score} vs ${want[i].score}`);
        assert.ok(close(h.logProb, sequenceLogProb(m, src, h.tokens), 1e-6), `logProb ${h.logProb} vs ${sequenceLogProb(m, src, h.tokens)}`);
        assert.ok(close(h.score, h.logProb / Math.pow(h.tokens.length + 1, alpha), 1e-12), 'score = logProb / len^α');
        if (i > 0) assert.ok(got[i - 1].score >= h.score, 'sorted best first');
      });
    }
  }
});

test('an ensemble of one model is that model: greedy, sampling and beam search', () => {
  for (const m of models()) {
    const what = `${m.config.cell} ${m.config.attention}`;
    const g1 = greedyDecode(m, sources, { maxLength: 6 });
    const gE = greedyDecode([m], sources, { maxLength: 6 });
    g1.forEach((h, i) => assertSameHyp(`${what} greedy ${i}`, gE[i], h, 1e-6));
    const s1 = sampleDecode(m, sources, { maxLength: 6, temperature: 0.9, topK: 4 }, new Rng(5));
    const sE = sampleDecode([m], sources, { maxLength: 6, temperature: 0.9, topK: 4 }, new Rng(5));
    s1.forEach((h, i) => assertSameHyp(`${what} sample ${i}`, sE[i], h, 1e-6));
    const b1 = beamSearch(m, sources[2], { beamWidth: 3, maxLength: 6, nBest: 3 });
    const bE = beamSearch([m], sources[2], { beamWidth: 3, maxLength: 6, nBest: 3 });
    assert.equal(bE.length, b1.length);
    b1.forEach((h, i) => assertSameHyp(`${what} beam ${i}`, bE[i], h, 1e-6));
  }
});

test('an ensemble averages the members\' next-symbol probabilities; decoding runs on the mean', () => {
  const ms = [new Seq2Seq({ ...base, attention: 'bahdanau' }, new Rng(1)), new Seq2Seq({ ...base, cell: 'lstm', hiddenSize: 3 }, new Rng(2)), new Seq2Seq(base, new Rng(3))];
  const step = (m: Seq2SeqModels): Float64Array => noGrad(() => tidy(() => createScorer(m).step(createScorer(m).start(sources), new Int32Array(3).fill(base.bos)).logProbs));
  const each = ms.map((m) => step(m));
  const mean = step(ms);
  mean.forEach((lp, k) => assert.ok(close(lp, Math.log((Math.exp(each[0][k]) + Math.exp(each[1][k]) + Math.exp(each[2][k])) / 3), 1e-12)));
  // Greedy's first symbol is the argmax of the mean, and beam search returns a sorted n-best list.
  const g = greedyDecode(ms, [sources[0]], { maxLength: 1 })[0];
  const first = g.finished ? base.eos : g.tokens[0];
  const row = Array.from(mean.subarray(0, base.tgtVocabSize));
  assert.equal(first, row.indexOf(Math.max(...row)));
  const nbest = beamSearch(ms, sources[0], { beamWidth: 4, maxLength: 5, nBest: 4, lengthPenalty: 0.6 });
  assert.ok(nbest.length >= 1 && nbest.length <= 4);
  for (let i = 1; i < nbest.length; i++) assert.ok(nbest[i - 1].score >= nbest[i].score);
  for (const h of nbest) if (h.finished) assert.ok(close(h.logProb, sequenceLogProb(ms, sources[0], h.tokens), 1e-6), `logProb ${h.logProb} vs ${sequenceLogProb(ms, sources[0], h.tokens)}`);
  // Attention weights (the mean over the attending members) cover the real source positions and sum to 1.
  for (const h of nbest) {
    assert.equal(h.weights!.length, h.tokens.length + (h.finished ? 1 : 0));
    for (const w of h.weights!) {
      assert.equal(w.length, sources[0].length);
      assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
  }
});

test('members with different vocabularies or special symbols are refused; bad options are named', () => {
  const a = new Seq2Seq(base, new Rng(1));
  assert.throws(() => greedyDecode([a, new Seq2Seq({ ...base, tgtVocabSize: 7 }, new Rng(2))], sources, { maxLength: 3 }), /ensemble: member 1 has tgtVocabSize 7, member 0 has 5/);
  assert.throws(() => beamSearch([a, new Seq2Seq({ ...base, srcVocabSize: 9 }, new Rng(2))], sources[0], { beamWidth: 2, maxLength: 3 }), /member 1 has srcVocabSize 9/);
  assert.throws(() => sampleDecode([a, new Seq2Seq({ ...base, eos: 2 }, new Rng(2))], sources, { maxLength: 3 }, new Rng(1)), /member 1 has eos 2, member 0 has 1/);
  assert.throws(() => greedyDecode([], sources, { maxLength: 3 }), /ensemble: needs at least one model/);
  assert.throws(() => beamSearch(a, sources[0], { beamWidth: 0, maxLength: 3 }), /beamWidth must be a positive integer, got 0/);
  assert.throws(() => beamSearch(a, sources[0], { beamWidth: 2, maxLength: 3, nBest: 3 }), /nBest must be an integer in \[1, beamWidth = 2\], got 3/);
  assert.throws(() => beamSearch(a, sources[0], { beamWidth: 2, maxLength: 3, lengthPenalty: -1 }), /lengthPenalty must be a number >= 0/);
  assert.throws(() => beamSearch(a, sources[0], { beamWidth: 2, maxLength: 3, length: 4 } as never), /beamSearch options: unknown option "length"/);
  assert.throws(() => greedyDecode(a, sources, { maxLength: 0 }), /greedyDecode: maxLength must be a positive integer, got 0/);
  assert.throws(() => greedyDecode(a, [[1, 6]], { maxLength: 3 }), /src\[0\]\[1\] = 6 is outside the vocabulary \[0, 6\)/);
  assert.throws(() => sampleDecode(a, sources, { maxLength: 3, temperature: 0 }, new Rng(1)), /temperature must be a positive number/);
});

test('decoding frees everything it makes', () => {
  const ms = models();
  greedyDecode(ms[1], sources, { maxLength: 4 }); // warm-up: first-use allocations (none expected, but cheap to exclude)
  const before = heap.stats().bytesInUse;
  for (const m of ms) {
    greedyDecode(m, sources, { maxLength: 5 });
    sampleDecode(m, sources, { maxLength: 5 }, new Rng(3));
    beamSearch(m, sources[0], { beamWidth: 3, maxLength: 5 });
  }
  beamSearch(ms, sources[2], { beamWidth: 2, maxLength: 4 });
  assert.equal(heap.stats().bytesInUse, before);
});
