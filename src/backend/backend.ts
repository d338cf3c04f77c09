// The kernel interface every backend implements. Kernels take Float32Array views over the shared heap
// (so a wasm backend reads `view.byteOffset` as its pointer and never copies), sizes as plain numbers,
// and write into outputs the caller allocated. "acc" kernels add into their output (+=), which is how
// gradients accumulate. Not here: shapes, autograd, allocation (tensor/, autograd/).

export type UnaryOp = 'tanh' | 'sigmoid' | 'relu' | 'exp' | 'neg';
export type BinaryOp = 'add' | 'sub' | 'mul';

export interface Backend {
  readonly name: string;

  /**
   * Optional: sets how many threads large kernels (GEMM) may use, the calling thread included (the wasm
   * backend has it; n > 1 needs shared memory and worker threads, and throws where they are missing).
   */
  setThreads?(n: number): void;

  /** Optional, with setThreads: the thread count, and how many of those can take work now (see WasmBackend). */
  readonly threads?: number;
  readonly readyThreads?: number;

  /**
   * C = alpha * op(A) @ op(B) + beta * C, row-major; op(A) is M×K, op(B) is K×N.
   * lda/ldb/ldc are row strides of A, B, C as stored (before the transpose).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
  ): void;

  /**
   * Prepares op(B) (K×N; B stored N×K when transB, row stride ldb) for many `gemmPacked` calls with the
   * same right operand — a recurrent layer's W_hh at every time step, the weights of batch-1 generation.
   * The result is a snapshot: later writes to B are not seen. It may allocate from the heap (which can
   * grow and detach views taken earlier), so pack before taking views; free it with `dispose()`.
   */
  packB(transB: boolean, K: number, N: number, B: Float32Array, ldb: number): PackedMatrix;

  /** C = alpha * op(A) @ P + beta * C with P = packed (K×N): gemm(transA, -, M, P.N, P.K, ...) on the packed op(B). */
  gemmPacked(transA: boolean, M: number, alpha: number, A: Float32Array, lda: number, packed: PackedMatrix, beta: number, C: Float32Array, ldc: number): void;

  /** out[i] = op(x[i]). */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void;

