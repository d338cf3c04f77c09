// The wasm kernels' module: every export the TypeScript side (../wasm-backend.ts) calls. Compiled by
// asc with --importMemory --runtime stub: all pointers are byte offsets into the tensor heap, and no
// kernel allocates. Not here: bounds and ownership checks (the TypeScript side does them).

export { gemm, gemmPacked, gemmScratchBytes, packB, packedBFloats } from './gemm';
export {
  unary, unaryBackwardAcc, binary, axpy, copyRows, sumRowsAcc, indexAddRows, gatherRows, softmaxCrossEntropy, crossEntropyCount, crossEntropyBadRow,
  sumSquares, maxAbs, scal, clamp, dropoutMask, sgdUpdate, adagradUpdate, rmspropUpdate, adamUpdate,
} from './elementwise';
export { cellForward, cellBackward } from './cells';
export { recurrentForward, recurrentBackward } from './recurrence';
export { attentionForward, attentionBackward, layerNormForward, layerNormBackward, gelu, geluBackwardAcc } from './transformer';
export { im2col, col2imAcc, maxPool2dForward, maxPool2dBackwardAcc } from './image';

/** End of the module's static data: the tensor heap must start above it. */
export function dataEnd(): usize {
  return __heap_base;
}
