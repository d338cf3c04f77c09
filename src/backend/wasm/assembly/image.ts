// The image kernels: im2col and its accumulating adjoint col2im (a convolution is then one gemm per
// group of images), and max pooling forward (with the arg-max) and backward. Each is the reference kernel of the
// same name (../../reference-image.ts, contracts and WindowGeometry in ../../backend.ts); they move data
// and compare, so they are exact. Pointers are byte offsets. Not here: bounds checks (wasm-backend.ts).

import { accRow } from './simd';

/** ⌈a / b⌉ for b > 0 and any a. */
@inline function ceilDiv(a: i32, b: i32): i32 {
  return a <= 0 ? -(-a / b) : (a + b - 1) / b;
}

/** The output columns ox whose input column ox·s - p + j is inside [0, W) are [firstInside, endInside). */
@inline function firstInside(p: i32, j: i32, s: i32, n: i32): i32 {
  return min(max(ceilDiv(p - j, s), 0), n);
}
@inline function endInside(W: i32, p: i32, j: i32, s: i32, n: i32, lo: i32): i32 {
  return min(max(ceilDiv(W + p - j, s), lo), n);
}

/** cols (C·kh·kw rows of OH·OW, row stride ldc) = the windows of x (C, H, W), 0 over the padding. */
export function im2col(C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, OH: i32, OW: i32, x: usize, cols: usize, ldc: i32): void {
  let row = cols;
  const rowBytes = <usize>ldc * 4;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const lo = firstInside(pw, j, sw, OW);
        const hi = endInside(W, pw, j, sw, OW, lo);
        for (let oy = 0; oy < OH; oy++) {
          const o = row + <usize>(oy * OW) * 4;
          const y = oy * sh - ph + i;
          if (y < 0 || y >= H) {
            memory.fill(o, 0, <usize>OW * 4);
            continue;
          }
          if (lo > 0) memory.fill(o, 0, <usize>lo * 4);
          if (hi > lo) {
            const src = x + <usize>((c * H + y) * W + lo * sw - pw + j) * 4;
            if (sw == 1) memory.copy(o + <usize>lo * 4, src, <usize>(hi - lo) * 4);
            else for (let ox = lo; ox < hi; ox++) store<f32>(o + <usize>ox * 4, load<f32>(src + <usize>((ox - lo) * sw) * 4));
          }
          if (hi < OW) memory.fill(o + <usize>hi * 4, 0, <usize>(OW - hi) * 4);
        }
        row += rowBytes;
      }
    }
  }
}

/** dx (C, H, W) += the columns folded back onto the pixels they were read from. */
export function col2imAcc(C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, OH: i32, OW: i32, cols: usize, ldc: i32, dx: usize): void {
  let row = cols;
  const rowBytes = <usize>ldc * 4;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const lo = firstInside(pw, j, sw, OW);
        const hi = endInside(W, pw, j, sw, OW, lo);
        for (let oy = 0; oy < OH; oy++) {
          const y = oy * sh - ph + i;
          if (y < 0 || y >= H || hi <= lo) continue;
          const o = row + <usize>(oy * OW + lo) * 4;
          const dst = dx + <usize>((c * H + y) * W + lo * sw - pw + j) * 4;
          if (sw == 1) accRow(dst, o, hi - lo);
          else {
            for (let ox = 0; ox < hi - lo; ox++) {
              const d = dst + <usize>(ox * sw) * 4;
              store<f32>(d, load<f32>(d) + load<f32>(o + <usize>ox * 4));
            }
          }
        }
        row += rowBytes;
      }
    }
  }
}

/** y (C, OH, OW) = the window maxima of x (C, H, W), argmax (i32) their indices y·W + x in the plane. */
export function maxPool2dForward(
  C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, OH: i32, OW: i32, x: usize, y: usize, argmax: usize,
): void {
  const tiled = kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0;
  for (let c = 0; c < C; c++) {
    const plane = x + <usize>(c * H * W) * 4;
    for (let oy = 0; oy < OH; oy++) {
      const o = <usize>((c * OH + oy) * OW) * 4;
      const ox = tiled ? pool2x2Row(plane, W, oy, OW, y + o, argmax + o) : 0;
      poolRow(plane, H, W, kh, kw, sh, sw, ph, pw, oy, ox, OW, y + o, argmax + o);
    }
  }
}

