// The fused forward and hand-derived backward (BPTT) of a whole recurrent stack — every layer and
// direction over the whole sequence — recorded as one tape node. The matrix products, states, masks,
// dropout and caches are here; the pointwise step of each cell is the backend's cellForward/cellBackward.
// Not here: options, parameters and validation (recurrent.ts).

import { swapAxes01Into } from '../../autograd/ops.js';
import { recordMulti } from '../../autograd/tape.js';
import type { CellBackwardStep, CellForwardStep, PackedMatrix } from '../../backend/backend.js';
import { backend } from '../../backend/registry.js';
import type { Rng } from '../../random/rng.js';
import { Tensor, isGradEnabled } from '../../tensor/tensor.js';
import { blockRuns, cellPlan, type BlockRun, type CellKind, type CellPlan } from './cells.js';

/** The parameters of one layer-direction, PyTorch's `*_l{k}[_reverse]`. */
export interface DirectionWeights {
  wih: Tensor; // (|ih|·H, D_k)
  whh: Tensor; // (|hh|·H, H)
  bih: Tensor | null; // (G·H)
  bhh: Tensor | null; // (G·H)
}

export interface StackSpec {
  cell: CellKind;
  plan: CellPlan;
  H: number;
  L: number;
  dirs: number;
  batchFirst: boolean;
  /** Inverted dropout on the output of every layer but the last; applied only when `training`. */
  dropout: number;
  training: boolean;
  rng: Rng;
  /** Index layer·dirs + direction, as h0's first dimension. */
  weights: DirectionWeights[];
}

/**
 * The first layer's input given as token ids into an embedding table: x = table[ids], (T, B, D) (or
 * (B, T, D) batch-first), which the stack never materialises. Its input projection is computed once per
 * table row, P = b_ih + table W_ihᵀ (V, G·H), and gathered, xg = P[ids]; backward scatters dL/dxg into
 * dP (V, G·H) and takes d table = dP W_ih and dW_ih = dPᵀ table: products over V rows instead of T·B.
 * The same function as running the stack on embedding(table, ids); only the rounding of sums differs.
 */
export interface TokenInput {
  table: Tensor; // (V, D)
  ids: Int32Array; // T·B ids in [0, V), in the layout of x's first two dimensions
}

export interface StackOutput {
  output: Tensor; // (T, B, dirs·H), or (B, T, dirs·H) batch-first
  h: Tensor; // (L·dirs, B, H)
  c: Tensor | null; // (L·dirs, B, H), cells with a cell state only
}

/** What the backward of one layer-direction needs; states are in processing order (reverse: t = T-1 first). */
interface DirectionCache {
  gates: Tensor; // (T, B, C·H) the kernels' cache
  hs: Tensor; // (T+1, B, H) hs[s] is the state before step s; hs[0] = h0
  cs: Tensor | null; // (T+1, B, H)
  u: Tensor | null; // (T, B, H) r ⊙ hPrev, the stage-2 operand
  th: Tensor | null; // (T, B, H) tanh(hPrev), MUT3's z operand
}

interface LayerCache {
  x: Tensor | null; // (T, B, D_k) the layer's input, time-major (after the previous layer's dropout); null: ctx.tokens
  dirs: DirectionCache[];
  /** The dropout mask applied to this layer's output (0 or 1/(1-p)), or null. */
  drop: Tensor | null; // (T, B, dirs·H)
}

/** Everything both passes share. */
interface Ctx {
  spec: StackSpec;
  T: number;
  B: number;
  G: number;
  C: number;
  ihRuns: BlockRun[];
  hhRuns: BlockRun[]; // the stage-1 products (operands h and tanh_h)
  stage2: { row: number; gate: number } | null; // the product with u = r ⊙ hPrev
  mask: Tensor | null; // (T, B) 1 while t < lengths[b]
  /** The first layer's input as tokens, ids time-major; null when x is a tensor. */
  tokens: { table: Tensor; ids: Int32Array } | null;
  recording: boolean;
  /** The backend runs each layer-direction's time loop in one call (Backend.recurrentForward/Backward). */
  wholeLoop: boolean;
}

/**
 * Runs the stack over x (T, B, D) (or (B, T, D) batch-first) from h0/c0 (zeros when null), with
 * optional per-sequence lengths; records one tape node whose backward is `stackBackward`.
 * Arguments are assumed validated (recurrent.ts).
 */
