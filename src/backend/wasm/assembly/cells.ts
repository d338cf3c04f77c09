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
  const one = splat(1);
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (masked(mask, b)) {
      memory.copy(h + o, hPrev + o, H4);
      if (c != 0) memory.copy(c + o, cPrev + o, H4);
      continue;
    }
    if (kind == RNN_TANH || kind == RNN_RELU) {
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = o + <usize>j * 4;
        const a = add(ld(xg + q, w), ld(hg + q, w));
        const y = kind == RNN_RELU ? v128.and(a, f32x4.gt(a, splat(0))) : tanhv(a);
        st(cache + q, y, w);
        st(h + q, y, w);
      }
    } else if (kind == LSTM) {
      const xr = xg + 4 * o, hr = hg + 4 * o, kr = cache + 5 * o;
      // NOTE: two passes over the row. The activations are long dependent chains (exp's polynomial, a
      // divide) and tanh(c) waits on three of them, so one fused pass left the core waiting on latency;
      // the four gates of pass 1 are independent and pass 2's iterations overlap (~10% faster).
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        st(kr + q, sigmoidv(add(ld(xr + q, w), ld(hr + q, w))), w);
        st(kr + H4 + q, sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w))), w);
        st(kr + 2 * H4 + q, tanhv(add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w))), w);
        st(kr + 3 * H4 + q, sigmoidv(add(ld(xr + 3 * H4 + q, w), ld(hr + 3 * H4 + q, w))), w);
      }
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const ct = add(mul(ld(kr + H4 + q, w), ld(cPrev + o + q, w)), mul(ld(kr + q, w), ld(kr + 2 * H4 + q, w)));
        const tc = tanhv(ct);
        st(kr + 4 * H4 + q, tc, w);
        st(c + o + q, ct, w);
        st(h + o + q, mul(ld(kr + 3 * H4 + q, w), tc), w);
      }
    } else if (kind == GRU) {
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + 4 * o;
      // Two passes, as for LSTM: n's tanh waits on r's sigmoid.
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        st(kr + q, sigmoidv(add(ld(xr + q, w), ld(hr + q, w))), w);
        st(kr + H4 + q, sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w))), w);
      }
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const z = ld(kr + H4 + q, w);
        const hn = ld(hr + 2 * H4 + q, w);
        const n = tanhv(add(ld(xr + 2 * H4 + q, w), mul(ld(kr + q, w), hn)));
        st(kr + 2 * H4 + q, n, w);
        st(kr + 3 * H4 + q, hn, w);
        st(h + o + q, add(mul(sub(one, z), n), mul(z, ld(hPrev + o + q, w))), w);
      }
    } else if (kind == GRU_CHO) {
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + 3 * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const z = sigmoidv(add(ld(xr + H4 + q, w), ld(hr + H4 + q, w)));
        const n = tanhv(add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w)));
        st(kr + H4 + q, z, w);
        st(kr + 2 * H4 + q, n, w);
        st(h + o + q, add(mul(sub(one, z), n), mul(z, ld(hPrev + o + q, w))), w);
      }
    } else {
      // MUT1-3, gates z=0, r=1, h=2: h = n ⊙ z + hPrev ⊙ (1 - z); mut1 has no hg_z and adds tanh(x) to n.
      const mut1 = kind == MUT1;
      const C: usize = mut1 ? 4 : 3;
      const xr = xg + 3 * o, hr = hg + 3 * o, kr = cache + C * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const zp = mut1 ? ld(xr + q, w) : add(ld(xr + q, w), ld(hr + q, w));
        const z = sigmoidv(zp);
        let np = add(ld(xr + 2 * H4 + q, w), ld(hr + 2 * H4 + q, w));
        if (mut1) {
          const tx = tanhv(ld(x + o + q, w));
          st(kr + 3 * H4 + q, tx, w);
          np = add(np, tx);
        }
        const n = tanhv(np);
        st(kr + q, z, w);
        st(kr + 2 * H4 + q, n, w);
        st(h + o + q, add(mul(n, z), mul(ld(hPrev + o + q, w), sub(one, z))), w);
      }
    }
  }
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
    for (let j = 0; j < H; j += 4) {
      const w = min(4, H - j);
      const q = <usize>j * 4;
      let p = add(ld(xr + q, w), ld(hr + q, w));
      if (withX) p = add(p, ld(x + o + q, w));
      const r = sigmoidv(p);
      st(kr + q, r, w);
      st(u + o + q, mul(r, ld(hPrev + o + q, w)), w);
    }
  }
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
  const one = splat(1);
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (kind == RNN_TANH || kind == RNN_RELU) {
      if (masked(mask, b)) {
        carryGrad(b, 1, H, 0, 1, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = o + <usize>j * 4;
        const y = ld(cache + q, w);
        const g = kind == RNN_RELU ? v128.and(one, f32x4.gt(y, splat(0))) : sub(one, mul(y, y));
        const da = mul(ld(dh + q, w), g);
        st(dxg + q, da, w);
        st(dhg + q, da, w);
      }
    } else if (kind == LSTM) {
      if (masked(mask, b)) {
        carryGrad(b, 4, H, 0, 4, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 5 * o, xr = dxg + 4 * o, hr = dhg + 4 * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const ig = ld(kr + q, w);
        const fg = ld(kr + H4 + q, w);
        const gg = ld(kr + 2 * H4 + q, w);
        const og = ld(kr + 3 * H4 + q, w);
        const tc = ld(kr + 4 * H4 + q, w);
        const dht = ld(dh + o + q, w);
        // dL/dc_t: carried + through h = o ⊙ tanh(c)
        const dct = add(ld(dc + o + q, w), mul(mul(dht, og), sub(one, mul(tc, tc))));
        const di = mul(mul(dct, gg), mul(ig, sub(one, ig)));
        const df = mul(mul(dct, ld(cPrev + o + q, w)), mul(fg, sub(one, fg)));
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
        st(dcPrev + o + q, mul(dct, fg), w);
      }
    } else if (kind == GRU) {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 0, 3, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 4 * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const r = ld(kr + q, w);
        const z = ld(kr + H4 + q, w);
        const n = ld(kr + 2 * H4 + q, w);
        const hn = ld(kr + 3 * H4 + q, w);
        const dht = ld(dh + o + q, w);
        const dnPre = mul(mul(dht, sub(one, z)), sub(one, mul(n, n))); // dL/d(xg_n + r ⊙ hg_n)
        const dzPre = mul(mul(dht, sub(ld(hPrev + o + q, w), n)), mul(z, sub(one, z)));
        const drPre = mul(mul(dnPre, hn), mul(r, sub(one, r)));
        st(xr + q, drPre, w);
        st(hr + q, drPre, w);
        st(xr + H4 + q, dzPre, w);
        st(hr + H4 + q, dzPre, w);
        st(xr + 2 * H4 + q, dnPre, w);
        st(hr + 2 * H4 + q, mul(dnPre, r), w);
        st(dhPrev + o + q, add(ld(dhPrev + o + q, w), mul(dht, z)), w);
      }
    } else if (kind == GRU_CHO) {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 1, 3, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const kr = cache + 3 * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const z = ld(kr + H4 + q, w);
        const n = ld(kr + 2 * H4 + q, w);
        const dht = ld(dh + o + q, w);
        const dzPre = mul(mul(dht, sub(ld(hPrev + o + q, w), n)), mul(z, sub(one, z)));
        const dnPre = mul(mul(dht, sub(one, z)), sub(one, mul(n, n)));
        st(xr + H4 + q, dzPre, w);
        st(hr + H4 + q, dzPre, w);
        st(xr + 2 * H4 + q, dnPre, w);
        st(hr + 2 * H4 + q, dnPre, w);
        st(dhPrev + o + q, add(ld(dhPrev + o + q, w), mul(dht, z)), w);
      }
    } else {
      if (masked(mask, b)) {
        carryGrad(b, 3, H, 0, 1, true, dh, dc, dhPrev, dcPrev, dxg, dhg);
        carryGrad(b, 3, H, 2, 3, false, dh, dc, dhPrev, dcPrev, dxg, dhg);
        continue;
      }
      const mut1 = kind == MUT1;
      const C: usize = mut1 ? 4 : 3;
      const kr = cache + C * o, xr = dxg + 3 * o, hr = dhg + 3 * o;
      for (let j = 0; j < H; j += 4) {
        const w = min(4, H - j);
        const q = <usize>j * 4;
        const z = ld(kr + q, w);
        const n = ld(kr + 2 * H4 + q, w);
        const dht = ld(dh + o + q, w);
        const dzPre = mul(mul(dht, sub(n, ld(hPrev + o + q, w))), mul(z, sub(one, z)));
        const dnPre = mul(mul(dht, z), sub(one, mul(n, n)));
        st(xr + q, dzPre, w);
        st(hr + q, mut1 ? splat(0) : dzPre, w);
        st(xr + 2 * H4 + q, dnPre, w);
        st(hr + 2 * H4 + q, dnPre, w);
        if (mut1) {
          const tx = ld(kr + 3 * H4 + q, w);
          st(dx + o + q, add(ld(dx + o + q, w), mul(dnPre, sub(one, mul(tx, tx)))), w);
        }
        st(dhPrev + o + q, add(ld(dhPrev + o + q, w), mul(dht, sub(one, z))), w);
      }
    }
  }
}