/** Outputs [ox0, ox1) of output row oy, any window: the definition, one pixel at a time. */
function poolRow(
  plane: usize, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oy: i32, ox0: i32, ox1: i32, yRow: usize, aRow: usize,
): void {
  const y0 = max(oy * sh - ph, 0);
  const y1 = min(oy * sh - ph + kh, H);
  for (let ox = ox0; ox < ox1; ox++) {
    const x0 = max(ox * sw - pw, 0);
    const x1 = min(ox * sw - pw + kw, W);
    let best: f32 = -Infinity;
    let at = y0 * W + x0;
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const v = load<f32>(plane + <usize>(yy * W + xx) * 4);
        const take = (v > best) | (v != v); // NOTE: a NaN always replaces the maximum, as in PyTorch's kernel
        best = select<f32>(v, best, take);
        at = select<i32>(yy * W + xx, at, take);
      }
    }
    store<f32>(yRow + <usize>ox * 4, best);
    store<i32>(aRow + <usize>ox * 4, at);
  }
}

/**
 * The encoder's pool (2×2, stride 2, no padding) four outputs at a time: the left and right pixels of four
 * windows by shuffles, then poolRow's comparisons in its order, lane-wise. Returns the outputs done.
 */
function pool2x2Row(plane: usize, W: i32, oy: i32, OW: i32, yRow: usize, aRow: usize): i32 {
  const r0 = plane + <usize>(2 * oy * W) * 4;
  const r1 = r0 + <usize>W * 4;
  const step = i32x4.splat(8);
  let i0 = i32x4.add(i32x4(0, 2, 4, 6), i32x4.splat(2 * oy * W)); // the top-left pixels' indices
  let ox = 0;
  for (; ox + 4 <= OW; ox += 4) {
    const o = <usize>ox * 8;
    const a0 = v128.load(r0 + o);
    const b0 = v128.load(r0 + o + 16);
    const a1 = v128.load(r1 + o);
    const b1 = v128.load(r1 + o + 16);
    let best = v128.shuffle<f32>(a0, b0, 0, 2, 4, 6);
    let at = i0;
    let v = v128.shuffle<f32>(a0, b0, 1, 3, 5, 7);
    let take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
    best = v128.bitselect(v, best, take);
    at = v128.bitselect(i32x4.add(i0, i32x4.splat(1)), at, take);
    v = v128.shuffle<f32>(a1, b1, 0, 2, 4, 6);
    take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
    best = v128.bitselect(v, best, take);
    at = v128.bitselect(i32x4.add(i0, i32x4.splat(W)), at, take);
    v = v128.shuffle<f32>(a1, b1, 1, 3, 5, 7);
    take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
    best = v128.bitselect(v, best, take);
    at = v128.bitselect(i32x4.add(i0, i32x4.splat(W + 1)), at, take);
    v128.store(yRow + <usize>ox * 4, best);
    v128.store(aRow + <usize>ox * 4, at);
    i0 = i32x4.add(i0, step);
  }
  return ox;
}

/**
 * dx (C, H, W) += dy (C, OH, OW) at the arg-max of each window. Returns -1, or (writing nothing) the
 * position of the first index outside its plane.
 */
export function maxPool2dBackwardAcc(C: i32, H: i32, W: i32, OH: i32, OW: i32, dy: usize, argmax: usize, dx: usize): i32 {
  const P = OH * OW;
  const n = C * P;
  const plane = H * W;
  for (let o = 0; o < n; o++) {
    const a = load<i32>(argmax + <usize>o * 4);
    if (a < 0 || a >= plane) return o;
  }
  for (let c = 0; c < C; c++) {
    const d = dx + <usize>(c * plane) * 4;
    for (let p = 0; p < P; p++) {
      const o = <usize>(c * P + p) * 4;
      const t = d + <usize>load<i32>(argmax + o) * 4;
      store<f32>(t, load<f32>(t) + load<f32>(dy + o));
    }
  }
  return -1;
}
