// A one-line progress bar on stderr: redrawn in place on a terminal, printed every few percent when
// stderr is a file or a pipe (CI logs), so logs stay short.

export class ProgressBar {
  private lastPrinted = -1;
  private readonly tty = process.stderr.isTTY === true;

  update(p: { step: number; totalSteps: number | null; loss: number; tokensPerSec: number; etaSec: number | null }): void {
    const frac = p.totalSteps !== null ? p.step / p.totalSteps : null;
    const width = 24;
    const filled = frac === null ? 0 : Math.round(frac * width);
    const bar = frac === null ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] `;
    const total = p.totalSteps !== null ? `/${p.totalSteps}` : '';
    const line = `${bar}step ${p.step}${total}  loss ${p.loss.toFixed(4)}  ${formatRate(p.tokensPerSec)} tok/s  ETA ${formatDuration(p.etaSec)}`;
    if (this.tty) {
      process.stderr.write(`\r${line}\x1b[K`);
      return;
    }
    const bucket = frac === null ? Math.floor(p.step / 50) : Math.floor(frac * 20);
    if (bucket !== this.lastPrinted) {
      this.lastPrinted = bucket;
      process.stderr.write(line + '\n');
    }
  }

  /** Ends the in-place line before other output. */
  clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

function formatRate(x: number): string {
  return x >= 10000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export function formatDuration(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '--';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** A loss or score with `digits` decimals; '--' for none (no training step since the last evaluation). */
export function fixed(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '--' : x.toFixed(digits);
}
