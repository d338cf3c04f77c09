// lineChartSvg: a small, dependency-free SVG line chart for the experiments' figures — several named
// series, linear or log10 axes, ticks, gridlines and a legend. Not a plotting library: no layout
// engine, no text measurement beyond a fixed character width, one chart per file.

export interface Series {
  name: string;
  /** Any CSS colour. */
  color: string;
  /** (x, y) points in order; a point that cannot be drawn (non-finite, or <= 0 on a log axis) breaks the line. */
  points: ReadonlyArray<readonly [number, number]>;
  /** Dashed line (e.g. "at initialisation" against "after training"). Default false. */
  dashed?: boolean;
  /** Stroke width, default 1.8 (wider lines drawn first let coinciding series show as nested stripes). */
  width?: number;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  /** Where the x ticks go; default decades on a log axis, round values on a linear one. */
  xTicks?: number[];
  /** Axis ranges; default the data's extent (widened to whole decades on a log axis). */
  xRange?: [number, number];
  yRange?: [number, number];
  /** A line of small print under the chart (method, caveats). */
  note?: string;
  width?: number;
  height?: number;
}


/** The chart as a standalone SVG document. */
export function lineChartSvg(o: ChartOptions): string {
  // The legend sits right of the plot: room for the longest name at ~7 px a character.
  const MARGIN = { left: 78, right: 60 + 7 * Math.max(0, ...o.series.map((s) => s.name.length)), top: 40, bottom: 62 };
  const width = o.width ?? 760;
  const height = o.height ?? 440;
  const xLog = o.xLog ?? false;
  const yLog = o.yLog ?? false;
  const drawable = (x: number, y: number): boolean => Number.isFinite(x) && Number.isFinite(y) && (!xLog || x > 0) && (!yLog || y > 0);
  const pts = o.series.flatMap((s) => s.points.filter(([x, y]) => drawable(x, y)));
  if (pts.length === 0 && (o.xRange === undefined || o.yRange === undefined)) throw new Error(`lineChartSvg "${o.title}": no drawable points and no axis ranges`);
  const xr = o.xRange ?? extent(pts.map((p) => p[0]), xLog);
  const yr = o.yRange ?? extent(pts.map((p) => p[1]), yLog);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const tx = (v: number): number => (xLog ? Math.log10(v) : v);
  const ty = (v: number): number => (yLog ? Math.log10(v) : v);
  const [x0, x1] = [tx(xr[0]), tx(xr[1])];
  const [y0, y1] = [ty(yr[0]), ty(yr[1])];
  const px = (x: number): number => MARGIN.left + ((tx(x) - x0) / (x1 - x0 || 1)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - ((ty(y) - y0) / (y1 - y0 || 1)) * plotH;
  const inside = (x: number, y: number): boolean => drawable(x, y) && tx(x) >= x0 - 1e-9 && tx(x) <= x1 + 1e-9 && ty(y) >= y0 - 1e-9 && ty(y) <= y1 + 1e-9;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);

  // Gridlines and tick labels.
  for (const v of o.xTicks ?? ticks(xr, xLog)) {
    const x = px(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label(v, xLog)}</text>`);
  }
  for (const v of ticks(yr, yLog)) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(v, yLog)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 36}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);

  // Lines: a run of consecutive drawable points is one polyline; single points get a dot.
  for (const s of o.series) {
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    let run: string[] = [];
    const flush = (): void => {
      if (run.length === 1) out.push(`<circle cx="${run[0].split(',')[0]}" cy="${run[0].split(',')[1]}" r="2.5" fill="${s.color}"/>`);
      else if (run.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}"${dash} points="${run.join(' ')}"/>`);
      run = [];
    };
    for (const [x, y] of s.points) {
      if (inside(x, y)) run.push(`${px(x).toFixed(1)},${py(y).toFixed(1)}`);
      else flush();
    }
    flush();
    if (s.points.length <= 12) {
      for (const [x, y] of s.points) if (inside(x, y)) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
  }

  // Legend, right of the plot.
  o.series.forEach((s, i) => {
    const y = MARGIN.top + 10 + i * 20;
    const x = MARGIN.left + plotW + 14;
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 26}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${x + 32}" y="${y}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  if (o.note !== undefined) {
    out.push(`<text x="${MARGIN.left}" y="${height - 8}" font-size="10" fill="#555">${esc(o.note)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The data's range; on a log axis, widened to whole decades. */
function extent(vs: number[], log: boolean): [number, number] {
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (log) return [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  return [lo, hi];
}

/** Decades on a log axis (every n-th when there are many), about six round values on a linear one. */
function ticks([lo, hi]: [number, number], log: boolean): number[] {
  if (log) {
    const a = Math.ceil(Math.log10(lo) - 1e-9);
    const b = Math.floor(Math.log10(hi) + 1e-9);
    const every = Math.max(1, Math.ceil((b - a + 1) / 10));
    const out: number[] = [];
    for (let e = a; e <= b; e += every) out.push(10 ** e);
    return out;
  }
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number, log: boolean): string {
  const e = Math.log10(v);
  if (log && Math.abs(e - Math.round(e)) < 1e-9) {
    const r = Math.round(e);
    return r >= 0 && r <= 3 ? String(10 ** r) : `1e${r}`;
  }
  return String(Number(v.toPrecision(6)));
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
