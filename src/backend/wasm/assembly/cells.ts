// The recurrent cells' step kernels (the CELL_LAYOUTS contract in src/backend/backend.ts), fused per row
// on f32x4: every gate's activation, the state update and the cache in one pass. Pointers are byte
// offsets into the heap; 0 means "null". The reference backend's kernels are the definition.

import { accRow, add, ld, mul, sigmoidv, splat, st, sub, tanhv } from './simd';

// Cell codes shared with wasm-backend.ts (the order of CellKind there).
const RNN_TANH = 0, RNN_RELU = 1, LSTM = 2, GRU = 3, GRU_CHO = 4, MUT1 = 5, MUT2 = 6, MUT3 = 7;

@inline function masked(mask: usize, b: i32): bool {
  return mask != 0 && load<f32>(mask + <usize>b * 4) == 0;
}

export function cellForward(
  kind: i32, stage: i32, B: i32, H: i32, xg: usize, hg: usize, x: usize, hPrev: usize, cPrev: usize,
  mask: usize, cache: usize, u: usize, h: usize, c: usize,
): void {
  if (stage == 0) {
    if (kind == GRU_CHO) resetForward(0, 3, false, B, H, xg, hg, x, hPrev, mask, cache, u);
    else resetForward(1, kind == MUT1 ? 4 : 3, kind == MUT2, B, H, xg, hg, x, hPrev, mask, cache, u);
    return;
  }
  const H4 = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (masked(mask, b)) {
      memory.copy(h + o, hPrev + o, H4);
      if (c != 0) memory.copy(c + o, cPrev + o, H4);
      continue;
    }
    if (kind == RNN_TANH || kind == RNN_RELU) {
      let j = 0;
      for (; j + 4 <= H; j += 4) rnnForwardAt(kind, xg, hg, cache, h, o + <usize>j * 4, 4);
      if (j < H) rnnForwardAt(kind, xg, hg, cache, h, o + <usize>j * 4, H - j);
    } else if (kind == LSTM) {
      const xr = xg + 4 * o, hr = hg + 4 * o, kr = cache + 5 * o;
      // NOTE: two passes over the row. The activations are long dependent chains (exp's polynomial, a
      // divide) and tanh(c) waits on three of them, so one fused pass left the core waiting on latency;
      // the four gates of pass 1 are independent and pass 2's iterations overlap (~10% faster).
      let j = 0;
      for (; j + 4 <= H; j += 4) lstmGatesAt(xr, hr, kr, H4, <usize>j * 4, 4);
      if (j < H) lstmGatesAt(xr, hr, kr, H4, <usize>j * 4, H - j);
      for (j = 0; j + 4 <= H; j += 4) lstmStateAt(kr, cPrev + o, c + o, h + o, H4, <usize>j * 4, 4);
      if (j < H) lstmStateAt(kr, cPrev + o, c + o, h + o, H4, <usize>j * 4, H - j);
    } else if (kind == GRU) {
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + 4 * o;
      // Two passes, as for LSTM: n's tanh waits on r's sigmoid.
      let j = 0;
      for (; j + 4 <= H; j += 4) gruGatesAt(xr, hr, kr, H4, <usize>j * 4, 4);
      if (j < H) gruGatesAt(xr, hr, kr, H4, <usize>j * 4, H - j);
      for (j = 0; j + 4 <= H; j += 4) gruStateAt(xr, hr, kr, hPrev + o, h + o, H4, <usize>j * 4, 4);
      if (j < H) gruStateAt(xr, hr, kr, hPrev + o, h + o, H4, <usize>j * 4, H - j);
    } else if (kind == GRU_CHO) {
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + 3 * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) gruChoForwardAt(xr, hr, kr, hPrev + o, h + o, H4, <usize>j * 4, 4);
      if (j < H) gruChoForwardAt(xr, hr, kr, hPrev + o, h + o, H4, <usize>j * 4, H - j);
    } else {
      // MUT1-3, gates z=0, r=1, h=2: h = n ⊙ z + hPrev ⊙ (1 - z); mut1 has no hg_z and adds tanh(x) to n.
      const mut1 = kind == MUT1;
      const C: usize = mut1 ? 4 : 3;
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + C * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) mutForwardAt(mut1, xr, hr, kr, x + o, hPrev + o, h + o, H4, <usize>j * 4, 4);
      if (j < H) mutForwardAt(mut1, xr, hr, kr, x + o, hPrev + o, h + o, H4, <usize>j * 4, H - j);
    }
  }
}

