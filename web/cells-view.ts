// The Cells view: the analysed text coloured character by character by one cell (−1 red, +1 blue), the
// five likeliest next characters under the pointer, the search that ranks every cell by how well it tracks
// a feature (the built-in ones, or a regular expression), and the span-and-threshold select. The numbers
// come from the worker (src/analysis/); this file only shows them.

// The page's thread imports the library's leaf modules only, not its entry: no kernels or heap here.
import type { CellRef, CellSignal } from '../src/analysis/cell-activations.js';
import type { RankedCell } from '../src/analysis/cell-search.js';
import { featureNames, featureTitles } from '../src/analysis/text-features.js';
import { $, codePointSlice, numberField, showChar, type App } from './app.js';
import { activationColor } from './plot.js';
import type { Analysis, FeatureQuery } from './protocol.js';

/** The last analysis (the Gates view draws its saturation too), and who wants to hear of a new one. */
export const analysisState: { analysis: Analysis | null; chars: string[]; listeners: ((a: Analysis) => void)[] } = { analysis: null, chars: [], listeners: [] };

const DEFAULT_CHARS = 3000;
const signalName = (s: CellSignal): string => (s === 'h' ? 'h' : 'tanh(c)');
const cellName = (c: CellRef): string => `layer ${c.layer} ${signalName(c.signal)} ${c.unit}`;

/** The first 3,000 characters of the held-out 10% (what training validates on), or of the whole text if that is shorter. */
export function heldOutExcerpt(text: string): string {
  const { count } = codePointSlice(text, 0, 0);
  const start = count >= 10 * 50 ? Math.floor(count * 0.9) : 0;
  return codePointSlice(text, start, start + DEFAULT_CHARS).slice;
}

export async function analyse(app: App): Promise<Analysis> {
  const text = $<HTMLTextAreaElement>('analyse-text').value;
  if (text.length === 0) throw new Error('there is no text to analyse: type one, or train first (training fills it with held-out text)');
  const { analysis } = await app.client.call({ kind: 'analyse', text });
  analysisState.analysis = analysis;
  analysisState.chars = Array.from(text);
  for (const f of analysisState.listeners) f(analysis);
  return analysis;
}

