// Reading PyTorch fixtures (test/fixtures/, see its README.md) and comparing against them: where the
// directory is, typed access to a file's float32 tensors, and a whole-tensor comparison that names the
// worst element. Used by parity.test.ts (recurrent layers) and attention-fixtures.test.ts.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NamedArray } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** test/fixtures of this checkout, found from the compiled file (dist/test/util/) or the source (test/util/). */
export function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'recurrent') {
      return join(dir, 'test', 'fixtures');
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find the recurrent package root above ${dirname(fileURLToPath(import.meta.url))}`);
}

export type F32Array = NamedArray & { data: Float32Array };

/** The tensor `name` of a fixture, which must be there and be F32. */
export function f32(file: string, tensors: Map<string, NamedArray>, name: string): F32Array {
  const t = tensors.get(name);
  assert.ok(t !== undefined, `${file}: fixture has no tensor "${name}"`);
  assert.equal(t.dtype, 'F32', `${file}: "${name}" should be F32`);
  return t as F32Array;
}

/**
 * null when |got - want| <= tol · max(max|want|, floor) everywhere (the scale is the whole tensor's, so an
 * element near zero is not held to a relative bound it cannot meet in float32); else the worst element.
 * `got` null means no gradient reached it: it is compared as zeros.
 */
export function compareToFixture(label: string, got: Tensor | null, want: F32Array, tol: number, floor: number): string | null {
  if (got !== null && (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i]))) {
    return `${label}: shape [${got.shape.join(', ')}], expected [${want.shape.join(', ')}]`;
  }
  const g = got?.data ?? new Float32Array(want.data.length);
  let scale = 0;
  for (let i = 0; i < want.data.length; i++) scale = Math.max(scale, Math.abs(want.data[i]));
  scale = Math.max(scale, floor);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - want.data[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
      if (Number.isNaN(e)) break;
    }
  }
  if (worst <= tol * scale) return null;
  return `${label}${got === null ? ' (no gradient)' : ''}: max |err| ${worst.toExponential(2)} = ${(worst / scale).toExponential(2)} × scale ${scale.toExponential(2)}, at [${unravel(at, want.shape).join(', ')}] got ${g[at]} expected ${want.data[at]}`;
}

/** A flat index as a multi-index of `shape` (row-major). */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = shape.map(() => 0);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}