// The forward blocks: w (1..4) lanes at byte q of a row (simd.ts: why the kernels call them with w = 4,
// then once for the tail). H4 is a gate block's bytes.

@inline function rnnForwardAt(kind: i32, xg: usize, hg: usize, cache: usize, h: usize, q: usize, w: i32): void {
  const a = add(ld(xg + q, w), ld(hg + q, w));
  const y = kind == RNN_RELU ? v128.and(a, f32x4.gt(a, splat(0))) : tanhv(a);
  st(cache + q, y, w);
  st(h + q, y, w);
}

@inline function lstmGatesAt(xr: usize, hr: usize, kr: usize, H4: usize, q: usize, w: i32): void {
  st(kr + q, sigmoidv(add(ld(xr + q, w), ld(hr + q, w))), w);
  st(kr + H4 + q, sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w))), w);
  st(kr + 2 * H4 + q, tanhv(add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w))), w);
  st(kr + 3 * H4 + q, sigmoidv(add(ld(xr + 3 * H4 + q, w), ld(hr + 3 * H4 + q, w))), w);
}

/** c = f ⊙ cPrev + i ⊙ g, h = o ⊙ tanh(c); cPrev, c and h point at the row. */
@inline function lstmStateAt(kr: usize, cPrev: usize, c: usize, h: usize, H4: usize, q: usize, w: i32): void {
  const ct = add(mul(ld(kr + H4 + q, w), ld(cPrev + q, w)), mul(ld(kr + q, w), ld(kr + 2 * H4 + q, w)));
  const tc = tanhv(ct);
  st(kr + 4 * H4 + q, tc, w);
  st(c + q, ct, w);
  st(h + q, mul(ld(kr + 3 * H4 + q, w), tc), w);
}

@inline function gruGatesAt(xr: usize, hr: usize, kr: usize, H4: usize, q: usize, w: i32): void {
  st(kr + q, sigmoidv(add(ld(xr + q, w), ld(hr + q, w))), w);
  st(kr + H4 + q, sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w))), w);
}

@inline function gruStateAt(xr: usize, hr: usize, kr: usize, hPrev: usize, h: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const z = ld(kr + H4 + q, w);
  const hn = ld(hr + 2 * H4 + q, w);
  const n = tanhv(add(ld(xr + 2 * H4 + q, w), mul(ld(kr + q, w), hn)));
  st(kr + 2 * H4 + q, n, w);
  st(kr + 3 * H4 + q, hn, w);
  st(h + q, add(mul(sub(one, z), n), mul(z, ld(hPrev + q, w))), w);
}

@inline function gruChoForwardAt(xr: usize, hr: usize, kr: usize, hPrev: usize, h: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const z = sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w)));
  const n = tanhv(add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w)));
  st(kr + H4 + q, z, w);
  st(kr + 2 * H4 + q, n, w);
  st(h + q, add(mul(sub(one, z), n), mul(z, ld(hPrev + q, w))), w);
}

@inline function mutForwardAt(mut1: bool, xr: usize, hr: usize, kr: usize, x: usize, hPrev: usize, h: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const zp = mut1 ? ld(xr + q, w) : add(ld(xr + q, w), ld(hr + q, w));
  const z = sigmoidv(zp);
  let np = add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w));
  if (mut1) {
    const tx = tanhv(ld(x + q, w));
    st(kr + 3 * H4 + q, tx, w);
    np = add(np, tx);
  }
  const n = tanhv(np);
  st(kr + q, z, w);
  st(kr + 2 * H4 + q, n, w);
  st(h + q, add(mul(n, z), mul(ld(hPrev + q, w), sub(one, z))), w);
}