export function recurrentStack(
  spec: StackSpec, x: Tensor | TokenInput, h0: Tensor | null, c0: Tensor | null, lengths: ArrayLike<number> | null,
  /** With token input: its first two dimensions, (T, B) or (B, T) batch-first. */
  tokenShape?: readonly [number, number],
): StackOutput {
  const { H, L, dirs, plan } = spec;
  const xt = x instanceof Tensor ? x : null;
  const dims = xt?.shape ?? tokenShape!;
  const T = spec.batchFirst ? dims[1] : dims[0];
  const B = spec.batchFirst ? dims[0] : dims[1];
  const tokens = x instanceof Tensor ? null : { table: x.table, ids: spec.batchFirst ? transposeIds(x.ids, B, T) : x.ids };
  if (tokens !== null && plan.readsX) throw new Error(`recurrentStack: ${plan.title} reads its input directly; give it a tensor, not tokens`);
  const params = spec.weights.flatMap((w) => [w.wih, w.whh, ...(w.bih === null ? [] : [w.bih]), ...(w.bhh === null ? [] : [w.bhh])]);
  const parents = [xt ?? tokens!.table, ...(h0 === null ? [] : [h0]), ...(c0 === null ? [] : [c0]), ...params];
  const u = plan.hh.findIndex((b) => b.operand === 'u');
  const hhRuns = blockRuns(plan.hh.filter((b) => b.operand !== 'u'));
  const be = backend();
  const ctx: Ctx = {
    spec, T, B, G: plan.gates, C: plan.cache,
    ihRuns: blockRuns(plan.ih.map((gate) => ({ gate, operand: 'h' }))),
    hhRuns,
    stage2: u < 0 ? null : { row: u, gate: plan.hh[u].gate },
    // The one-loop kernels take the one-stage cells with a single product hPrev W_hhᵀ over all gates.
    wholeLoop: be.recurrentForward !== undefined && be.recurrentBackward !== undefined && u < 0 && !plan.readsX &&
      hhRuns.length === 1 && hhRuns[0].operand === 'h' && hhRuns[0].row === 0 && hhRuns[0].gate === 0 && hhRuns[0].n === plan.gates,
    mask: lengths === null ? null : lengthMask(lengths, T, B), // (T, B)
    tokens,
    // NOTE: without the tape nothing is cached: per-step buffers are reused and freed on return.
    recording: isGradEnabled() && parents.some((p) => p.requiresGrad),
  };

  const hN = new Tensor([L * dirs, B, H]); // (L·dirs, B, H)
  const cN = plan.hasCell ? new Tensor([L * dirs, B, H]) : null; // (L·dirs, B, H)
  let input = xt === null ? null : spec.batchFirst ? swapLeadingDims(xt) : xt; // (T, B, D) time-major; null: tokens
  const layers: LayerCache[] = [];
  for (let l = 0; l < L; l++) {
    const y = Tensor.empty([T, B, dirs * H]); // (T, B, dirs·H), every element written by the directions
    const caches: DirectionCache[] = [];
    for (let d = 0; d < dirs; d++) {
      const cache = directionForward(ctx, l, d, input, y, h0, c0, hN, cN);
      if (cache !== null) caches.push(cache);
    }
    let drop: Tensor | null = null;
    if (l < L - 1 && spec.training && spec.dropout > 0) {
      drop = dropoutMask(spec.rng, spec.dropout, y.shape); // (T, B, dirs·H)
      const yd = y.data;
      const md = drop.data;
      for (let i = 0; i < yd.length; i++) yd[i] *= md[i];
    }
    if (ctx.recording) layers.push({ x: input, dirs: caches, drop });
    else {
      drop?.dispose();
      if (input !== x) input?.dispose();
    }
    input = y;
  }
  const last = input!;
  const output = spec.batchFirst ? swapLeadingDims(last) : last; // (T, B, dirs·H) or (B, T, dirs·H)
  if (output !== last) last.dispose();

  if (ctx.recording) {
    recordMulti(cN === null ? [output, hN] : [output, hN, cN], parents, () =>
      stackBackward(ctx, layers, xt, h0, c0, output.grad, hN.grad, cN?.grad ?? null),
    );
  } else ctx.mask?.dispose();
  return { output, h: hN, c: cN };
}

/**
 * One layer-direction forward: the input projection of all T steps as one gemm per run of weight_ih
 * blocks, then per step the recurrent gemm(s) and the cell kernel. Writes its half of y and its slot of
 * hN/cN. Returns the cache (null when not recording).
 */
