// ONNX Runtime (onnxruntime-node, a devDependency) for the export tests: a session from bytes, int64 and
// float tensors, and the check every exported tensor is held to: within 1e-5 of the reference tensor's
// largest magnitude.

import assert from 'node:assert/strict';
import { after } from 'node:test';
import * as ort from 'onnxruntime-node';

export { ort };

export async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
}

export function int64(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims);
}

export function float(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}

export function zeros(dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
}

/** The worst |got − want| over the largest |want| (0 when want is all zeros and got equals it). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, 'sizes differ');
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
  }
  return scale === 0 ? worst : worst / scale;
}

const seen = { n: 0, worst: 0 };
after(() => {
  if (seen.n > 0) process.stdout.write(`ONNX Runtime against recurrent: ${seen.n} tensors, the worst ${seen.worst.toExponential(2)} of a tensor's largest magnitude\n`);
});

/** Asserts `got` (ONNX Runtime's) matches `want` (recurrent's) within 1e-5 of want's largest magnitude; returns the error. */
export function assertClose(got: ort.Tensor | ArrayLike<number>, want: ArrayLike<number>, what: string, dims?: readonly number[]): number {
  const isTensor = (t: ort.Tensor | ArrayLike<number>): t is ort.Tensor => 'dims' in t;
  const g = isTensor(got) ? (got.data as Float32Array) : got;
  if (dims !== undefined && isTensor(got)) assert.deepEqual(got.dims, dims, `${what}: shape`);
  const e = relativeError(g, want);
  seen.n++;
  seen.worst = Math.max(seen.worst, e);
  assert.ok(Number.isFinite(e) && e <= 1e-5, `${what}: ONNX Runtime differs from recurrent by ${e.toExponential(2)} of the largest magnitude`);
  return e;
}