/** Stage 0 of the two-stage cells: r = σ(xg_r + hg_r (+ x)), u = r ⊙ hPrev; r goes to cache block rq. */
function resetForward(
  rq: i32, C: i32, withX: bool, B: i32, H: i32, xg: usize, hg: usize, x: usize, hPrev: usize, mask: usize, cache: usize, u: usize,
): void {
  const H4 = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (masked(mask, b)) {
      memory.fill(u + o, 0, H4);
      continue;
    }
    const xr = xg + 3 * o + <usize>rq * H4, hr = hg + 3 * o + <usize>rq * H4, kr = cache + <usize>C * o + <usize>rq * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) resetForwardAt(withX, xr, hr, kr, x + o, hPrev + o, u + o, <usize>j * 4, 4);
    if (j < H) resetForwardAt(withX, xr, hr, kr, x + o, hPrev + o, u + o, <usize>j * 4, H - j);
  }
}

@inline function resetForwardAt(withX: bool, xr: usize, hr: usize, kr: usize, x: usize, hPrev: usize, u: usize, q: usize, w: i32): void {
  let p = add(ld(xr + q, w), ld(hr + q, w));
  if (withX) p = add(p, ld(x + q, w));
  const r = sigmoidv(p);
  st(kr + q, r, w);
  st(u + q, mul(r, ld(hPrev + q, w)), w);
}

/** Backward on a masked row: dhPrev += dh and dcPrev = dc (stage 1); gate blocks [q0, q1) of dxg/dhg are 0. */
function carryGrad(
  b: i32, G: i32, H: i32, q0: i32, q1: i32, stage1: bool, dh: usize, dc: usize, dhPrev: usize, dcPrev: usize, dxg: usize, dhg: usize,
): void {
  const H4 = <usize>H * 4;
  const o = <usize>b * H4;
  if (stage1) {
    accRow(dhPrev + o, dh + o, H);
    if (dc != 0 && dcPrev != 0) memory.copy(dcPrev + o, dc + o, H4);
  }
  const start = <usize>(b * G + q0) * H4;
  const bytes = <usize>(q1 - q0) * H4;
  memory.fill(dxg + start, 0, bytes);
  memory.fill(dhg + start, 0, bytes);
}