  /** dx[i] += dy[i] * op'(x[i]), given the forward output y (tanh, sigmoid, relu and exp are cheapest from y). */
  unaryBackwardAcc(op: UnaryOp, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /** out[i] = a[i] op b[i % b.length] (b broadcasts over the leading dimensions when shorter). */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void;

  /** out[i] += alpha * x[i]. */
  axpy(alpha: number, x: Float32Array, out: Float32Array): void;

  /**
   * A block of `rows` rows of `cols` floats: out[r·ldo + j] = x[r·ldx + j], or += with `accumulate`
   * (concatenations, axis swaps and their gradients, in one call instead of one per row). x and out
   * must not overlap.
   */
  copyRows(rows: number, cols: number, x: Float32Array, ldx: number, out: Float32Array, ldo: number, accumulate: boolean): void;

  /** Sum of rows: out[j] += sum_i x[i * n + j] for x of `x.length / n` rows of n (bias gradients). */
  sumRowsAcc(x: Float32Array, n: number, out: Float32Array): void;

  /**
   * Scatter-add of rows: out[ids[r]·n + j] += x[r·n + j] for the ids.length rows of n of x, in row
   * order (the gradient of a row gather: embeddings, per-token projections). Every id must index a
   * row of out; the kernel checks and throws naming the first that does not.
   */
  indexAddRows(x: Float32Array, ids: Int32Array, n: number, out: Float32Array): void;

  /**
   * Gather of rows: out[r·n + j] = table[ids[r]·n + j] for the ids.length rows of n of out (indexAddRows'
   * forward). Every id must index a row of table; the backend checks and throws naming the first that does not.
   */
  gatherRows(table: Float32Array, ids: Int32Array, n: number, out: Float32Array): void;

  /**
   * Softmax cross-entropy over rows of `logits` (N×V) against integer `targets` (N); rows whose target
   * equals `ignoreIndex` count for nothing. With label smoothing ε the target distribution is
   * q = (1 - ε) onehot + ε/V, so a row's loss is lse(x) - (1 - ε) x_t - (ε/V) Σ_j x_j (PyTorch's
   * label_smoothing). Writes dLogits = (softmax - q) * scale for counted rows, 0 for ignored ones, and
   * returns the summed loss (in float64) and the number of counted rows.
   */
  softmaxCrossEntropy(
    logits: Float32Array, targets: Int32Array, V: number, ignoreIndex: number, smoothing: number, scale: number, dLogits: Float32Array | null,
  ): { lossSum: number; count: number };

  /** Sum of squares, in float64 (gradient norms for clipping). */
  sumSquares(x: Float32Array): number;

  // Gradient clipping (optim/clip.ts).

  /** Largest |x[i]| (0 for an empty array; NaN if any element is NaN): the infinity norm. */
  maxAbs(x: Float32Array): number;

  /** x[i] *= alpha, in place. */
  scal(alpha: number, x: Float32Array): void;

  /** x[i] = min(max(x[i], lo), hi), in place; NaN stays NaN. */
  clamp(x: Float32Array, lo: number, hi: number): void;

  /**
   * An inverted-dropout mask from the 4-word xoshiro128** state (advanced in place): out[i] = 0 with
   * probability p, else keep — exactly random/rng.ts's xoshiroDropoutMask (Rng.dropoutMask calls this).
   */
  dropoutMask(state: Uint32Array, p: number, keep: number, out: Float32Array): void;

  // Optimizer updates (optim/): one fused elementwise pass per parameter, in place, allocating nothing.
  // Each is PyTorch 1.13's single-tensor update (torch/optim/*.py) for one element i; scalars that depend
  // on the step (learning rate, bias corrections) are computed by the caller in float64. Arithmetic per
  // element may be float32 or float64; results are stored as float32. `grad` is only read.

  /**
   * SGD. With m = momentumBuffer (null iff s.momentum == 0):
   *   d = grad[i] + s.weightDecay * param[i]
   *   m[i] = firstStep ? d : s.momentum * m[i] + (1 - s.dampening) * d   (PyTorch clones d on a buffer's first step)
   *   d = s.nesterov ? d + s.momentum * m[i] : m[i]                        (when m is not null)
   *   param[i] -= s.lr * d
   */
  sgdUpdate(param: Float32Array, grad: Float32Array, momentumBuffer: Float32Array | null, firstStep: boolean, s: SgdScalars): void;

  /**
   * Adagrad, with clr = lr / (1 + (step - 1) * lr_decay) from the caller:
   *   d = grad[i] + weightDecay * param[i]
   *   sum[i] += d * d
   *   param[i] -= clr * d / (sqrt(sum[i]) + eps)
   */
  adagradUpdate(param: Float32Array, grad: Float32Array, sum: Float32Array, clr: number, weightDecay: number, eps: number): void;

  /**
   * RMSProp. gradAvg is null iff not centered; momentumBuffer is null iff s.momentum == 0:
   *   d = grad[i] + s.weightDecay * param[i]
   *   squareAvg[i] = s.alpha * squareAvg[i] + (1 - s.alpha) * d * d
   *   gradAvg[i] = s.alpha * gradAvg[i] + (1 - s.alpha) * d                      (centered)
   *   avg = sqrt(squareAvg[i] - gradAvg[i]^2) + s.eps   (centered), sqrt(squareAvg[i]) + s.eps otherwise
   *   momentumBuffer[i] = s.momentum * momentumBuffer[i] + d / avg; param[i] -= s.lr * momentumBuffer[i]
   *   or, without momentum, param[i] -= s.lr * d / avg
   */
  rmspropUpdate(
    param: Float32Array, grad: Float32Array, squareAvg: Float32Array, gradAvg: Float32Array | null,
    momentumBuffer: Float32Array | null, s: RmspropScalars,
  ): void;

  /**
   * Adam and AdamW (old param[i] on the right of every line):
   *   param[i] *= 1 - s.decoupledDecay                                 (AdamW: lr * weight_decay; Adam: 0)
   *   d = grad[i] + s.weightDecay * param[i]                           (Adam's coupled L2; AdamW: 0)
   *   expAvg[i] = s.beta1 * expAvg[i] + (1 - s.beta1) * d
   *   expAvgSq[i] = s.beta2 * expAvgSq[i] + (1 - s.beta2) * d * d
   *   param[i] -= s.stepSize * expAvg[i] / (sqrt(expAvgSq[i]) / s.biasCorrection2Sqrt + s.eps)
   * with stepSize = lr / (1 - beta1^step) and biasCorrection2Sqrt = sqrt(1 - beta2^step).
   */
  adamUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, s: AdamScalars): void;