function directionForward(
  ctx: Ctx, l: number, d: number, X: Tensor | null, Y: Tensor, h0: Tensor | null, c0: Tensor | null, hN: Tensor, cN: Tensor | null,
): DirectionCache | null {
  const { spec, T, B, G, C, recording } = ctx;
  const { H, dirs, plan, cell } = spec;
  const w = spec.weights[l * dirs + d];
  const tokens = X === null ? ctx.tokens! : null;
  const D = X?.shape[2] ?? tokens!.table.shape[1];
  const slot = l * dirs + d;
  const steps = recording ? T : 1;
  // Storage left unzeroed where every element is written before it is read (Tensor.empty): xg when rows
  // start as b_ih or are gathered from P; the cache and states of the whole-loop kernels (masked rows'
  // cache entries are never read); the states past slot 0.
  const xg = tokens !== null || w.bih !== null ? Tensor.empty([T, B, G * H]) : new Tensor([T, B, G * H]); // (T, B, G·H) input pre-activations
  const P = tokens === null ? null : new Tensor([tokens.table.shape[0], G * H]); // (V, G·H) per-token pre-activations
  const hg = new Tensor([B, G * H]); // (B, G·H) recurrent pre-activations of the current step
  const gates = ctx.wholeLoop ? Tensor.empty([steps, B, C * H]) : new Tensor([steps, B, C * H]); // (T, B, C·H), or one reused step
  const hs = Tensor.empty([recording ? T + 1 : 2, B, H]); // (T+1, B, H), or two alternating slots; slot 0 set below
  const cs = plan.hasCell ? Tensor.empty([recording ? T + 1 : 2, B, H]) : null; // like hs
  const u = ctx.stage2 !== null ? new Tensor([steps, B, H]) : null; // (T, B, H) r ⊙ hPrev
  const th = ctx.hhRuns.some((r) => r.operand === 'tanh_h') ? new Tensor([steps, B, H]) : null; // (T, B, H)
  // W_hh's blocks packed once for the T per-step products (packing allocates: before the views).
  const be = backend();
  const hhPacked = ctx.hhRuns.map((run) => be.packB(true, H, run.n * H, w.whh.data.subarray(run.row * H * H), H)); // (H, n·H) each
  const s2Packed = ctx.stage2 === null ? null : be.packB(true, H, H, w.whh.data.subarray(ctx.stage2.row * H * H), H); // (H, H)

  // Views: nothing is allocated from here to the end, so they stay valid.
  const Xv = X?.data ?? null;
  const xgv = xg.data;
  const hgv = hg.data;
  const gatesv = gates.data;
  const hsv = hs.data;
  const csv = cs?.data ?? null;
  const uv = u?.data ?? null;
  const thv = th?.data ?? null;
  const wih = w.wih.data;
  const bhh = w.bhh?.data ?? null;
  const maskv = ctx.mask?.data ?? null;
  const Yv = Y.data;
  const BH = B * H;
  const GH = G * H;

  // xg = X W_ihᵀ + b_ih over all T·B rows; with tokens, P = table W_ihᵀ + b_ih over the V rows, xg = P[ids].
  const project = (rows: number, src: Float32Array, dst: Float32Array): void => {
    if (w.bih !== null) {
      const bih = w.bih.data;
      for (let r = 0; r < rows; r++) dst.set(bih, r * GH);
    }
    for (const run of ctx.ihRuns) {
      be.gemm(false, true, rows, run.n * H, D, 1, src, D, wih.subarray(run.row * H * D), D, 1, dst.subarray(run.gate * H), GH);
    }
  };
  if (tokens === null) project(T * B, Xv!, xgv);
  else {
    const Pv = P!.data;
    project(P!.shape[0], tokens.table.data, Pv);
    be.gatherRows(Pv, tokens.ids, GH, xgv); // xg[r] = P[ids[r]]
    P!.dispose();
  }

  if (h0 !== null) hsv.set(h0.data.subarray(slot * BH, (slot + 1) * BH), 0);
  else hsv.fill(0, 0, BH);
  if (csv !== null) {
    if (c0 !== null) csv.set(c0.data.subarray(slot * BH, (slot + 1) * BH), 0);
    else csv.fill(0, 0, BH);
  }

  if (ctx.wholeLoop) {
    be.recurrentForward!(cell, {
      T, B, H, reverse: d === 1, recording, xg: xgv, hg: hgv, bhh, whh: hhPacked[0], hs: hsv, cs: csv, gates: gatesv,
      mask: maskv, y: Yv, ldy: dirs * H, yOffset: d * H,
    });
  } else {
    const step: CellForwardStep = {
      B, H, xg: xgv, hg: hgv, x: null, hPrev: hsv, cPrev: null, mask: null, cache: gatesv, u: null, h: hsv, c: null,
    };
    for (let s = 0; s < T; s++) {
      const t = d === 0 ? s : T - 1 - s; // the time step this processing step reads and writes
      const prev = recording ? s : s & 1;
      const next = recording ? s + 1 : (s + 1) & 1;
      const k = recording ? s : 0;
      const hPrev = hsv.subarray(prev * BH, prev * BH + BH); // (B, H)
      const thS = thv?.subarray(k * BH, k * BH + BH) ?? null; // (B, H)

      // hg = b_hh + (hPrev or tanh(hPrev)) W_hhᵀ for the stage-1 blocks.
      if (bhh !== null) for (let b = 0; b < B; b++) hgv.set(bhh, b * GH);
      else hgv.fill(0);
      if (thS !== null) be.unary('tanh', hPrev, thS);
      for (let r = 0; r < ctx.hhRuns.length; r++) {
        const run = ctx.hhRuns[r];
        be.gemmPacked(false, B, 1, run.operand === 'tanh_h' ? thS! : hPrev, H, hhPacked[r], 1, hgv.subarray(run.gate * H), GH);
      }

      step.xg = xgv.subarray(t * B * GH, (t + 1) * B * GH);
      step.x = plan.readsX ? Xv!.subarray(t * B * D, (t + 1) * B * D) : null;
      step.hPrev = hPrev;
      step.cPrev = csv?.subarray(prev * BH, prev * BH + BH) ?? null;
      step.mask = maskv?.subarray(t * B, t * B + B) ?? null;
      step.cache = gatesv.subarray(k * B * C * H, (k + 1) * B * C * H);
      step.h = hsv.subarray(next * BH, next * BH + BH);
      step.c = csv?.subarray(next * BH, next * BH + BH) ?? null;
      if (ctx.stage2 !== null) {
        step.u = uv!.subarray(k * BH, k * BH + BH);
        be.cellForward(cell, 0, step);
        be.gemmPacked(false, B, 1, step.u, H, s2Packed!, 1, hgv.subarray(ctx.stage2.gate * H), GH);
      }
      be.cellForward(cell, 1, step);

      // y[t, b, d·H : (d+1)·H] = h, or 0 past the sequence's length.
      const h = step.h;
      for (let b = 0; b < B; b++) {
        const o = (t * B + b) * dirs * H + d * H;
        if (step.mask !== null && step.mask[b] === 0) Yv.fill(0, o, o + H);
        else for (let j = 0; j < H; j++) Yv[o + j] = h[b * H + j];
      }
    }
  }
  const last = recording ? T : T & 1;
  hN.data.set(hsv.subarray(last * BH, last * BH + BH), slot * BH);
  if (cN !== null) cN.data.set(csv!.subarray(last * BH, last * BH + BH), slot * BH);

  xg.dispose();
  hg.dispose();
  for (const p of hhPacked) p.dispose();
  s2Packed?.dispose();
  if (recording) return { gates, hs, cs, u, th };
  for (const t of [gates, hs, cs, u, th]) t?.dispose();
  return null;
}