export function cellBackward(
  kind: i32, stage: i32, B: i32, H: i32, hPrev: usize, cPrev: usize, mask: usize, cache: usize,
  dh: usize, dc: usize, du: usize, dxg: usize, dhg: usize, dhPrev: usize, dcPrev: usize, dx: usize,
): void {
  if (stage == 0) {
    if (kind == GRU_CHO) resetBackward(0, 3, false, B, H, hPrev, mask, cache, du, dxg, dhg, dhPrev, dx);
    else resetBackward(1, kind == MUT1 ? 4 : 3, kind == MUT2, B, H, hPrev, mask, cache, du, dxg, dhg, dhPrev, dx);
    return;
  }
  const H4 = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (kind == RNN_TANH || kind == RNN_RELU) {
      if (masked(mask, b)) {
        carryGrad(b, 1, H, 0, 1, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      let j = 0;
      for (; j + 4 <= H; j += 4) rnnBackwardAt(kind, cache, dh, dxg, dhg, o + <usize>j * 4, 4);
      if (j < H) rnnBackwardAt(kind, cache, dh, dxg, dhg, o + <usize>j * 4, H - j);
    } else if (kind == LSTM) {
      if (masked(mask, b)) {
        carryGrad(b, 4, H, 0, 4, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 5 * o, xr = dxg + 4 * o, hr = dhg + 4 * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) lstmBackwardAt(kr, xr, hr, dh + o, dc + o, cPrev + o, dcPrev + o, H4, <usize>j * 4, 4);
      if (j < H) lstmBackwardAt(kr, xr, hr, dh + o, dc + o, cPrev + o, dcPrev + o, H4, <usize>j * 4, H - j);
    } else if (kind == GRU) {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 0, 3, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 4 * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) gruBackwardAt(kr, xr, hr, dh + o, hPrev + o, dhPrev + o, H4, <usize>j * 4, 4);
      if (j < H) gruBackwardAt(kr, xr, hr, dh + o, hPrev + o, dhPrev + o, H4, <usize>j * 4, H - j);
    } else if (kind == GRU_CHO) {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 1, 3, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 3 * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) gruChoBackwardAt(kr, xr, hr, dh + o, hPrev + o, dhPrev + o, H4, <usize>j * 4, 4);
      if (j < H) gruChoBackwardAt(kr, xr, hr, dh + o, hPrev + o, dhPrev + o, H4, <usize>j * 4, H - j);
    } else {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 0, 1, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        carryGrad(b, 3, H, 2, 3, false, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const mut1 = kind == MUT1;
      const C: usize = mut1 ? 4 : 3;
      const kr = cache + C * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      let j = 0;
      for (; j + 4 <= H; j += 4) mutBackwardAt(mut1, kr, xr, hr, dh + o, hPrev + o, dhPrev + o, dx + o, H4, <usize>j * 4, 4);
      if (j < H) mutBackwardAt(mut1, kr, xr, hr, dh + o, hPrev + o, dhPrev + o, dx + o, H4, <usize>j * 4, H - j);
    }
  }
}

/** Backward of stage 0: dr = du ⊙ hPrev, dhPrev += du ⊙ r, dL/dr_pre into block rq of dxg, dhg (and dx). */
function resetBackward(
  rq: i32, C: i32, withX: bool, B: i32, H: i32, hPrev: usize, mask: usize, cache: usize,
  du: usize, dxg: usize, dhg: usize, dhPrev: usize, dx: usize,
): void {
  const H4 = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (masked(mask, b)) {
      carryGrad(b, 3, H, rq, rq + 1, false, 0, 0, 0, 0, dxg, dhg);
      continue;
    }
    const kr = cache + <usize>C * o + <usize>rq * H4, xr = dxg + 3 * o + <usize>rq * H4, hr = dhg + 3 * o + <usize>rq * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) resetBackwardAt(withX, kr, xr, hr, du + o, hPrev + o, dhPrev + o, dx + o, <usize>j * 4, 4);
    if (j < H) resetBackwardAt(withX, kr, xr, hr, du + o, hPrev + o, dhPrev + o, dx + o, <usize>j * 4, H - j);
  }
}

// The backward blocks, as the forward ones: w (1..4) lanes at byte q of a row; dh, dc, hPrev, cPrev,
// dhPrev, dcPrev, du and dx point at the row, kr at its cache, xr and hr at its rows of dxg and dhg.

@inline function rnnBackwardAt(kind: i32, cache: usize, dh: usize, dxg: usize, dhg: usize, q: usize, w: i32): void {
  const one = splat(1);
  const y = ld(cache + q, w);
  const g = kind == RNN_RELU ? v128.and(one, f32x4.gt(y, splat(0))) : sub(one, mul(y, y));
  const da = mul(ld(dh + q, w), g);
  st(dxg + q, da, w);
  st(dhg + q, da, w);
}

@inline function lstmBackwardAt(kr: usize, xr: usize, hr: usize, dh: usize, dc: usize, cPrev: usize, dcPrev: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const ig = ld(kr + q, w);
  const fg = ld(kr + H4 + q, w);
  const gg = ld(kr + 2 * H4 + q, w);
  const og = ld(kr + 3 * H4 + q, w);
  const tc = ld(kr + 4 * H4 + q, w);
  const dht = ld(dh + q, w);
  // dL/dc_t: carried + through h = o ⊙ tanh(c)
  const dct = add(ld(dc + q, w), mul(mul(dht, og), sub(one, mul(tc, tc))));
  const di = mul(mul(dct, gg), mul(ig, sub(one, ig)));
  const df = mul(mul(dct, ld(cPrev + q, w)), mul(fg, sub(one, fg)));
  const dg = mul(mul(dct, ig), sub(one, mul(gg, gg)));
  const dO = mul(mul(dht, tc), mul(og, sub(one, og)));
  st(xr + q, di, w);
  st(hr + q, di, w);
  st(xr + H4 + q, df, w);
  st(hr + H4 + q, df, w);
  st(xr + 2 * H4 + q, dg, w);
  st(hr + 2 * H4 + q, dg, w);
  st(xr + 3 * H4 + q, dO, w);
  st(hr + 3 * H4 + q, dO, w);
  st(dcPrev + q, mul(dct, fg), w);
}