  // Recurrent cells (nn/recurrent/): one pointwise step of a cell over a batch, forward and backward.
  // The layer does the matrix products (gemm) around them; the contract is CELL_LAYOUTS below.

  /** One forward stage of one time step of `kind` over s.B rows (see CELL_LAYOUTS and CellForwardStep). */
  cellForward(kind: CellKind, stage: CellStage, s: CellForwardStep): void;

  /** The backward of the same stage: stage 1 first, then stage 0 (see CELL_LAYOUTS and CellBackwardStep). */
  cellBackward(kind: CellKind, stage: CellStage, s: CellBackwardStep): void;

  /**
   * Optional, for the one-stage cells that read no x (rnn_tanh, rnn_relu, lstm, gru): a layer-direction's
   * whole forward time loop in one call — per step hg = b_hh + hPrev W_hhᵀ, cellForward(stage 1), and y
   * = h (0 on masked rows) — exactly what recurrent-stack.ts does step by step without it, with the
   * same results. A backend offers it to run the loop without a call per step, or on several threads.
   */
  recurrentForward?(kind: CellKind, s: RecurrentForwardLoop): void;

  /** Optional, with recurrentForward: the loop of the layer-direction's backward (see RecurrentBackwardLoop). */
  recurrentBackward?(kind: CellKind, s: RecurrentBackwardLoop): void;

  // Transformer layers (nn/transformer/): fused attention, LayerNorm and GELU, forward and backward.

  /** Scaled dot-product attention of every (batch, head) problem: see AttentionForward. */
  attentionForward(s: AttentionForward): void;

  /** Its backward, after attentionForward on the same operands: see AttentionBackward. */
  attentionBackward(s: AttentionBackward): void;

  /**
   * LayerNorm over `rows` rows of n: per row μ = mean(x), σ² = mean((x - μ)²) (biased), r = 1/√(σ² + eps),
   * y = (x - μ)·r ⊙ weight + bias (weight, bias (n) or null: 1 and 0); writes y, mean (rows) and rstd (rows).
   */
  layerNormForward(rows: number, n: number, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
    y: Float32Array, mean: Float32Array, rstd: Float32Array): void;

  /**
   * Its backward, accumulating: with x̂ = (x - μ)·r and g = dy ⊙ weight, dx += r·(g - mean(g) - x̂·mean(g ⊙ x̂)) per
   * row; dWeight += Σ_rows dy ⊙ x̂, dBias += Σ_rows dy (each skipped when null).
   */
  layerNormBackward(rows: number, n: number, x: Float32Array, weight: Float32Array | null, mean: Float32Array, rstd: Float32Array,
    dy: Float32Array, dx: Float32Array | null, dWeight: Float32Array | null, dBias: Float32Array | null): void;

  /**
   * out[i] = GELU(x[i]): x·Φ(x) = ½x(1 + erf(x/√2)) ('none', PyTorch's default), or
   * ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh').
   */
  gelu(approximate: GeluApproximate, x: Float32Array, out: Float32Array): void;

  /** dx[i] += dy[i]·GELU'(x[i]) (from the input x: 'none' Φ(x) + x·φ(x)). */
  geluBackwardAcc(approximate: GeluApproximate, x: Float32Array, dy: Float32Array, dx: Float32Array): void;

  // Image layers (nn/image/): convolution is im2col + gemm (and col2im for the input gradient); max pooling
  // with the arg-max kept for the backward. See WindowGeometry.

  /**
   * Unfolds one image x (C, H, W) into the C·kh·kw rows of OH·OW columns of cols, row stride ldc (>= OH·OW:
   * several images' columns side by side make one gemm), written (=):
   *   cols[((c·kh + i)·kw + j)·ldc + oy·OW + ox] = x[c, oy·sh - ph + i, ox·sw - pw + j]   (0 outside the image)
   * so that a convolution is weight (O, C·kh·kw) @ cols (PyTorch's unfold). Other columns are left as they were.
   */
  im2col(g: WindowGeometry, x: Float32Array, cols: Float32Array, ldc: number): void;

  /** Its adjoint, accumulating (PyTorch's fold): dx[c, y, x] += every cols entry im2col reads from x[c, y, x]. */
  col2imAcc(g: WindowGeometry, cols: Float32Array, ldc: number, dx: Float32Array): void;

