// The reference kernels of the image layers (backend.ts: im2col, col2imAcc, maxPool2dForward/BackwardAcc):
// plain loops, the definition the wasm and native kernels are tested against. Part of referenceBackend
// (reference.ts). Not here: the convolution's products (gemm), shapes as the layers take them, autograd.

import type { Backend, WindowGeometry } from './backend.js';
import { checkPool, checkWindow, colsFloats } from './backend.js';

/** Calls fn(r, p, src) for every column entry: row r = (c·kh + i)·kw + j, position p = oy·OW + ox, src its pixel's index in x or -1 (padding). */
function forEachTap(g: WindowGeometry, fn: (r: number, p: number, src: number) => void): void {
  const { C, H, W, kh, kw, sh, sw, ph, pw, OH, OW } = g;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const r = (c * kh + i) * kw + j;
        for (let oy = 0; oy < OH; oy++) {
          const y = oy * sh - ph + i;
          for (let ox = 0; ox < OW; ox++) {
            const x = ox * sw - pw + j;
            fn(r, oy * OW + ox, y >= 0 && y < H && x >= 0 && x < W ? (c * H + y) * W + x : -1);
          }
        }
      }
    }
  }
}

export const referenceImageKernels: Pick<Backend, 'im2col' | 'col2imAcc' | 'maxPool2dForward' | 'maxPool2dBackwardAcc'> = {
  im2col(g, x, cols, ldc) {
    checkWindow(g, x.length, cols.length, colsFloats(g, ldc, 'reference', 'im2col'), 'reference', 'im2col', 'x', 'cols');
    forEachTap(g, (r, p, src) => {
      cols[r * ldc + p] = src < 0 ? 0 : x[src];
    });
  },

  col2imAcc(g, cols, ldc, dx) {
    checkWindow(g, dx.length, cols.length, colsFloats(g, ldc, 'reference', 'col2imAcc'), 'reference', 'col2imAcc', 'dx', 'cols');
    forEachTap(g, (r, p, src) => {
      if (src >= 0) dx[src] += cols[r * ldc + p];
    });
  },

  maxPool2dForward(g, x, y, argmax) {
    const { C, H, W, kh, kw, sh, sw, ph, pw, OH, OW } = g;
    checkWindow(g, x.length, y.length, C * OH * OW, 'reference', 'maxPool2dForward', 'x', 'y');
    checkPool(g, argmax.length, 'reference', 'maxPool2dForward');
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const y0 = Math.max(oy * sh - ph, 0);
          const x0 = Math.max(ox * sw - pw, 0);
          let best = -Infinity;
          let at = y0 * W + x0; // a window of -∞ points at its first pixel
          for (let yy = y0; yy < Math.min(oy * sh - ph + kh, H); yy++) {
            for (let xx = x0; xx < Math.min(ox * sw - pw + kw, W); xx++) {
              const v = x[(c * H + yy) * W + xx];
              // NOTE: as PyTorch's kernel, a NaN always replaces the maximum (so the last NaN of a window wins).
              if (v > best || Number.isNaN(v)) {
                best = v;
                at = yy * W + xx;
              }
            }
          }
          const o = (c * OH + oy) * OW + ox;
          y[o] = best;
          argmax[o] = at;
        }
      }
    }
  },

  maxPool2dBackwardAcc(g, dy, argmax, dx) {
    const { C, H, W, OH, OW } = g;
    checkWindow(g, dx.length, dy.length, C * OH * OW, 'reference', 'maxPool2dBackwardAcc', 'dx', 'dy');
    checkPool(g, argmax.length, 'reference', 'maxPool2dBackwardAcc');
    const P = OH * OW;
    for (let o = 0; o < C * P; o++) {
      const a = argmax[o];
      if (!(a >= 0 && a < H * W)) throw new Error(`reference backend: maxPool2dBackwardAcc: argmax ${a} at ${o} is outside its plane of ${H}×${W}`);
    }
    for (let o = 0; o < C * P; o++) dx[Math.floor(o / P) * H * W + argmax[o]] += dy[o];
  },
};