/** The backward of the whole stack: layers from the last down, dropout masks between them. */
function stackBackward(
  ctx: Ctx, layers: LayerCache[], x: Tensor | null, h0: Tensor | null, c0: Tensor | null,
  dOut: Tensor | null, dhN: Tensor | null, dcN: Tensor | null,
): void {
  const { spec, T, B } = ctx;
  // Every gradient buffer first: allocation can grow the heap, which detaches views taken earlier.
  for (const w of spec.weights) for (const p of [w.wih, w.whh, w.bih, w.bhh]) if (p?.requiresGrad) p.ensureGrad();
  const gx = x?.requiresGrad ? x.ensureGrad() : null;
  if (ctx.tokens?.table.requiresGrad) ctx.tokens.table.ensureGrad();
  const gh0 = h0?.requiresGrad ? h0.ensureGrad() : null;
  const gc0 = c0?.requiresGrad ? c0.ensureGrad() : null;

  // dY: the gradient of the current layer's output, time-major. Null means zero.
  let dY: Tensor | null = dOut === null ? null : spec.batchFirst ? swapLeadingDims(dOut) : dOut; // (T, B, dirs·H)
  for (let l = spec.L - 1; l >= 0; l--) {
    const layer = layers[l];
    // dL/d(this layer's input); none for the first layer when x needs no gradient or came as tokens.
    const dX = l > 0 || gx !== null || spec.plan.readsX ? new Tensor(layer.x!.shape) : null; // (T, B, D_l)
    for (let d = 0; d < spec.dirs; d++) directionBackward(ctx, l, d, layer, dY, dX, dhN, dcN, gh0, gc0);
    if (dY !== null && dY !== dOut) dY.dispose();
    if (l > 0) {
      const drop = layers[l - 1].drop;
      if (drop !== null) {
        const g = dX!.data;
        const m = drop.data;
        for (let i = 0; i < g.length; i++) g[i] *= m[i];
      }
    }
    dY = dX;
  }
  // dY is now dL/dx, time-major (null when x needs no gradient).
  if (gx !== null) {
    if (spec.batchFirst) swapAxes01Into(dY!.data, gx.data, T, B, x!.shape[2], true); // gx (B, T, D) += dY (T, B, D) swapped
    else backend().axpy(1, dY!.data, gx.data);
  }
  dY?.dispose();
}

/**
 * BPTT for one layer-direction: walks the steps in reverse with the cell's backward kernel and the
 * per-step products with W_hh for dh; then dX, dW_ih, db_ih, dW_hh and db_hh as single big gemms over
 * all T·B rows of dXG (time order) and dHG (processing order, like the cached states).
 */