  /**
   * Max pooling of C planes x (C, H, W) to y (C, OH, OW), written (=), over windows that skip the padding;
   * argmax (C, OH, OW) gets each maximum's index h·W + w within its plane (PyTorch's return_indices). The
   * first maximum in window order (row by row) wins ties, and a NaN is the maximum (PyTorch's CPU kernel).
   * Every window must hold at least one pixel of the image (pooling's ph <= kh/2, pw <= kw/2 ensure it).
   */
  maxPool2dForward(g: WindowGeometry, x: Float32Array, y: Float32Array, argmax: Int32Array): void;

  /**
   * Its backward, accumulating: dx[c, argmax[c, o]] += dy[c, o]. Every index must be inside its plane
   * [0, H·W); the backend checks and throws naming the first that is not.
   */
  maxPool2dBackwardAcc(g: WindowGeometry, dy: Float32Array, argmax: Int32Array, dx: Float32Array): void;
}

/**
 * Where a kh×kw window goes over C planes of H×W (one image for im2col, batch·channels planes for pooling):
 * moved by strides (sh, sw) over the planes padded by (ph, pw) on each side, at OH×OW positions, with
 * OH = ⌊(H + 2ph - kh)/sh⌋ + 1 and OW likewise (PyTorch's floor; checkWindow enforces it).
 */
export interface WindowGeometry {
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  OH: number;
  OW: number;
}

/**
 * A geometry's checks, shared by the backends: whole sizes (C, H, W >= 0, kernel and strides >= 1, padding
 * >= 0), OH and OW PyTorch's floor sizes, and the buffers long enough: x holds C·H·W floats, out (the
 * kernel's other operand) `outLength` of the `outFloats` it needs.
 */
export function checkWindow(g: WindowGeometry, xLength: number, outLength: number, outFloats: number, who: string, op: string, x = 'x', out = 'out'): void {
  for (const k of ['C', 'H', 'W', 'ph', 'pw'] as const) {
    if (!Number.isInteger(g[k]) || g[k] < 0) throw new Error(`${who} backend: ${op}: ${k} must be a non-negative integer, got ${g[k]}`);
  }
  for (const k of ['kh', 'kw', 'sh', 'sw'] as const) {
    if (!Number.isInteger(g[k]) || g[k] < 1) throw new Error(`${who} backend: ${op}: ${k} must be a positive integer, got ${g[k]}`);
  }
  const OH = Math.floor((g.H + 2 * g.ph - g.kh) / g.sh) + 1;
  const OW = Math.floor((g.W + 2 * g.pw - g.kw) / g.sw) + 1;
  if (g.OH !== Math.max(OH, 0) || g.OW !== Math.max(OW, 0)) {
    throw new Error(`${who} backend: ${op}: output ${g.OH}×${g.OW} is not the ${Math.max(OH, 0)}×${Math.max(OW, 0)} of a ${g.kh}×${g.kw} window over ${g.H}×${g.W}`);
  }
  if (xLength < g.C * g.H * g.W) throw new Error(`${who} backend: ${op}: ${x} has ${xLength} elements, needs C·H·W = ${g.C * g.H * g.W}`);
  if (outLength < outFloats) throw new Error(`${who} backend: ${op}: ${out} has ${outLength} elements, needs ${outFloats}`);
}

/** Floats im2col's columns span at row stride ldc (an integer >= OH·OW, else an error): C·kh·kw rows of OH·OW. */
export function colsFloats(g: WindowGeometry, ldc: number, who: string, op: string): number {
  const P = g.OH * g.OW;
  if (!Number.isInteger(ldc) || ldc < P) throw new Error(`${who} backend: ${op}: the row stride ldc must be an integer >= OH·OW = ${P}, got ${ldc}`);
  const rows = g.C * g.kh * g.kw;
  return rows === 0 || P === 0 ? 0 : (rows - 1) * ldc + P;
}

/** Pooling's other checks: a pixel of the image in every window, and argmax as long as y. */
export function checkPool(g: WindowGeometry, argmaxLength: number, who: string, op: string): void {
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw) throw new Error(`${who} backend: ${op}: padding ${g.ph}×${g.pw} is more than half the ${g.kh}×${g.kw} window`);
  const n = g.C * g.OH * g.OW;
  if (argmaxLength < n) throw new Error(`${who} backend: ${op}: argmax has ${argmaxLength} elements, needs ${n}`);
}

