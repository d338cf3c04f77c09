// `recurrent caption data`: the generated datasets for captioning and visual questions (src/data/scenes.ts,
// src/data/caption-dataset.ts), written as JSON lines and PNGs. Deterministic: the same seed writes the
// same bytes.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_KINDS, HELD_OUT, SPLITS, datasetItem, type DatasetKind } from '../src/data/caption-dataset.js';
import { UsageError, int, parse, runSubcommand, str } from './args.js';

export const CAPTION_HELP = `recurrent caption: image captioning on generated images

Usage:
  recurrent caption data --out DIR [--seed S] [--kinds scenes,numbers,questions] [--train N]

  --out DIR     where to write (a new or empty directory): DIR/KIND/SPLIT.jsonl, one record per image, and
                the images as PNGs under DIR/KIND/images/SPLIT/
  --seed S      seed of every image, caption and question (default 1); the same seed writes the same bytes
  --kinds K,..  scenes (one to four shapes with captions, and a test-novel split of the colour–shape pairs
                ${HELD_OUT.map(([c, s]) => `${c} ${s}`).join(' and ')} that no other split holds), numbers (digits drawn
                with a bitmap font, captioned by their digits), questions (scenes with one-word-answer
                questions: colour, shape, count, relation) (default all three)
  --train N     training images per kind (default ${SPLITS.scenes.train}); validation N/16 and test N/8`;

function data(argv: string[]): number {
  const v = parse(argv, { out: { type: 'string' }, seed: { type: 'string' }, kinds: { type: 'string' }, train: { type: 'string' } });
  const out = str(v, 'out');
  if (out === undefined) throw new UsageError('caption data needs --out DIR');
  const seed = int(v, 'seed', 1, 0);
  const train = int(v, 'train', SPLITS.scenes.train);
  const kinds = (str(v, 'kinds') ?? DATASET_KINDS.join(',')).split(',').map((k) => k.trim());
  for (const k of kinds) if (!DATASET_KINDS.includes(k as DatasetKind)) throw new UsageError(`unknown --kinds "${k}" (choose from: ${DATASET_KINDS.join(', ')})`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty; choose a new --out (a dataset is never written over another)`);
  const counts = (kind: DatasetKind): Record<string, number> =>
    Object.fromEntries(Object.keys(SPLITS[kind]).map((s) => [s, s === 'train' ? train : Math.max(1, Math.round(train / (s === 'val' ? 16 : 8)))]));
  const summary: Record<string, Record<string, number>> = {};
  for (const kind of kinds as DatasetKind[]) {
    summary[kind] = counts(kind);
    for (const [split, n] of Object.entries(summary[kind])) {
      mkdirSync(join(out, kind, 'images', split), { recursive: true });
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const { record, png } = datasetItem(kind, split, i, seed);
        writeFileSync(join(out, kind, record.image), png);
        lines.push(JSON.stringify(record));
      }
      writeFileSync(join(out, kind, `${split}.jsonl`), lines.join('\n') + '\n');
      process.stdout.write(`${kind}/${split}: ${n} images\n`);
    }
  }
  writeFileSync(join(out, 'dataset.json'), JSON.stringify({ generator: 'recurrent caption data', seed, heldOut: HELD_OUT, splits: summary }, null, 2) + '\n');
  return 0;
}

export function caption(argv: string[]): Promise<number> {
  return runSubcommand('caption', CAPTION_HELP, { data }, argv);
}