function directionBackward(
  ctx: Ctx, l: number, d: number, layer: LayerCache, dY: Tensor | null, dX: Tensor | null,
  dhN: Tensor | null, dcN: Tensor | null, gh0: Tensor | null, gc0: Tensor | null,
): void {
  const { spec, T, B, G } = ctx;
  const { H, dirs, plan, cell } = spec;
  const w = spec.weights[l * dirs + d];
  const cache = layer.dirs[d];
  const tokens = layer.x === null ? ctx.tokens! : null;
  const D = layer.x?.shape[2] ?? tokens!.table.shape[1];
  const slot = l * dirs + d;
  const dP = tokens === null ? null : new Tensor([tokens.table.shape[0], G * H]); // (V, G·H) dL/dP, see TokenInput
  // RNN and LSTM: dL/dhg = dL/dxg, every element written by the cell's backward (sharedGateGrads), and in
  // the forward direction processing order is time order, so one unzeroed buffer serves both.
  const shared = ctx.wholeLoop && plan.sharedGateGrads;
  const dXG = shared ? Tensor.empty([T, B, G * H]) : new Tensor([T, B, G * H]); // (T, B, G·H) dL/dxg, time order
  const dHG = !shared ? new Tensor([T, B, G * H]) : d === 0 ? dXG : Tensor.empty([T, B, G * H]); // (T, B, G·H) dL/dhg, processing order
  const dh = new Tensor([2, B, H]); // (2, B, H) dL/dh of the current and the previous state
  const dc = plan.hasCell ? new Tensor([2, B, H]) : null; // (2, B, H)
  const du = ctx.stage2 !== null ? new Tensor([B, H]) : null; // (B, H)
  const dth = cache.th !== null ? new Tensor([B, H]) : null; // (B, H) dL/d tanh(hPrev)
  // RNN and LSTM: the pre-activation is xg + hg, so db_ih and db_hh get the same gradient; sum it once.
  const db = plan.sharedGateGrads && w.bih?.requiresGrad && w.bhh?.requiresGrad ? new Tensor([G * H]) : null; // (G·H)
  // W_hh's blocks packed once for the T per-step products dhg W_hh (before the views: packing allocates).
  const be = backend();
  const hhPacked = ctx.hhRuns.map((run) => be.packB(false, run.n * H, H, w.whh.data.subarray(run.row * H * H), H)); // (n·H, H) each
  const s2Packed = ctx.stage2 === null ? null : be.packB(false, H, H, w.whh.data.subarray(ctx.stage2.row * H * H), H); // (H, H)

  // Views: nothing is allocated below.
  const BH = B * H;
  const GH = G * H;
  const dXGv = dXG.data;
  const dHGv = dHG.data;
  const dhv = dh.data;
  const dcv = dc?.data ?? null;
  const duv = du?.data ?? null;
  const dthv = dth?.data ?? null;
  const dYv = dY?.data ?? null;
  const dXv = dX?.data ?? null;
  const Xv = layer.x?.data ?? null;
  const gatesv = cache.gates.data;
  const hsv = cache.hs.data;
  const csv = cache.cs?.data ?? null;
  const uv = cache.u?.data ?? null;
  const thv = cache.th?.data ?? null;
  const maskv = ctx.mask?.data ?? null;
  const wih = w.wih.data;

  if (dhN !== null) dhv.set(dhN.data.subarray(slot * BH, (slot + 1) * BH), 0);
  if (dcv !== null && dcN !== null) dcv.set(dcN.data.subarray(slot * BH, (slot + 1) * BH), 0);

  let cur = 0; // which half of dh/dc holds dL/d(state after the step being undone)
  if (ctx.wholeLoop) {
    be.recurrentBackward!(cell, {
      T, B, H, reverse: d === 1, hs: hsv, cs: csv, gates: gatesv, mask: maskv, dy: dYv, ldy: dirs * H, yOffset: d * H,
      dh: dhv, dc: dcv, dxg: dXGv, dhg: dHGv, whh: hhPacked[0],
    });
    cur = T & 1;
  } else {
    const step: CellBackwardStep = {
      B, H, hPrev: hsv, cPrev: null, mask: null, cache: gatesv, dh: dhv, dc: null, du: duv,
      dxg: dXGv, dhg: dHGv, dhPrev: dhv, dcPrev: null, dx: null,
    };
    for (let s = T - 1; s >= 0; s--) {
      const t = d === 0 ? s : T - 1 - s;
      const prev = 1 - cur;
      const dhCur = dhv.subarray(cur * BH, cur * BH + BH); // (B, H)
      const dhPrev = dhv.subarray(prev * BH, prev * BH + BH); // (B, H)
      dhPrev.fill(0);
      const mask = maskv?.subarray(t * B, t * B + B) ?? null;
      // dh += dL/dy_t on rows inside their sequence (outside, y is a constant 0).
      if (dYv !== null) {
        for (let b = 0; b < B; b++) {
          if (mask !== null && mask[b] === 0) continue;
          const o = (t * B + b) * dirs * H + d * H;
          for (let j = 0; j < H; j++) dhCur[b * H + j] += dYv[o + j];
        }
      }
      const dhg = dHGv.subarray(s * B * GH, (s + 1) * B * GH); // (B, G·H)
      step.hPrev = hsv.subarray(s * BH, s * BH + BH);
      step.cPrev = csv?.subarray(s * BH, s * BH + BH) ?? null;
      step.mask = mask;
      step.cache = gatesv.subarray(s * B * ctx.C * H, (s + 1) * B * ctx.C * H);
      step.dh = dhCur;
      step.dc = dcv?.subarray(cur * BH, cur * BH + BH) ?? null;
      step.dcPrev = dcv?.subarray(prev * BH, prev * BH + BH) ?? null;
      step.dxg = dXGv.subarray(t * B * GH, (t + 1) * B * GH);
      step.dhg = dhg;
      step.dhPrev = dhPrev;
      step.dx = plan.readsX ? dXv!.subarray(t * B * D, (t + 1) * B * D) : null;
      be.cellBackward(cell, 1, step);
      if (ctx.stage2 !== null) {
        // du = dhg[stage-2 block] W2: the gradient of u = r ⊙ hPrev.
        be.gemmPacked(false, B, 1, dhg.subarray(ctx.stage2.gate * H), GH, s2Packed!, 0, duv!, H);
        be.cellBackward(cell, 0, step);
      }
      // dhPrev += dhg W_hh through the stage-1 products (MUT3's z through tanh(hPrev)).
      for (let r = 0; r < ctx.hhRuns.length; r++) {
        const run = ctx.hhRuns[r];
        if (run.operand === 'h') be.gemmPacked(false, B, 1, dhg.subarray(run.gate * H), GH, hhPacked[r], 1, dhPrev, H);
        else {
          be.gemmPacked(false, B, 1, dhg.subarray(run.gate * H), GH, hhPacked[r], 0, dthv!, H);
          be.unaryBackwardAcc('tanh', thv!.subarray(s * BH, s * BH + BH), dthv!, dhPrev);
        }
      }
      cur = prev;
    }
  }
  if (gh0 !== null) be.axpy(1, dhv.subarray(cur * BH, cur * BH + BH), gh0.data.subarray(slot * BH, (slot + 1) * BH));
  if (gc0 !== null && dcv !== null) be.axpy(1, dcv.subarray(cur * BH, cur * BH + BH), gc0.data.subarray(slot * BH, (slot + 1) * BH));

  // The big products over all T·B rows (with tokens: over the V rows of dP = dXG summed by token id).
  const TB = T * B;
  let rows = TB;
  let dIn = dXv; // dL/d(the layer's input, or the token table)
  let inV = Xv;
  let dPre = dXGv; // dL/d(the input pre-activations)
  if (tokens !== null) {
    const dPv = dP!.data;
    be.indexAddRows(dXGv.subarray(0, TB * GH), tokens.ids, GH, dPv); // dP[id] += dXG[r]
    rows = tokens.table.shape[0];
    dIn = tokens.table.grad?.data ?? null;
    inV = tokens.table.data;
    dPre = dPv;
  }
  for (const run of ctx.ihRuns) {
    const dpRun = dPre.subarray(run.gate * H); // (rows, n·H) with row stride G·H
    if (dIn !== null) be.gemm(false, false, rows, D, run.n * H, 1, dpRun, GH, wih.subarray(run.row * H * D), D, 1, dIn, D); // dX += dXG W_ih
    if (w.wih.requiresGrad) {
      be.gemm(true, false, run.n * H, D, rows, 1, dpRun, GH, inV!, D, 1, w.wih.grad!.data.subarray(run.row * H * D), D); // dW_ih += dXGᵀ X
    }
  }
  if (db !== null) {
    be.sumRowsAcc(dPre.subarray(0, rows * GH), GH, db.data);
    be.axpy(1, db.data, w.bih!.grad!.data);
    be.axpy(1, db.data, w.bhh!.grad!.data);
  } else if (w.bih?.requiresGrad) be.sumRowsAcc(dPre.subarray(0, rows * GH), GH, w.bih.grad!.data);
  if (w.whh.requiresGrad) {
    const gwhh = w.whh.grad!.data;
    const operands = { h: hsv.subarray(0, TB * H), tanh_h: thv, u: uv }; // (T·B, H) each, processing order
    const runs: BlockRun[] = ctx.stage2 === null ? ctx.hhRuns : [...ctx.hhRuns, { ...ctx.stage2, n: 1, operand: 'u' }];
    for (const run of runs) {
      // dW_hh[run] += dHG[:, run]ᵀ operand
      be.gemm(true, false, run.n * H, H, TB, 1, dHGv.subarray(run.gate * H), GH, operands[run.operand]!, H, 1, gwhh.subarray(run.row * H * H), H);
    }
  }
  if (db === null && w.bhh?.requiresGrad) be.sumRowsAcc(dHGv, GH, w.bhh.grad!.data);

  for (const t of [dP, dXG, dHG, dh, dc, du, dth, db]) t?.dispose();
  for (const p of hhPacked) p.dispose();
  s2Packed?.dispose();
}