/** PyTorch's `approximate` argument of GELU. */
export type GeluApproximate = 'none' | 'tanh';

/**
 * Where the rows of a sequence operand are: row (b, t) starts at float b·batch + t·time of its view, and
 * head h's D features are its columns [h·D, (h+1)·D). Time-major (T, B, W) is batch = W, time = B·W;
 * batch-first (B, T, W) is batch = T·W, time = W; the view starts at the operand's first column.
 */
export interface RowStrides {
  batch: number;
  time: number;
}

/**
 * The operands of attention for B·heads problems n = b·heads + h, L queries against S keys of D features:
 *   scores[l, s] = scale·q_l·k_s + attnMask[l, s] + keyPadding[b, s]     (-∞ where causal and s > l + S - L)
 *   P[l, :] = softmax over the s whose score is not -∞; a row with none is all 0 (PyTorch gives NaN)
 * Masks are additive floats (-∞ masks): attnMask rows of S, problem n's (L, S) block at n·maskStride
 * (0: one (L, S) mask for all), keyPadding (B, S). Per-element math may be float32 or float64.
 */
export interface AttentionProblem {
  B: number;
  heads: number;
  L: number;
  S: number;
  D: number;
  scale: number;
  q: Float32Array;
  qs: RowStrides;
  k: Float32Array;
  ks: RowStrides;
  v: Float32Array;
  vs: RowStrides;
  attnMask: Float32Array | null;
  maskStride: number;
  keyPadding: Float32Array | null;
  causal: boolean;
}

/**
 * Forward: probs (B·heads, L, S) = P; with dropout (dropMask (B·heads, L, S) of 0 or 1/(1 - p)) also
 * dropped = P ⊙ dropMask, and Pd = dropped (else P); out row (b, l) head h = Σ_s Pd[l, s] v_s, written (=).
 */
export interface AttentionForward extends AttentionProblem {
  probs: Float32Array;
  dropMask: Float32Array | null;
  dropped: Float32Array | null;
  out: Float32Array;
  os: RowStrides;
}

/**
 * Backward, accumulating into dq, dk, dv (each null when not wanted; strides those of q, k, v):
 *   dPd = dOut vᵀ + dWeights (the gradient of the returned weights Pd, or null),  dv += Pdᵀ dOut,
 *   dP = dPd ⊙ dropMask,  dS = P ⊙ (dP - rowsum(P ⊙ dP)),  dq += scale·dS k,  dk += scale·dSᵀ q.
 * dScores (B·heads, L, S) is scratch the kernel overwrites.
 */
export interface AttentionBackward extends AttentionProblem {
  probs: Float32Array;
  dropMask: Float32Array | null;
  dropped: Float32Array | null;
  dOut: Float32Array;
  os: RowStrides;
  dWeights: Float32Array | null;
  dScores: Float32Array;
  dq: Float32Array | null;
  dk: Float32Array | null;
  dv: Float32Array | null;
}

/**
 * indexAddRows' checks, shared by the backends: x holds ids.length rows of n, and every id names a row
 * of out (which holds out.length / n rows); gatherRows' with x = its out and out = its table.
 */
export function checkRowIds(ids: Int32Array, n: number, xLength: number, outLength: number, who: string, op = 'indexAddRows', x = 'x', out = 'out'): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${who} backend: ${op}: row width must be a non-negative integer, got ${n}`);
  if (xLength !== ids.length * n) throw new Error(`${who} backend: ${op}: ${x} holds ${xLength} floats, not ${ids.length} rows of ${n}`);
  if (n === 0) return; // no rows to move
  const rows = Math.floor(outLength / n);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (!(id >= 0 && id < rows)) throw new Error(`${who} backend: ${op}: id ${id} at row ${r} is outside the ${rows} rows of ${out}`);
  }
}

/**
 * copyRows' checks, shared by the backends: whole non-negative sizes, strides of at least a row, and
 * both buffers long enough for the block.
 */
export function checkRows(rows: number, cols: number, xLength: number, ldx: number, outLength: number, ldo: number, who: string): void {
  for (const [name, v] of [['rows', rows], ['cols', cols]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${who} backend: copyRows: ${name} must be a non-negative integer, got ${v}`);
  }
  if (rows === 0 || cols === 0) return;
  for (const [name, ld, length] of [['x', ldx, xLength], ['out', ldo, outLength]] as const) {
    if (!Number.isInteger(ld) || ld < cols) throw new Error(`${who} backend: copyRows: the stride of ${name} must be an integer >= cols (${cols}), got ${ld}`);
    const need = (rows - 1) * ld + cols;
    if (length < need) throw new Error(`${who} backend: copyRows: ${name} has ${length} elements, ${rows} rows of ${cols} at stride ${ld} need ${need}`);
  }
}

