// The studio's charts, on plain canvas: a line chart (linear or log y), a scatter of points in the unit
// square, and a heat map with row and column labels. The plots are few and simple, so no charting library
// (and nothing loaded off the page's origin).

export { activationColor } from '../src/analysis/activation-color.js';

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw dots instead of a line. */
  dots?: boolean;
}

const FONT = '11px system-ui, sans-serif';
const AXIS = '#6b7280';
const GRID = '#eceef2';

/** The canvas' 2-D context sized to its CSS box at the device's pixel ratio, cleared; its CSS width and height. */
export function prepare(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; w: number; h: number } {
  const r = canvas.getBoundingClientRect();
  const dpr = globalThis.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(r.width));
  const h = Math.max(1, Math.round(r.height));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  g.font = FONT;
  return { g, w, h };
}

/** About `n` round tick values over [lo, hi]. */
function ticks(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const label = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(3))));

export function linePlot(
  canvas: HTMLCanvasElement, series: readonly Series[], o: { xLabel: string; yLabel: string; logY?: boolean; title?: string },
): void {
  const { g, w, h } = prepare(canvas);
  const m = { l: 62, r: 12, t: o.title ? 22 : 10, b: 34 };
  const fy = o.logY === true ? (v: number) => Math.log10(v) : (v: number) => v;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(fy(y))) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, fy(y)); y1 = Math.max(y1, fy(y));
    }
  }
  if (o.title) {
    g.fillStyle = '#1d2330';
    g.fillText(o.title, m.l, 14);
  }
  if (!Number.isFinite(x0)) {
    g.fillStyle = AXIS;
    g.fillText('no data yet', w / 2 - 30, h / 2);
    return;
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (w - m.l - m.r);
  const py = (y: number) => h - m.b - ((y - y0) / (y1 - y0)) * (h - m.t - m.b);
  g.strokeStyle = GRID;
  g.fillStyle = AXIS;
  g.lineWidth = 1;
  const yTicks = o.logY === true ? ticks(Math.floor(y0), Math.ceil(y1), 6).filter((v) => v >= y0 && v <= y1 && Number.isInteger(v)) : ticks(y0, y1, 5);
  g.textAlign = 'right';
  for (const v of yTicks) {
    g.beginPath(); g.moveTo(m.l, py(v)); g.lineTo(w - m.r, py(v)); g.stroke();
    g.fillText(o.logY === true ? `1e${v}` : label(v), m.l - 4, py(v) + 4);
  }
  g.textAlign = 'left';
  for (const v of ticks(x0, x1, 6)) {
    g.beginPath(); g.moveTo(px(v), m.t); g.lineTo(px(v), h - m.b); g.stroke();
    g.fillText(label(v), px(v) - 8, h - m.b + 14);
  }
  g.fillText(o.xLabel, w / 2 - 20, h - 4);
  g.save(); g.translate(11, m.t + (h - m.t - m.b) / 2); g.rotate(-Math.PI / 2); g.textAlign = 'center'; g.fillText(o.yLabel, 0, 0); g.restore();
  let legendX = m.l + 8;
  for (const s of series) {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.lineWidth = 1.5;
    if (s.dots === true) {
      for (const [x, y] of s.points) if (Number.isFinite(fy(y))) { g.beginPath(); g.arc(px(x), py(fy(y)), 2.5, 0, 2 * Math.PI); g.fill(); }
    } else {
      g.beginPath();
      let first = true;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(fy(y))) { first = true; continue; }
        if (first) g.moveTo(px(x), py(fy(y))); else g.lineTo(px(x), py(fy(y)));
        first = false;
      }
      g.stroke();
    }
    g.fillRect(legendX, m.t + 4, 10, 3);
    g.fillStyle = '#1d2330';
    g.fillText(s.name, legendX + 14, m.t + 9);
    legendX += 24 + g.measureText(s.name).width;
  }
}

/** Points in [0, 1]², with the diagonal x + y = 1 (where a unit is always saturated one way or the other). */
export function unitScatter(canvas: HTMLCanvasElement, xs: ArrayLike<number>, ys: ArrayLike<number>, o: { title: string; xLabel: string; yLabel: string; color: string }): void {
  const { g, w, h } = prepare(canvas);
  const m = { l: 46, r: 10, t: 22, b: 30 };
  const side = Math.min(w - m.l - m.r, h - m.t - m.b);
  const px = (x: number) => m.l + x * side;
  const py = (y: number) => m.t + (1 - y) * side;
  g.fillStyle = '#1d2330';
  g.fillText(o.title, m.l, 14);
  g.strokeStyle = GRID;
  g.fillStyle = AXIS;
  for (const v of [0, 0.5, 1]) {
    g.beginPath(); g.moveTo(px(v), py(0)); g.lineTo(px(v), py(1)); g.stroke();
    g.beginPath(); g.moveTo(px(0), py(v)); g.lineTo(px(1), py(v)); g.stroke();
    g.fillText(String(v), px(v) - 6, py(0) + 13);
    g.fillText(String(v), m.l - 22, py(v) + 4);
  }
  g.setLineDash([4, 3]);
  g.beginPath(); g.moveTo(px(0), py(1)); g.lineTo(px(1), py(0)); g.stroke();
  g.setLineDash([]);
  g.textAlign = 'center';
  g.fillText(o.xLabel, px(0.5), h - 4);
  g.textAlign = 'left';
  g.save(); g.translate(10, py(0.5)); g.rotate(-Math.PI / 2); g.textAlign = 'center'; g.fillText(o.yLabel, 0, 0); g.restore();
  g.fillStyle = o.color;
  g.globalAlpha = 0.6;
  for (let i = 0; i < xs.length; i++) { g.beginPath(); g.arc(px(xs[i]), py(ys[i]), 2.5, 0, 2 * Math.PI); g.fill(); }
  g.globalAlpha = 1;
}

/** rows × columns weights in [0, 1], dark = high, with labels. */
export function heatmap(canvas: HTMLCanvasElement, weights: readonly ArrayLike<number>[], rowLabels: readonly string[], colLabels: readonly string[]): void {
  const { g, w, h } = prepare(canvas);
  const m = { l: 60, t: 48, r: 10, b: 10 };
  const R = weights.length;
  const C = colLabels.length;
  if (R === 0 || C === 0) return;
  const cell = Math.max(4, Math.min((w - m.l - m.r) / C, (h - m.t - m.b) / R, 40));
  g.textBaseline = 'middle';
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) {
      const v = Math.max(0, Math.min(1, weights[i][j]));
      const c = Math.round(255 * (1 - v));
      g.fillStyle = `rgb(${c},${c},${Math.round(255 - 120 * v)})`;
      g.fillRect(m.l + j * cell, m.t + i * cell, cell - 1, cell - 1);
    }
    g.fillStyle = '#1d2330';
    g.fillText(rowLabels[i], 6, m.t + (i + 0.5) * cell);
  }
  for (let j = 0; j < C; j++) {
    g.save();
    g.translate(m.l + (j + 0.5) * cell, m.t - 6);
    g.rotate(-Math.PI / 3);
    g.fillStyle = '#1d2330';
    g.fillText(colLabels[j], 0, 0);
    g.restore();
  }
  g.textBaseline = 'alphabetic';
}