/** (B, T) ids → (T, B). */
function transposeIds(ids: Int32Array, B: number, T: number): Int32Array {
  const out = new Int32Array(T * B);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = ids[b * T + t];
  return out;
}

/** (T, B) mask: 1 where t < lengths[b], else 0. */
function lengthMask(lengths: ArrayLike<number>, T: number, B: number): Tensor {
  const m = new Tensor([T, B]); // (T, B)
  const v = m.data;
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) v[t * B + b] = t < lengths[b] ? 1 : 0;
  return m;
}

/** Inverted-dropout mask: each element 0 with probability p, else 1/(1-p); uniforms drawn in storage order. */
function dropoutMask(rng: Rng, p: number, shape: readonly number[]): Tensor {
  const m = Tensor.empty(shape); // every element written
  rng.dropoutMask(m.data, p, 1 / (1 - p), backend());
  return m;
}

/** (P, Q, K) -> (Q, P, K): a copy with the first two dimensions swapped (batch-first <-> time-major). */
function swapLeadingDims(x: Tensor): Tensor {
  const [P, Q, K] = x.shape;
  const out = Tensor.empty([Q, P, K]); // (Q, P, K), every element written
  swapAxes01Into(x.data, out.data, P, Q, K, false);
  return out;
}

/**
 * One time step at a time through a unidirectional stack, without the tape: what batch-1 generation
 * needs. Every weight is packed once at construction; the state (two alternating slots per layer),
 * pre-activations and cell scratch are allocated once and reused, so a step allocates nothing. Each
 * step is the same sequence of kernels as a step of directionForward (in eval mode: no dropout).
 * Call dispose() to free the packed weights and buffers.
 */