/**
 * The forward time loop of one layer-direction (Backend.recurrentForward). States are in processing
 * order (reversed for the reverse direction); S = T + 1 state slots when `recording` (slot s is the
 * state before step s; slot 0 holds h0/c0 on entry), else 2 alternating slots and a one-step cache.
 */
export interface RecurrentForwardLoop {
  T: number;
  B: number;
  H: number;
  /** Processing step s reads and writes time step T-1-s. */
  reverse: boolean;
  recording: boolean;
  xg: Float32Array; // (T, B, G·H) input pre-activations (with b_ih), time order
  hg: Float32Array; // (B, G·H) scratch
  bhh: Float32Array | null; // (G·H)
  whh: PackedMatrix; // W_hhᵀ packed by packB: K = H, N = G·H
  hs: Float32Array; // (S, B, H)
  cs: Float32Array | null; // (S, B, H), cells with a cell state
  gates: Float32Array; // (T or 1, B, C·H) the cell cache
  mask: Float32Array | null; // (T, B) 1 inside each sequence
  y: Float32Array; // (T, B, ldy): h goes to columns [yOffset, yOffset + H)
  ldy: number;
  yOffset: number;
}

/**
 * The backward time loop of one layer-direction (Backend.recurrentBackward), after a recording
 * forward: steps s = T-1 … 0, each dh += dy (unmasked rows), cellBackward(stage 1), dhPrev += dhg W_hh.
 * dh and dc (2, B, H): slot 0 holds dL/d(final state) on entry; slot T & 1 holds dL/d(initial state) on return.
 */
export interface RecurrentBackwardLoop {
  T: number;
  B: number;
  H: number;
  reverse: boolean;
  hs: Float32Array; // (T+1, B, H) the forward's states
  cs: Float32Array | null; // (T+1, B, H)
  gates: Float32Array; // (T, B, C·H)
  mask: Float32Array | null; // (T, B)
  dy: Float32Array | null; // (T, B, ldy) the output's gradient at columns [yOffset, yOffset + H), or null (zero)
  ldy: number;
  yOffset: number;
  dh: Float32Array; // (2, B, H)
  dc: Float32Array | null; // (2, B, H)
  dxg: Float32Array; // (T, B, G·H) out: dL/dxg, time order
  dhg: Float32Array; // (T, B, G·H) out: dL/dhg, processing order
  whh: PackedMatrix; // W_hh packed by packB: K = G·H, N = H
}

/** A right gemm operand op(B) (K×N) in a backend's own layout (Backend.packB); usable only by that backend. */
export interface PackedMatrix {
  readonly backend: string;
  readonly K: number;
  readonly N: number;
  /** Frees the storage; using it afterwards throws. */
  dispose(): void;
}

/** Per-step scalars of `Backend.sgdUpdate`. */
export interface SgdScalars {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
}

/** Per-step scalars of `Backend.rmspropUpdate`. */
export interface RmspropScalars {
  readonly lr: number;
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
}

/** Per-step scalars of `Backend.adamUpdate`. */
export interface AdamScalars {
  readonly stepSize: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly biasCorrection2Sqrt: number;
  readonly weightDecay: number;
  readonly decoupledDecay: number;
}

// ---------------------------------------------------------------------------------------------------
// Recurrent cell step kernels: the contract.
//
// A layer runs each time step as: hg = (bias_hh) + products with W_hh; then, for two-stage cells,
// cellForward(stage 0), which writes u = r ⊙ hPrev, and hg[stage-2 block] += u W2ᵀ; then
// cellForward(stage 1), which writes h (and c). The backward of a step runs cellBackward(stage 1), then
// (two-stage) du = dhg[stage-2 block] W2 and cellBackward(stage 0), then dhPrev += dhg W_hh.
//
// Every buffer is a row-major view of B rows; a "(B, k·H)" buffer has row stride k·H and its gate block
// q is columns [q·H, (q+1)·H). Outputs never alias inputs. Kernels allocate nothing; per-element math
// may be float32 or float64 (the reference uses float64), results are stored as float32. Masked rows
// (mask[b] == 0: the sequence of row b has ended, or for the reverse direction not yet begun) carry
// the state: h = hPrev, c = cPrev forward; dhPrev += dh, dcPrev = dc and zero gate gradients backward.
// ---------------------------------------------------------------------------------------------------