export function setupCells(app: App): void {
  const colored = $('colored');
  const caption = $('cell-caption');
  const predictions = $('predictions');
  let spans: HTMLSpanElement[] = [];

  const current = (): CellRef => {
    const a = analysisState.analysis!;
    const layer = numberField('cell-layer', 'Layer', (v) => Number.isInteger(v) && v >= 0 && v < a.layers, `an integer in [0, ${a.layers})`);
    const unit = numberField('cell-unit', 'Unit', (v) => Number.isInteger(v) && v >= 0 && v < a.hiddenSize, `an integer in [0, ${a.hiddenSize})`);
    return { layer, signal: $<HTMLSelectElement>('cell-signal').value as CellSignal, unit };
  };

  const show = async (ref: CellRef, why = ''): Promise<void> => {
    $<HTMLInputElement>('cell-layer').value = String(ref.layer);
    $<HTMLSelectElement>('cell-signal').value = ref.signal;
    $<HTMLInputElement>('cell-unit').value = String(ref.unit);
    const { values } = await app.client.call({ kind: 'series', ref });
    for (let t = 0; t < spans.length; t++) spans[t].style.backgroundColor = activationColor(values[t]);
    caption.textContent = `${cellName(ref)} · −1 red, 0 white, +1 blue${why === '' ? '' : ` · ${why}`}`;
  };

  const build = (a: Analysis): void => {
    colored.textContent = '';
    spans = analysisState.chars.map((ch, t) => {
      const s = document.createElement('span');
      s.textContent = ch;
      s.dataset.t = String(t);
      return s;
    });
    colored.append(...spans);
    selected = null;
    $<HTMLInputElement>('cell-layer').max = String(a.layers - 1);
    $<HTMLInputElement>('cell-unit').max = String(a.hiddenSize - 1);
    const signal = $<HTMLSelectElement>('cell-signal');
    signal.options[0].disabled = !a.signals.includes('tanh_c');
    if (!a.signals.includes('tanh_c')) signal.value = 'h';
    $('analyse-info').textContent = `${a.length.toLocaleString('en')} characters, ${a.layers}×${a.hiddenSize} cells, ${a.seconds.toFixed(2)} s`;
  };

  $('analyse').addEventListener('click', () => app.guard(async () => {
    // What was found in the last analysis goes: it was about other activations.
    for (const id of ['ranking', 'span-cells']) $(id).textContent = '';
    $('analyse-info').textContent = 'analysing…';
    const a = await analyse(app);
    build(a);
    await show(current());
  }));
  for (const id of ['cell-layer', 'cell-signal', 'cell-unit']) {
    $(id).addEventListener('change', () => app.guard(async () => {
      if (analysisState.analysis !== null) await show(current());
    }));
  }

  // The five likeliest next characters after the one under the pointer.
  colored.addEventListener('mousemove', (e) => {
    const a = analysisState.analysis;
    const t = Number((e.target as HTMLElement).dataset?.t);
    if (a === null || !Number.isInteger(t)) {
      predictions.hidden = true;
      return;
    }
    const rows = a.topChars[t].map((ch, k) => `${showChar(ch).padEnd(2)} ${(100 * a.topProbs[t * 5 + k]).toFixed(1).padStart(5)}%`);
    predictions.textContent = `after ${JSON.stringify(analysisState.chars.slice(Math.max(0, t - 8), t + 1).join(''))}:\n${rows.join('\n')}`;
    predictions.style.left = `${e.clientX + 14}px`;
    predictions.style.top = `${e.clientY + 14}px`;
    predictions.hidden = false;
  });
  colored.addEventListener('mouseleave', () => (predictions.hidden = true));

  const table = (el: HTMLElement, head: string[], rows: { cells: string[]; ref: CellRef; why: string }[]): void => {
    el.textContent = '';
    const tr = document.createElement('tr');
    for (const h of head) tr.append(Object.assign(document.createElement('th'), { textContent: h }));
    el.append(tr);
    for (const r of rows) {
      const row = document.createElement('tr');
      row.className = 'pick';
      for (const c of r.cells) row.append(Object.assign(document.createElement('td'), { textContent: c }));
      row.addEventListener('click', () => app.guard(() => show(r.ref, r.why)));
      el.append(row);
    }
  };

  const search = async (feature: FeatureQuery, title: string): Promise<void> => {
    if (analysisState.analysis === null) throw new Error('analyse a text first');
    $('ranking').textContent = '';
    const { cells } = await app.client.call({ kind: 'rank', feature });
    const why = (c: RankedCell) => `r = ${c.r.toFixed(3)} with ${title}`;
    table($('ranking'), ['cell', `r with ${title}`], cells.slice(0, 10).map((c) => ({ cells: [cellName(c), c.r.toFixed(3)], ref: c, why: why(c) })));
    if (cells.length > 0) await show(cells[0], why(cells[0]));
  };
  for (const name of featureNames) {
    const b = Object.assign(document.createElement('button'), { type: 'button', textContent: featureTitles[name] });
    b.dataset.feature = name;
    b.addEventListener('click', () => app.guard(() => search({ kind: 'builtin', name }, featureTitles[name])));
    $('feature-buttons').append(b);
  }
  $('regex-search').addEventListener('click', () => app.guard(() => {
    const pattern = $<HTMLInputElement>('regex').value;
    if (pattern === '') throw new Error('type a regular expression to search for');
    return search({ kind: 'regex', pattern, flags: '' }, `/${pattern}/`);
  }));

  // The last stretch selected in the coloured text, from the spans it starts and ends in (kept when the
  // selection moves elsewhere, e.g. into the threshold's box).
  let selected: [number, number] | null = null;
  document.addEventListener('selectionchange', () => {
    const sel = window.getSelection();
    if (sel === null || sel.rangeCount === 0 || sel.isCollapsed) return;
    const r = sel.getRangeAt(0);
    const at = (n: Node | null): number => Number((n instanceof HTMLElement ? n : n?.parentElement)?.dataset?.t);
    let start = at(r.startContainer);
    let end = at(r.endContainer);
    if (!Number.isInteger(start) || !Number.isInteger(end) || !colored.contains(r.startContainer)) return;
    if (r.endOffset === 0 && end > start) end--; // a selection ending at the start of a span does not take it
    selected = [Math.min(start, end), Math.max(start, end) + 1];
  });
  $('span-search').addEventListener('click', () => app.guard(async () => {
    if (analysisState.analysis === null) throw new Error('analyse a text first');
    if (selected === null) throw new Error('select a stretch of the coloured text first');
    const [start, end] = selected;
    const threshold = numberField('threshold', 'Threshold', (v) => v > 0 && v < 1, 'in (0, 1)');
    const { cells } = await app.client.call({ kind: 'span', start, end, threshold });
    const span = JSON.stringify(analysisState.chars.slice(start, end).join(''));
    if (cells.length === 0) throw new Error(`no cell is on (|value| >= ${threshold}) across all of ${span}`);
    table($('span-cells'), ['cell', 'sign', 'on outside'], cells.slice(0, 10).map((c) => ({
      cells: [cellName(c), c.sign > 0 ? '+' : '−', `${(100 * c.onOutside).toFixed(1)}%`], ref: c,
      why: `on across ${span}, ${(100 * c.onOutside).toFixed(1)}% of the rest`,
    })));
    await show(cells[0], `on across ${span}, ${(100 * cells[0].onOutside).toFixed(1)}% of the rest`);
  }));

  // A model trained here analyses held-out text of its own: the box is filled from the training text unless the
  // user has typed in it (a text the vocabulary lacks is then theirs to change).
  let filled = '';
  let filledFrom = '';
  app.onModel((m) => {
    if (m.kind !== 'language-model' || m.hello || !app.training) return;
    const box = $<HTMLTextAreaElement>('analyse-text');
    const { text } = app.text();
    if (text === filledFrom || text.length === 0 || !(box.value === '' || box.value === filled)) return; // (a model push comes with every evaluation)
    box.value = filled = heldOutExcerpt(text);
    filledFrom = text;
  });
}