export class RecurrentStepper {
  /** (B, D) write the step's input here (the heap view may change after an allocation: take it per step). */
  readonly x: Tensor;
  private readonly plan: CellPlan;
  private readonly ihRuns: BlockRun[];
  private readonly hhRuns: BlockRun[];
  private readonly stage2: { row: number; gate: number } | null;
  private readonly ihPacked: PackedMatrix[][]; // [layer][run] (D_l, n·H) each
  private readonly hhPacked: PackedMatrix[][]; // [layer][run] (H, n·H) each
  private readonly s2Packed: (PackedMatrix | null)[]; // [layer] (H, H)
  private readonly hs: Tensor; // (L, 2, B, H) two alternating slots per layer
  private readonly cs: Tensor | null; // (L, 2, B, H)
  private readonly xg: Tensor; // (B, G·H)
  private readonly hg: Tensor; // (B, G·H)
  private readonly gates: Tensor; // (L, B, C·H) each layer's cell cache of the last step (its activations: CELL_LAYOUTS)
  private readonly u: Tensor | null; // (B, H)
  private readonly th: Tensor | null; // (B, H)
  private slot = 0; // which of the two slots holds the current state

  constructor(
    readonly cell: CellKind, readonly H: number, readonly L: number, private readonly weights: DirectionWeights[], readonly B: number,
  ) {
    this.plan = cellPlan(cell);
    const { plan } = this;
    const u = plan.hh.findIndex((b) => b.operand === 'u');
    this.ihRuns = blockRuns(plan.ih.map((gate) => ({ gate, operand: 'h' })));
    this.hhRuns = blockRuns(plan.hh.filter((b) => b.operand !== 'u'));
    this.stage2 = u < 0 ? null : { row: u, gate: plan.hh[u].gate };
    const be = backend();
    this.ihPacked = weights.map((w) =>
      this.ihRuns.map((run) => be.packB(true, w.wih.shape[1], run.n * H, w.wih.data.subarray(run.row * H * w.wih.shape[1]), w.wih.shape[1])),
    );
    this.hhPacked = weights.map((w) => this.hhRuns.map((run) => be.packB(true, H, run.n * H, w.whh.data.subarray(run.row * H * H), H)));
    this.s2Packed = weights.map((w) => (this.stage2 === null ? null : be.packB(true, H, H, w.whh.data.subarray(this.stage2.row * H * H), H)));
    this.x = new Tensor([B, weights[0].wih.shape[1]]); // (B, D)
    this.hs = new Tensor([L, 2, B, H]); // (L, 2, B, H)
    this.cs = plan.hasCell ? new Tensor([L, 2, B, H]) : null; // (L, 2, B, H)
    this.xg = new Tensor([B, plan.gates * H]); // (B, G·H)
    this.hg = new Tensor([B, plan.gates * H]); // (B, G·H)
    this.gates = new Tensor([L, B, plan.cache * H]); // (L, B, C·H)
    this.u = this.stage2 !== null ? new Tensor([B, H]) : null; // (B, H)
    this.th = this.hhRuns.some((r) => r.operand === 'tanh_h') ? new Tensor([B, H]) : null; // (B, H)
  }