/** The recurrent cells that have step kernels. */
export type CellKind = 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru' | 'gru_cho' | 'mut1' | 'mut2' | 'mut3';

/** Stage 0: the gates a two-stage cell needs before its second recurrent product. Stage 1: the rest. */
export type CellStage = 0 | 1;

/** Per-row sizes of a cell's step, in blocks of H floats. */
export interface CellLayout {
  /** G: gate blocks of the pre-activation rows xg and hg, (B, G·H). */
  readonly gates: number;
  /** C: blocks the forward keeps for the backward, (B, C·H) per step. */
  readonly cache: number;
  /**
   * The gate block computed at stage 0 (its gradients are written by cellBackward stage 0), or null
   * for one-stage cells, which run stage 1 only.
   */
  readonly stage0Gate: number | null;
  /** Reads cPrev and writes c (and dc/dcPrev backward). */
  readonly hasCell: boolean;
  /** Reads the step's input x (B, H) directly (so the layer input must be H wide) and accumulates dx. */
  readonly readsX: boolean;
  /**
   * Every gate's pre-activation is xg + hg, so the backward writes the same values to dxg and dhg, and
   * writes every element of both (0 on masked rows): a layer may pass one buffer for the two.
   */
  readonly sharedGateGrads: boolean;
}

/**
 * The step of each cell. xg, hg: input and recurrent pre-activations; a block a cell has no term for
 * is ignored (it reads as 0). σ is the logistic sigmoid; every cache entry is an activation, not a
 * pre-activation.
 *
 *   rnn_tanh/rnn_relu  G=1 [a]          C=1 [y]          h = y = act(xg_a + hg_a)
 *   lstm               G=4 [i,f,g,o]    C=5 [i,f,g,o,tanh(c)]
 *                      i,f,o = σ(xg + hg), g = tanh(xg + hg), c = f ⊙ cPrev + i ⊙ g, h = o ⊙ tanh(c)
 *   gru                G=3 [r,z,n]      C=4 [r,z,n,hg_n]
 *                      r = σ(xg_r + hg_r), z = σ(xg_z + hg_z), n = tanh(xg_n + r ⊙ hg_n),
 *                      h = (1 - z) ⊙ n + z ⊙ hPrev                              (PyTorch's GRU)
 *   gru_cho            G=3 [r,z,n]      C=3 [r,z,n]      two-stage, stage-2 block n
 *                      stage 0: r = σ(xg_r + hg_r), u = r ⊙ hPrev
 *                      stage 1: z = σ(xg_z + hg_z), n = tanh(xg_n + hg_n),  hg_n = u W_hnᵀ + b_hn,
 *                               h = (1 - z) ⊙ n + z ⊙ hPrev
 *   mut1               G=3 [z,r,h]      C=4 [z,r,n,tanh(x)]   two-stage, stage-2 block h, reads x
 *                      stage 0: r = σ(xg_r + hg_r), u = r ⊙ hPrev
 *                      stage 1: z = σ(xg_z), n = tanh(xg_h + hg_h + tanh(x)), h = n ⊙ z + hPrev ⊙ (1 - z)
 *   mut2               G=3 [z,r,h]      C=3 [z,r,n]      two-stage, stage-2 block h, reads x
 *                      stage 0: r = σ(xg_r + hg_r + x), u = r ⊙ hPrev
 *                      stage 1: z = σ(xg_z + hg_z), n = tanh(xg_h + hg_h), h = n ⊙ z + hPrev ⊙ (1 - z)
 *   mut3               G=3 [z,r,h]      C=3 [z,r,n]      two-stage, stage-2 block h
 *                      as mut2 without x in r (the layer puts tanh(hPrev) W_hzᵀ into hg_z)
 *
 * Cache entries are written by the stage that computes them (r at stage 0, the rest at stage 1).
 */
