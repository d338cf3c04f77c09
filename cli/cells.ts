// `recurrent cells`: what the cells of a character model track, from the command line — the analysis the
// studio page does (src/analysis/): every cell ranked by its correlation with each feature of a text, the
// best printed per feature, and with --html a self-contained page of the text coloured by those cells.

import { writeFileSync } from 'node:fs';
import { activationColor } from '../src/analysis/activation-color.js';
import { cellActivations, cellSeries, recurrentModel, type CellRef } from '../src/analysis/cell-activations.js';
import { rankCells, type RankedCell } from '../src/analysis/cell-search.js';
import { featureNames, featureTitles, regexFeature, textFeature } from '../src/analysis/text-features.js';
import { readTextFile } from '../src/data/text-file.js';
import { loadCheckpoint } from '../src/train/train-language-model.js';
import { UsageError, int, oneOf, parse, str } from './args.js';
import { backendHelp, selectBackend } from './backend-flag.js';

export const CELLS_HELP = `recurrent cells: which cells of a character model track simple features of a text

  recurrent cells --checkpoint DIR --data FILE [--split val|all] [--length N] [--top K] [--regex RE ...]
                  [--html FILE] [--html-length N]

  --checkpoint DIR   a language-model checkpoint (recurrent train)
  --data FILE        the text to read; the model reads it one character at a time from a zero state
  --split S          val: the last 10% of FILE, as training validates (default); all: the whole file
  --length N         read the first N characters of that (default 10000)
  --top K            cells printed per feature (default 3)
  --regex RE         also rank cells by a regular expression's matches (1 inside a match), RE or /RE/FLAGS with
                     flags i, m, s; repeat for more
  --html FILE        write a self-contained page: the text coloured by each feature's best cell
  --html-length N    characters of the text in that page (default 2000)
${backendHelp(21)}

Features: ${featureNames.map((f) => `${f} (${featureTitles[f]})`).join(', ')}; cells are every layer's h and,
for an LSTM, tanh(c). Each is ranked by |r|, Pearson's correlation over the characters.`;

const signalName = (r: CellRef): string => `layer ${r.layer} ${r.signal === 'h' ? 'h' : 'tanh(c)'} ${r.unit}`;

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The text coloured by one cell: a span per character (a run of the same colour shares one), inline styles. */
function coloured(chars: readonly string[], values: Float32Array): string {
  let out = '';
  let run = '';
  let color = '';
  for (let t = 0; t < chars.length; t++) {
    const c = activationColor(values[t]);
    if (c !== color && run !== '') {
      out += `<span style="background:${color}">${escapeHtml(run)}</span>`;
      run = '';
    }
    color = c;
    run += chars[t];
  }
  if (run !== '') out += `<span style="background:${color}">${escapeHtml(run)}</span>`;
  return out;
}

export function cells(argv: string[]): number {
  const v = parse(argv, {
    checkpoint: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, length: { type: 'string' }, top: { type: 'string' },
    regex: { type: 'string', multiple: true }, html: { type: 'string' }, 'html-length': { type: 'string' }, backend: { type: 'string' },
  });
  selectBackend(v);
  const dir = str(v, 'checkpoint');
  const dataPath = str(v, 'data');
  if (dir === undefined) throw new UsageError('cells needs --checkpoint DIR');
  if (dataPath === undefined) throw new UsageError('cells needs --data FILE');
  const split = oneOf(v, 'split', 'val', ['val', 'all'] as const);
  const length = int(v, 'length', 10_000);
  const top = int(v, 'top', 3);
  const html = str(v, 'html');
  if (v['html-length'] !== undefined && html === undefined) throw new UsageError('--html-length applies to --html FILE');
  const htmlLength = int(v, 'html-length', 2000);
  const regexes = (v.regex as unknown as string[] | undefined) ?? [];
  const loaded = loadCheckpoint(dir);
  const { vocab, config, step } = loaded;
  const model = recurrentModel(loaded.model, dir);
  const all = Array.from(readTextFile(dataPath));
  const start = split === 'val' ? Math.floor(all.length * 0.9) : 0;
  const chars = all.slice(start, start + length);
  const text = chars.join('');
  // Every feature checked before the (slow) reading: a bad regular expression fails at once.
  const features: { title: string; values: Float32Array }[] = [
    ...featureNames.map((f) => ({ title: featureTitles[f], values: textFeature(text, f) })),
    ...regexes.map((re) => {
      const literal = /^\/(.*)\/([a-z]*)$/s.exec(re);
      const [pattern, flags] = literal === null ? [re, ''] : [literal[1], literal[2]];
      return { title: `/${pattern}/${flags}`, values: regexFeature(text, pattern, flags) };
    }),
  ];
  const t0 = performance.now();
  const acts = cellActivations(model, vocab, text);
  const seconds = (performance.now() - t0) / 1000;
  const { cell, numLayers: L, hiddenSize: H } = model.config;
  const where = split === 'val' ? `characters ${start.toLocaleString('en')}–${(start + chars.length).toLocaleString('en')} of ${dataPath} (its last 10%)` : `the first ${chars.length.toLocaleString('en')} characters of ${dataPath}`;
  process.stdout.write(`${cell} ${L}×${H} from ${dir} (step ${step}, trained on ${config.data?.name ?? '?'}) over ${where}, read in ${seconds.toFixed(1)} s\n`);
  const best: { title: string; cells: RankedCell[] }[] = [];
  for (const f of features) {
    let ranked: RankedCell[];
    try {
      ranked = rankCells(acts, f.values, top);
    } catch (e) {
      process.stdout.write(`${f.title}: ${(e as Error).message}\n`);
      continue;
    }
    best.push({ title: f.title, cells: ranked });
    process.stdout.write(`${f.title}: ${ranked.map((c) => `${signalName(c)} r=${c.r >= 0 ? '+' : ''}${c.r.toFixed(3)}`).join(', ')}\n`);
  }
  if (html !== undefined) {
    const shown = chars.slice(0, htmlLength);
    const sections = best.map(({ title, cells: [c] }) => {
      const values = cellSeries(acts, c).subarray(0, shown.length);
      return `<section><h2>${escapeHtml(title)}: ${signalName(c)}, r = ${c.r.toFixed(3)}</h2>\n<pre>${coloured(shown, values)}</pre></section>`;
    });
    const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recurrent cells: ${escapeHtml(dir)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330}pre{white-space:pre-wrap;font:13px/1.5 ui-monospace,monospace;border:1px solid #d9dde5;padding:8px}h2{font-size:15px;margin-top:28px}</style></head>
<body><h1>${escapeHtml(`${cell} ${L}×${H}, step ${step}`)}</h1>
<p>${escapeHtml(`The best cell for each feature over ${where}; the first ${shown.length.toLocaleString('en')} characters shown, coloured by the cell's value after each one (−1 red, 0 white, +1 blue). Made by recurrent cells.`)}</p>
${sections.join('\n')}
</body></html>
`;
    writeFileSync(html, page);
    process.stdout.write(`wrote ${html}\n`);
  }
  model.dispose();
  return 0;
}