@inline function gruBackwardAt(kr: usize, xr: usize, hr: usize, dh: usize, hPrev: usize, dhPrev: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const r = ld(kr + q, w);
  const z = ld(kr + H4 + q, w);
  const n = ld(kr + 2 * H4 + q, w);
  const hn = ld(kr + 3 * H4 + q, w);
  const dht = ld(dh + q, w);
  const dnPre = mul(mul(dht, sub(one, z)), sub(one, mul(n, n))); // dL/d(xg_n + r ⊙ hg_n)
  const dzPre = mul(mul(dht, sub(ld(hPrev + q, w), n)), mul(z, sub(one, z)));
  const drPre = mul(mul(dnPre, hn), mul(r, sub(one, r)));
  st(xr + q, drPre, w);
  st(hr + q, drPre, w);
  st(xr + H4 + q, dzPre, w);
  st(hr + H4 + q, dzPre, w);
  st(xr + 2 * H4 + q, dnPre, w);
  st(hr + 2 * H4 + q, mul(dnPre, r), w);
  st(dhPrev + q, add(ld(dhPrev + q, w), mul(dht, z)), w);
}

@inline function gruChoBackwardAt(kr: usize, xr: usize, hr: usize, dh: usize, hPrev: usize, dhPrev: usize, H4: usize, q: usize, w: i32): void {
  const one = splat(1);
  const z = ld(kr + H4 + q, w);
  const n = ld(kr + 2 * H4 + q, w);
  const dht = ld(dh + q, w);
  const dzPre = mul(mul(dht, sub(ld(hPrev + q, w), n)), mul(z, sub(one, z)));
  const dnPre = mul(mul(dht, sub(one, z)), sub(one, mul(n, n)));
  st(xr + H4 + q, dzPre, w);
  st(hr + H4 + q, dzPre, w);
  st(xr + 2 * H4 + q, dnPre, w);
  st(hr + 2 * H4 + q, dnPre, w);
  st(dhPrev + q, add(ld(dhPrev + q, w), mul(dht, z)), w);
}

@inline function mutBackwardAt(
  mut1: bool, kr: usize, xr: usize, hr: usize, dh: usize, hPrev: usize, dhPrev: usize, dx: usize, H4: usize, q: usize, w: i32,
): void {
  const one = splat(1);
  const z = ld(kr + q, w);
  const n = ld(kr + 2 * H4 + q, w);
  const dht = ld(dh + q, w);
  const dzPre = mul(mul(dht, sub(n, ld(hPrev + q, w))), mul(z, sub(one, z)));
  const dnPre = mul(mul(dht, z), sub(one, mul(n, n)));
  st(xr + q, dzPre, w);
  st(hr + q, mut1 ? splat(0) : dzPre, w);
  st(xr + 2 * H4 + q, dnPre, w);
  st(hr + 2 * H4 + q, dnPre, w);
  if (mut1) {
    const tx = ld(kr + 3 * H4 + q, w);
    st(dx + q, add(ld(dx + q, w), mul(dnPre, sub(one, mul(tx, tx)))), w);
  }
  st(dhPrev + q, add(ld(dhPrev + q, w), mul(dht, sub(one, z))), w);
}

@inline function resetBackwardAt(withX: bool, kr: usize, xr: usize, hr: usize, du: usize, hPrev: usize, dhPrev: usize, dx: usize, q: usize, w: i32): void {
  const one = splat(1);
  const r = ld(kr + q, w);
  const duv = ld(du + q, w);
  const drPre = mul(mul(duv, ld(hPrev + q, w)), mul(r, sub(one, r)));
  st(xr + q, drPre, w);
  st(hr + q, drPre, w);
  if (withX) st(dx + q, add(ld(dx + q, w), drPre), w);
  st(dhPrev + q, add(ld(dhPrev + q, w), mul(duv, r)), w);
}