  /** (L, B, H) views of the current h and c (c null without a cell state); valid until the next allocation. */
  state(): { h: Float32Array[]; c: Float32Array[] | null } {
    const BH = this.B * this.H;
    const at = (v: Float32Array, l: number): Float32Array => v.subarray((l * 2 + this.slot) * BH, (l * 2 + this.slot + 1) * BH);
    const hv = this.hs.data;
    const cv = this.cs?.data ?? null;
    return {
      h: Array.from({ length: this.L }, (_, l) => at(hv, l)),
      c: cv === null ? null : Array.from({ length: this.L }, (_, l) => at(cv, l)),
    };
  }

  /**
   * Layer l's cell cache of the last step, (B, C·H): per row the C blocks of H activations CELL_LAYOUTS lists
   * (LSTM: i, f, g, o, tanh(c)). A view, valid until the next allocation.
   */
  cache(l: number): Float32Array {
    const n = this.B * this.plan.cache * this.H;
    return this.gates.data.subarray(l * n, (l + 1) * n);
  }

  /** Sets the state from h (L, B, H) and c (null: zeros), or zeros everything when h is null. */
  setState(h: Float32Array | null, c: Float32Array | null): void {
    const BH = this.B * this.H;
    const hv = this.hs.data;
    const cv = this.cs?.data ?? null;
    hv.fill(0);
    cv?.fill(0);
    for (let l = 0; l < this.L; l++) {
      const o = (l * 2 + this.slot) * BH;
      if (h !== null) hv.set(h.subarray(l * BH, (l + 1) * BH), o);
      if (cv !== null && c !== null) cv.set(c.subarray(l * BH, (l + 1) * BH), o);
    }
  }

  /** Advances every layer one step from `x`; returns the top layer's new h (B, H) (a view, valid until an allocation). */
  step(): Float32Array {
    const { B, H, L, plan, cell } = this;
    const be = backend();
    const BH = B * H;
    const GH = plan.gates * H;
    const xgv = this.xg.data;
    const hgv = this.hg.data;
    const hsv = this.hs.data;
    const csv = this.cs?.data ?? null;
    const cur = this.slot;
    const nxt = 1 - cur;
    let input = this.x.data;
    let D = this.x.shape[1];
    const s: CellForwardStep = {
      B, H, xg: xgv, hg: hgv, x: null, hPrev: hsv, cPrev: null, mask: null, cache: this.gates.data,
      u: this.u?.data ?? null, h: hsv, c: null,
    };
    for (let l = 0; l < L; l++) {
      const w = this.weights[l];
      const hPrev = hsv.subarray((l * 2 + cur) * BH, (l * 2 + cur + 1) * BH); // (B, H)
      // xg = b_ih + x W_ihᵀ; hg = b_hh + (hPrev or tanh(hPrev)) W_hhᵀ (stage-1 blocks).
      if (w.bih !== null) for (let b = 0; b < B; b++) xgv.set(w.bih.data, b * GH);
      else xgv.fill(0);
      for (let r = 0; r < this.ihRuns.length; r++) {
        be.gemmPacked(false, B, 1, input, D, this.ihPacked[l][r], 1, xgv.subarray(this.ihRuns[r].gate * H), GH);
      }
      if (w.bhh !== null) for (let b = 0; b < B; b++) hgv.set(w.bhh.data, b * GH);
      else hgv.fill(0);
      const thv = this.th?.data ?? null;
      if (thv !== null) be.unary('tanh', hPrev, thv);
      for (let r = 0; r < this.hhRuns.length; r++) {
        const run = this.hhRuns[r];
        be.gemmPacked(false, B, 1, run.operand === 'tanh_h' ? thv! : hPrev, H, this.hhPacked[l][r], 1, hgv.subarray(run.gate * H), GH);
      }
      s.x = plan.readsX ? input : null;
      s.cache = this.cache(l);
      s.hPrev = hPrev;
      s.cPrev = csv?.subarray((l * 2 + cur) * BH, (l * 2 + cur + 1) * BH) ?? null;
      s.h = hsv.subarray((l * 2 + nxt) * BH, (l * 2 + nxt + 1) * BH);
      s.c = csv?.subarray((l * 2 + nxt) * BH, (l * 2 + nxt + 1) * BH) ?? null;
      if (this.stage2 !== null) {
        be.cellForward(cell, 0, s);
        be.gemmPacked(false, B, 1, s.u!, H, this.s2Packed[l]!, 1, hgv.subarray(this.stage2.gate * H), GH);
      }
      be.cellForward(cell, 1, s);
      input = s.h;
      D = H;
    }
    this.slot = nxt;
    return input;
  }

  dispose(): void {
    for (const p of [...this.ihPacked.flat(), ...this.hhPacked.flat(), ...this.s2Packed]) p?.dispose();
    for (const t of [this.x, this.hs, this.cs, this.xg, this.hg, this.gates, this.u, this.th]) t?.dispose();
  }
}
