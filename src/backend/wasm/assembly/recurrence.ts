// The time loop of one layer-direction of a one-stage cell (rnn_tanh, rnn_relu, lstm, gru) over the
// batch rows [b0, b1): per step the recurrent product with the packed W_hh, the cell kernel, and the
// copy of h into the layer output (forward), or the cell's backward and dhPrev += dhg W_hh (backward).
// Rows never interact inside the loop, so the caller can run disjoint row blocks on different threads
// for the whole sequence with one hand-off, where a split per product would hand off every step.
// Every buffer has the layout of the JS loop in src/nn/recurrent/recurrent-stack.ts, which is the
// definition; this runs the same kernels in the same order, so its results are the same bit for bit.

import { gemmPacked } from './gemm';
import { cellBackward, cellForward } from './cells';
import { accRow } from './simd';

/**
 * xg (T, B, G·H) input pre-activations, time order; hg (B, G·H) per-step scratch; bhh (G·H) or 0;
 * whhP W_hhᵀ packed as (H, G·H); hs, cs (S, B, H) states in processing order, S = T+1 when
 * `recording` (hs[s] is the state before step s) else 2 alternating slots; gates (T or 1, B, C·H)
 * the cache; mask (T, B) or 0; y (T, B, ldy) receives h at columns [yOff, yOff+H), 0 on masked rows.
 */
export function recurrentForward(
  kind: i32, T: i32, B: i32, b0: i32, b1: i32, H: i32, G: i32, C: i32, reverse: i32, recording: i32,
  xg: usize, hg: usize, bhh: usize, whhP: usize, hs: usize, cs: usize, gates: usize, mask: usize,
  y: usize, ldy: i32, yOff: i32, scratch: usize,
): void {
  const rows = b1 - b0;
  if (rows <= 0) return;
  const GH = G * H;
  const H4 = <usize>H * 4;
  const BH4 = <usize>B * H4;
  const hgRows = hg + <usize>b0 * GH * 4;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const prev = recording ? s : s & 1;
    const next = recording ? s + 1 : (s + 1) & 1;
    const k = recording ? s : 0;
    const hPrev = hs + <usize>prev * BH4 + <usize>b0 * H4;
    const h = hs + <usize>next * BH4 + <usize>b0 * H4;
    const cPrev = cs == 0 ? <usize>0 : cs + <usize>prev * BH4 + <usize>b0 * H4;
    const c = cs == 0 ? <usize>0 : cs + <usize>next * BH4 + <usize>b0 * H4;
    const maskT = mask == 0 ? <usize>0 : mask + <usize>(t * B + b0) * 4;

    // hg = b_hh + hPrev W_hhᵀ
    for (let b = 0; b < rows; b++) {
      const row = hgRows + <usize>b * GH * 4;
      if (bhh != 0) memory.copy(row, bhh, <usize>GH * 4);
      else memory.fill(row, 0, <usize>GH * 4);
    }
    gemmPacked(0, rows, GH, H, 1, hPrev, H, whhP, 1, hgRows, GH, scratch);
    cellForward(
      kind, 1, rows, H, xg + <usize>(t * B + b0) * GH * 4, hgRows, 0, hPrev, cPrev, maskT,
      gates + <usize>(k * B + b0) * C * H * 4, 0, h, c,
    );

    // y[t, b, yOff : yOff+H] = h, or 0 past the sequence's length.
    for (let b = 0; b < rows; b++) {
      const o = y + (<usize>(t * B + b0 + b) * ldy + yOff) * 4;
      if (maskT != 0 && load<f32>(maskT + <usize>b * 4) == 0) memory.fill(o, 0, H4);
      else memory.copy(o, h + <usize>b * H4, H4);
    }
  }
}

/**
 * BPTT over the rows [b0, b1), the steps in reverse processing order. hs, cs, gates, mask: the
 * forward's (recorded, S = T+1); dy (T, B, ldy) or 0, the output's gradient at columns [yOff, yOff+H);
 * dh, dc (2, B, H): on entry slot 0 holds dL/d(final state), on return slot T & 1 holds dL/d(initial
 * state); dxg (T, B, G·H) time order and dhg (T, B, G·H) processing order receive the pre-activation
 * gradients; whhP W_hh packed as (G·H, H).
 */
export function recurrentBackward(
  kind: i32, T: i32, B: i32, b0: i32, b1: i32, H: i32, G: i32, C: i32, reverse: i32,
  hs: usize, cs: usize, gates: usize, mask: usize, dy: usize, ldy: i32, yOff: i32,
  dh: usize, dc: usize, dxg: usize, dhg: usize, whhP: usize, scratch: usize,
): void {
  const rows = b1 - b0;
  if (rows <= 0) return;
  const GH = G * H;
  const H4 = <usize>H * 4;
  const BH4 = <usize>B * H4;
  const rowOff = <usize>b0 * H4;
  let cur = 0;
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const prev = 1 - cur;
    const dhCur = dh + <usize>cur * BH4 + rowOff;
    const dhPrev = dh + <usize>prev * BH4 + rowOff;
    memory.fill(dhPrev, 0, <usize>rows * H4);
    const maskT = mask == 0 ? <usize>0 : mask + <usize>(t * B + b0) * 4;
    // dh += dL/dy_t on rows inside their sequence (outside, y is a constant 0).
    if (dy != 0) {
      for (let b = 0; b < rows; b++) {
        if (maskT != 0 && load<f32>(maskT + <usize>b * 4) == 0) continue;
        accRow(dhCur + <usize>b * H4, dy + (<usize>(t * B + b0 + b) * ldy + yOff) * 4, H);
      }
    }
    const dhgS = dhg + <usize>(s * B + b0) * GH * 4;
    cellBackward(
      kind, 1, rows, H, hs + <usize>s * BH4 + rowOff, cs == 0 ? <usize>0 : cs + <usize>s * BH4 + rowOff, maskT,
      gates + <usize>(s * B + b0) * C * H * 4, dhCur, dc == 0 ? <usize>0 : dc + <usize>cur * BH4 + rowOff, 0,
      dxg + <usize>(t * B + b0) * GH * 4, dhgS, dhPrev, dc == 0 ? <usize>0 : dc + <usize>prev * BH4 + rowOff, 0,
    );
    // dhPrev += dhg W_hh
    gemmPacked(0, rows, H, GH, 1, dhgS, GH, whhP, 1, dhPrev, H, scratch);
    cur = prev;
  }
}
