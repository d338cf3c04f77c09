// The Gates, Gradient flow, Attention and Unrolled views: each asks the worker for its numbers
// (src/analysis/) and draws them on a canvas (plot.ts).

import type { SelfAttentionMap, Unrolled } from '../src/index.js';
import { $, numberField, positiveInt, showChar, type App } from './app.js';
import { analyse, analysisState, heldOutExcerpt } from './cells-view.js';
import { activationColor, heatmap, linePlot, prepare, unitScatter } from './plot.js';
import type { Analysis, Push } from './protocol.js';

const LAYER_COLORS = ['#2b59c3', '#d9480f', '#2f9e44', '#9c36b5', '#e8590c', '#1098ad'];

export function setupGates(app: App): void {
  const draw = (a: Analysis): void => {
    const box = $('gate-plots');
    box.textContent = '';
    if (a.saturation.length === 0) {
      $('gates-info').textContent = 'this cell has no σ gates (an Elman RNN)';
      return;
    }
    $('gates-info').textContent = `${a.length.toLocaleString('en')} characters: one point per unit, the fraction of characters at which the gate is < 0.1 against > 0.9`;
    for (const s of a.saturation) {
      const c = document.createElement('canvas');
      box.append(c);
      unitScatter(c, s.left, s.right, {
        title: `layer ${s.layer}, gate ${s.gate}`, xLabel: 'left-saturated (< 0.1)', yLabel: 'right-saturated (> 0.9)', color: LAYER_COLORS[s.layer % LAYER_COLORS.length],
      });
    }
  };
  analysisState.listeners.push((a) => {
    if (!$('view-gates').hidden) draw(a);
  });
  window.addEventListener('studio-view', () => {
    if (!$('view-gates').hidden && analysisState.analysis !== null) draw(analysisState.analysis);
  });
  $('gates-refresh').addEventListener('click', () => app.guard(async () => draw(await analyse(app))));
}

export function setupFlow(app: App): void {
  $('flow-run').addEventListener('click', () => app.guard(async () => {
    const length = numberField('flow-length', 'Window', (v) => Number.isInteger(v) && v >= 2, 'an integer >= 2');
    const windows = numberField('flow-windows', 'Windows', positiveInt, 'a positive integer');
    // Held-out text: the Cells view's, or the training text's held-out 10%.
    const own = $<HTMLTextAreaElement>('analyse-text').value;
    const text = Array.from(own).length > length ? own : heldOutExcerpt(app.text().text);
    const t0 = performance.now();
    const { flow } = await app.client.call({ kind: 'flow', text, length, windows });
    const series = flow.h.flatMap((h, l) => {
      const color = LAYER_COLORS[l % LAYER_COLORS.length];
      const out = [{ name: `layer ${l} ‖∂ℓ/∂h_k‖`, color, points: Array.from(h, (v, k) => [k, v] as [number, number]) }];
      if (flow.c !== null) out.push({ name: `layer ${l} ‖∂ℓ/∂c_k‖`, color: `${color}88`, points: Array.from(flow.c[l], (v, k) => [k, v] as [number, number]) });
      return out;
    });
    linePlot($<HTMLCanvasElement>('flow-plot'), series, { xLabel: 'k: steps before the loss', yLabel: 'gradient norm (log)', logY: true });
    $('flow-info').textContent = `${windows} windows of ${length} characters, loss ${flow.loss.toFixed(3)}, ${((performance.now() - t0) / 1000).toFixed(2)} s`;
  }));
}

export function setupAttention(app: App): void {
  setupSelfAttention(app);
  $('decode').addEventListener('click', () => app.guard(async () => {
    const source = $<HTMLInputElement>('source').value;
    if (source.trim() === '') throw new Error('type a source to decode');
    const { map } = await app.client.call({ kind: 'decode', source });
    const joiner = app.model.kind === 'seq2seq' && app.model.srcSplit === 'space' ? ' ' : '';
    $('decoded').textContent = `${map.source.join(joiner)} → ${map.output.join(' ')}${map.finished ? '' : ' (cut at the length limit)'}`;
    if (map.weights === null) throw new Error('this model has no attention (trained with --attention none)');
    heatmap($<HTMLCanvasElement>('attention-plot'), map.weights, map.output.map(showChar), map.source.map(showChar));
  }));
  app.onModel((m) => {
    if (m.kind === 'seq2seq') $('decoded').textContent = `${m.description}, attention ${m.attention}: type a source and decode it`;
  });
}

