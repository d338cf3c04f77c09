// The kernel interface every backend implements. Kernels take Float32Array views over the shared heap
// (so a wasm backend reads `view.byteOffset` as its pointer and never copies), sizes as plain numbers,
// and write into outputs the caller allocated. "acc" kernels add into their output (+=), which is how
// gradients accumulate. Not here: shapes, autograd, allocation (tensor/, autograd/).

export type UnaryOp = 'tanh' | 'sigmoid' | 'relu' | 'exp' | 'neg';
export type BinaryOp = 'add' | 'sub' | 'mul';

export interface Backend {
  readonly name: string;

  /**
   * C = alpha * op(A) @ op(B) + beta * C, row-major; op(A) is M×K, op(B) is K×N.
   * lda/ldb/ldc are row strides of A, B, C as stored (before the transpose).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
  ): void;

  /** out[i] = op(x[i]). */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void;

  /** dx[i] += dy[i] * op'(x[i]), given the forward output y (tanh, sigmoid, relu and exp are cheapest from y). */
  unaryBackwardAcc(op: UnaryOp, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /** out[i] = a[i] op b[i % b.length] (b broadcasts over the leading dimensions when shorter). */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void;

  /** out[i] += alpha * x[i]. */
  axpy(alpha: number, x: Float32Array, out: Float32Array): void;

  /** Sum of rows: out[j] += sum_i x[i * n + j] for x of `x.length / n` rows of n (bias gradients). */
  sumRowsAcc(x: Float32Array, n: number, out: Float32Array): void;

  /**
   * Softmax cross-entropy over rows of `logits` (N×V) against integer `targets` (N); rows whose target
   * equals `ignoreIndex` count for nothing. Writes dLogits = (softmax - onehot) * scale for counted rows,
   * 0 for ignored ones, and returns the summed loss (in float64) and the number of counted rows.
   */
  softmaxCrossEntropy(
    logits: Float32Array, targets: Int32Array, V: number, ignoreIndex: number, scale: number, dLogits: Float32Array | null,
  ): { lossSum: number; count: number };

  /** Sum of squares, in float64 (gradient norms for clipping). */
  sumSquares(x: Float32Array): number;
}