export const CELL_LAYOUTS: { readonly [K in CellKind]: CellLayout } = {
  rnn_tanh: { gates: 1, cache: 1, stage0Gate: null, hasCell: false, readsX: false, sharedGateGrads: true },
  rnn_relu: { gates: 1, cache: 1, stage0Gate: null, hasCell: false, readsX: false, sharedGateGrads: true },
  lstm: { gates: 4, cache: 5, stage0Gate: null, hasCell: true, readsX: false, sharedGateGrads: true },
  gru: { gates: 3, cache: 4, stage0Gate: null, hasCell: false, readsX: false, sharedGateGrads: false },
  gru_cho: { gates: 3, cache: 3, stage0Gate: 0, hasCell: false, readsX: false, sharedGateGrads: false },
  mut1: { gates: 3, cache: 4, stage0Gate: 1, hasCell: false, readsX: true, sharedGateGrads: false },
  mut2: { gates: 3, cache: 3, stage0Gate: 1, hasCell: false, readsX: true, sharedGateGrads: false },
  mut3: { gates: 3, cache: 3, stage0Gate: 1, hasCell: false, readsX: false, sharedGateGrads: false },
};

/** The buffers of one forward stage of one time step (B rows, hidden size H). */
export interface CellForwardStep {
  B: number;
  H: number;
  /** (B, G·H) read: x W_ihᵀ + b_ih, in the gate blocks the cell's weight_ih fills (bias alone elsewhere). */
  xg: Float32Array;
  /** (B, G·H) read: recurrent products (+ b_hh); the stage-2 block is read at stage 1 only. */
  hg: Float32Array;
  /** (B, H) read: this step's layer input, for cells with readsX; null otherwise. */
  x: Float32Array | null;
  /** (B, H) read: the previous state. */
  hPrev: Float32Array;
  /** (B, H) read: the previous cell state (hasCell); null otherwise. */
  cPrev: Float32Array | null;
  /** (B) read: exactly 1 (row b takes this step) or 0 (row b carries its state); null means all 1. */
  mask: Float32Array | null;
  /** (B, C·H) written (=) on rows with mask 1; rows with mask 0 are left as they were. */
  cache: Float32Array;
  /** (B, H) written at stage 0 by two-stage cells: r ⊙ hPrev (0 on masked rows); null for one-stage cells. */
  u: Float32Array | null;
  /** (B, H) written at stage 1: the new state (hPrev on masked rows). */
  h: Float32Array;
  /** (B, H) written at stage 1 (hasCell): the new cell state (cPrev on masked rows); null otherwise. */
  c: Float32Array | null;
}

/** The buffers of one backward stage of one time step; hPrev, cPrev, mask, cache as in the forward. */
export interface CellBackwardStep {
  B: number;
  H: number;
  /** (B, H) read: the previous state (the backward needs no x: mut1 caches tanh(x)). */
  hPrev: Float32Array;
  cPrev: Float32Array | null;
  mask: Float32Array | null;
  /** (B, C·H) read: what the forward wrote. */
  cache: Float32Array;
  /** (B, H) read at stage 1: dL/dh of the new state (from the output and from later steps). */
  dh: Float32Array;
  /** (B, H) read at stage 1 (hasCell): dL/dc of the new cell state; null otherwise. */
  dc: Float32Array | null;
  /** (B, H) read at stage 0 (two-stage cells): dL/du = dhg[stage-2 block] W2; null otherwise. */
  du: Float32Array | null;
  /**
   * (B, G·H) written (=): dL/dxg. Stage 1 writes every block but stage0Gate, stage 0 writes that block;
   * every row, 0 on masked rows.
   */
  dxg: Float32Array;
  /** (B, G·H) written (=) like dxg: dL/dhg (0 in blocks the cell has no recurrent term for). */
  dhg: Float32Array;
  /**
   * (B, H) accumulated (+=): dL/dhPrev through the pointwise paths (z ⊙ hPrev, r ⊙ hPrev, the masked
   * carry). The caller adds the paths through W_hh (dhg W_hh) itself.
   */
  dhPrev: Float32Array;
  /** (B, H) written (=) at stage 1 (hasCell): dL/dcPrev; null otherwise. */
  dcPrev: Float32Array | null;
  /** (B, H) accumulated (+=), readsX cells: dL/dx through the direct x term; null otherwise. */
  dx: Float32Array | null;
}