/** A Transformer's causal self-attention over a typed text: the chosen layer and head (or the heads' average). */
function setupSelfAttention(app: App): void {
  let map: SelfAttentionMap | null = null;
  const layer = $<HTMLSelectElement>('attend-layer');
  const head = $<HTMLSelectElement>('attend-head');
  const draw = (): void => {
    if (map === null) return;
    const m = map;
    const l = Number(layer.value);
    const w = head.value === 'mean' ? m.mean[l] : m.weights[l][Number(head.value)]; // (T, T)
    const T = m.chars.length;
    const labels = m.chars.map(showChar);
    heatmap($<HTMLCanvasElement>('attention-plot'), Array.from({ length: T }, (_, i) => w.subarray(i * T, (i + 1) * T)), labels, labels);
    const which = head.value === 'mean' ? `the average of its ${m.heads} heads` : `head ${head.value} of ${m.heads}`;
    $('decoded').textContent = `layer ${l} of ${m.layers}, ${which}: rows are query positions, columns key positions, each row sums to 1 and nothing lies above the diagonal (causal)`;
  };
  layer.addEventListener('change', draw);
  head.addEventListener('change', draw);
  $('attend').addEventListener('click', () => app.guard(async () => {
    const text = $<HTMLInputElement>('attend-text').value;
    if (text === '') throw new Error('type a text to read');
    map = (await app.client.call({ kind: 'attend', text })).map;
    draw();
  }));
  app.onModel((m) => {
    const t = m.kind === 'transformer';
    $('attend-row').hidden = !t;
    $('decode-row').hidden = t;
    map = null;
    if (!t) return;
    layer.replaceChildren(...Array.from({ length: m.layers }, (_, l) => new Option(String(l), String(l))));
    head.replaceChildren(new Option('average', 'mean'), ...Array.from({ length: m.heads }, (_, h) => new Option(String(h), String(h))));
    $('decoded').textContent = `${m.description}: type a text of at most ${m.context} characters and show its self-attention`;
  });
}

/** The views that read a recurrent model's cells and state, each saying so in its own line when a Transformer is open. */
export function setupNotForTransformers(app: App): void {
  const lines: Record<string, string> = {
    'analyse-info': 'a Transformer has no cells to colour the text with: its view is Attention',
    'gates-info': 'a Transformer has no gates: its view is Attention',
    'flow-info': 'gradient flow runs back through a recurrent state, which a Transformer does not carry: its view is Attention',
    'unrolled-info': 'the unrolled "hello" is a recurrent network\'s (Train "hello" trains one); a Transformer\'s view is Attention',
  };
  app.onModel((m) => {
    for (const [id, line] of Object.entries(lines)) {
      if (m.kind === 'transformer') $(id).textContent = line;
      else if ($(id).textContent === line) $(id).textContent = '';
    }
    if (m.kind !== 'transformer') return;
    // What those views drew of an earlier model goes with it.
    analysisState.analysis = null;
    for (const id of ['colored', 'ranking', 'span-cells', 'gate-plots']) $(id).textContent = '';
    $('predictions').hidden = true;
    $('cell-caption').textContent = 'analyse a text';
    for (const id of ['flow-plot', 'unrolled-plot']) {
      const c = $<HTMLCanvasElement>(id);
      c.width = c.width; // NOTE: setting a canvas's width clears it
    }
  });
}

/** A horizontal arrow from x0 to x1 at y. */
function arrow(g: CanvasRenderingContext2D, x0: number, y: number, x1: number, color: string): void {
  const d = Math.sign(x1 - x0) * 7;
  g.strokeStyle = color;
  g.fillStyle = color;
  g.lineWidth = 1.5;
  g.beginPath(); g.moveTo(x0, y); g.lineTo(x1 - d, y); g.stroke();
  g.beginPath(); g.moveTo(x1, y); g.lineTo(x1 - d, y - 4); g.lineTo(x1 - d, y + 4); g.closePath(); g.fill();
}