/** Backward of stage 0: dr = du ⊙ hPrev, dhPrev += du ⊙ r, dL/dr_pre into block rq of dxg, dhg (and dx). */
function resetBackward(
  rq: i32, C: i32, withX: bool, B: i32, H: i32, hPrev: usize, mask: usize, cache: usize,
  du: usize, dxg: usize, dhg: usize, dhPrev: usize, dx: usize,
): void {
  const H4 = <usize>H * 4;
  const one = splat(1);
  for (let b = 0; b < B; b++) {
    const o = <usize>b * H4;
    if (masked(mask, b)) {
      carryGrad(b, 3, H, rq, rq + 1, false, 0, 0, 0, 0, dxg, dhg);
      continue;
    }
    const kr = cache + <usize>C * o + <usize>rq * H4, xr = dxg + 3 * o + <usize>rq * H4, hr = dhg + 3 * o + <usize>rq * H4;
    for (let j = 0; j < H; j += 4) {
      const w = min(4, H - j);
      const q = <usize>j * 4;
      const r = ld(kr + q, w);
      const duv = ld(du + o + q, w);
      const drPre = mul(mul(duv, ld(hPrev + o + q, w)), mul(r, sub(one, r)));
      st(xr + q, drPre, w);
      st(hr + q, drPre, w);
      if (withX) st(dx + o + q, add(ld(dx + o + q, w), drPre), w);
      st(dhPrev + o + q, add(ld(dhPrev + o + q, w), mul(duv, r)), w);
    }
  }
}