/** The lectures' drawing: per step (column) the one-hot input, hidden states, scores, softmax and target; the gradients on the way back. */
function drawUnrolled(canvas: HTMLCanvasElement, u: Unrolled, vocab: readonly string[]): void {
  const { g, w } = prepare(canvas);
  const T = u.steps.length;
  const V = vocab.length;
  const L = u.steps[0].h.length;
  const H = Math.min(u.steps[0].h[0].length, 8);
  const box = 46;
  const colW = Math.max(V, H) * box + 44;
  const x0 = 124;
  const rows: { label: string; y: number }[] = [];
  let y = 20;
  const add = (label: string, height: number): number => {
    rows.push({ label, y });
    const top = y;
    y += height;
    return top;
  };
  const yProb = add('softmax p_t', 84);
  const yScore = add('scores y_t', box + 26);
  const yDy = add('∂L/∂y_t', box + 26);
  const yH: number[] = [];
  const yDh: number[] = [];
  for (let l = L - 1; l >= 0; l--) {
    yH[l] = add(`hidden h_t${L > 1 ? ` (layer ${l})` : ''}`, box + 26);
    yDh[l] = add(`∂L/∂h_t${L > 1 ? ` (layer ${l})` : ''}`, box + 26);
  }
  const yX = add('input x_t', box + 26);
  g.textBaseline = 'middle';
  g.fillStyle = '#6b7280';
  for (const r of rows) g.fillText(r.label, 6, r.y + box / 2);
  const maxAbs = (xs: Float32Array[]): number => Math.max(1e-12, ...xs.map((a) => Math.max(...Array.from(a, Math.abs))));
  const dhScale = maxAbs(u.steps.flatMap((s) => s.dh));
  const dyScale = maxAbs(u.steps.map((s) => s.dScores));
  const scoreScale = maxAbs(u.steps.map((s) => s.scores));
  /** A value in a few characters: 2 decimals, or a power of ten for the small gradients. */
  const short = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 0.01 ? v.toFixed(2) : v.toExponential(0));
  const cells = (values: ArrayLike<number>, n: number, cx: number, cy: number, scale: number, labels?: readonly string[], highlight = -1): void => {
    g.textAlign = 'center';
    for (let i = 0; i < n; i++) {
      const bx = cx + i * box;
      const x = values[i] / scale;
      g.fillStyle = activationColor(x);
      g.fillRect(bx, cy, box - 4, box - 4);
      g.strokeStyle = i === highlight ? '#1d2330' : '#d9dde5';
      g.lineWidth = i === highlight ? 2.5 : 1;
      g.strokeRect(bx, cy, box - 4, box - 4);
      g.fillStyle = Math.abs(x) > 0.6 ? '#fff' : '#1d2330';
      g.fillText(short(values[i]), bx + (box - 4) / 2, cy + (box - 4) / 2);
      if (labels !== undefined) {
        g.fillStyle = '#1d2330';
        g.fillText(showChar(labels[i]), bx + (box - 4) / 2, cy + box + 6);
      }
    }
    g.textAlign = 'left';
  };
  u.steps.forEach((s, t) => {
    const cx = x0 + t * colW;
    g.fillStyle = '#1d2330';
    g.fillText(`t = ${t}: "${showChar(s.input)}" → "${showChar(s.target)}", loss ${s.loss.toFixed(3)}`, cx, 10);
    // The softmax as bars, the target's outlined.
    g.textAlign = 'center';
    for (let i = 0; i < V; i++) {
      const bx = cx + i * box;
      const bh = 56 * s.probs[i];
      g.fillStyle = i === s.targetId ? '#2f9e44' : '#adb5bd';
      g.fillRect(bx, yProb + 60 - bh, box - 4, bh);
      g.fillStyle = '#1d2330';
      g.fillText(s.probs[i].toFixed(2), bx + (box - 4) / 2, yProb + 70);
    }
    g.textAlign = 'left';
    cells(s.scores, V, cx, yScore, scoreScale, vocab, s.targetId);
    cells(s.dScores, V, cx, yDy, dyScale);
    for (let l = 0; l < L; l++) {
      cells(s.h[l], H, cx, yH[l], 1);
      cells(s.dh[l], H, cx, yDh[l], dhScale);
    }
    const onehot = Float32Array.from({ length: V }, (_, i) => (i === s.inputId ? 1 : 0));
    cells(onehot, V, cx, yX, 1, vocab, s.inputId);
    // h_{t-1} → h_t, and its gradient going back.
    if (t > 0) {
      g.strokeStyle = '#2b59c3';
      const from = cx - colW + H * box;
      arrow(g, from, yH[0] + box / 2 - 2, cx - 8, '#2b59c3');
      arrow(g, cx - 8, yDh[0] + box / 2 - 2, from, '#d9480f');
    }
  });
  g.textBaseline = 'alphabetic';
  g.fillStyle = '#6b7280';
  g.fillText(`mean loss L = ${u.loss.toFixed(4)}; cells coloured −1 red to +1 blue (gradients scaled to their largest)${H < u.steps[0].h[0].length ? `; first ${H} hidden units shown` : ''}`, 6, Math.min(y + 12, canvas.getBoundingClientRect().height - 6));
  void w;
}

export function setupUnrolled(app: App, listen: (f: (p: Extract<Push, { kind: 'unrolled' }>) => void) => void, trainHello: () => Promise<void>): void {
  let last: Unrolled | null = null;
  const draw = (): void => {
    if (last === null || $('view-unrolled').hidden || app.model.kind === 'transformer') return; // a Transformer has none: setupNotForTransformers
    const vocab = app.model.kind === 'language-model' ? app.model.vocab : [];
    drawUnrolled($<HTMLCanvasElement>('unrolled-plot'), last, vocab);
    $('unrolled-info').textContent = `step ${app.model.kind === 'language-model' ? app.model.step : 0}: L = ${last.loss.toFixed(4)}; the network reads "hell" and should say "ello"`;
  };
  let pending = false;
  listen((p) => {
    last = p.unrolled;
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        draw();
      });
    }
  });
  window.addEventListener('studio-view', draw);
  $('hello-train').addEventListener('click', () => void trainHello());
  app.onModel((m) => {
    if (m.kind === 'language-model' && m.hello && !app.training) {
      void app.guard(async () => {
        last = (await app.client.call({ kind: 'unroll' })).unrolled;
        draw();
      });
    }
  });
}
