// safetensors: round trips, byte-exact output against the reference layout, half-precision reads,
// one test per corruption the decoder must name, and the atomic file writer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import { readSafetensorsFile, readSafetensorsFileSync, writeFileAtomic, writeFileAtomicSync } from '../src/io/checkpoint-file.js';

/** A file from a raw header object (any JSON, valid or not) and data bytes, padded as the reference pads. */
function rawFile(header: unknown, data: ArrayLike<number> = [], headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  out.set(Array.from(data), 8 + padded);
  return out;
}

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, 'model.safetensors'), (e: Error) => {
    assert.match(e.message, /^model\.safetensors: /);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), `error is one line: ${e.message}`);
    return true;
  });
}

test('round trip of every dtype, odd shapes and metadata', () => {
  const tensors = new Map<string, NamedArray>([
    ['weight_ih_l0', { dtype: 'F32', shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 65504]) }],
    ['scalar', { dtype: 'F64', shape: [], data: Float64Array.from([Math.PI]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ['ids', { dtype: 'I32', shape: [5], data: Int32Array.from([0, -1, 2147483647, -2147483648, 7]) }],
    ['step', { dtype: 'I64', shape: [1, 1], data: BigInt64Array.from([-(2n ** 62n)]) }],
    ['naïve/名前', { dtype: 'F32', shape: [1], data: Float32Array.from([0.1]) }],
  ]);
  const meta = { format: 'pt', config: JSON.stringify({ cell: 'lstm', hiddenSize: 4 }), 'ünï': 'çødé "quoted"\n' };
  const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, meta));
  assert.deepEqual(metadata, meta);
  assert.deepEqual([...back.keys()].sort(), [...tensors.keys()].sort());
  for (const [k, t] of tensors) {
    const b = back.get(k)!;
    assert.equal(b.dtype, t.dtype, k);
    assert.deepEqual(b.shape, t.shape, k);
    assert.equal(b.data.constructor, t.data.constructor, k);
    assert.deepEqual(Array.from(b.data as ArrayLike<number | bigint>), Array.from(t.data as ArrayLike<number | bigint>), k);
  }
  // A small Node Buffer is a view into a shared pool: decoding must copy, not alias the pool.
  const pooled = decodeSafetensors(Buffer.from(encodeSafetensors(tensors, meta)));
  assert.equal(pooled.tensors.get('ids')!.data.length, 5);
  assert.deepEqual(Array.from(pooled.tensors.get('ids')!.data as Int32Array), [0, -1, 2147483647, -2147483648, 7]);
  // No metadata given: none written, an empty record read back.
  assert.deepEqual(decodeSafetensors(encodeSafetensors(new Map())).metadata, {});
});

test('round trip of a subarray view encodes only the view', () => {
  const big = Float32Array.from([9, 1, 2, 9]);
  const bytes = encodeSafetensors(new Map([['v', { dtype: 'F32', shape: [2], data: big.subarray(1, 3) }]]));
  assert.deepEqual(Array.from(decodeSafetensors(bytes).tensors.get('v')!.data as Float32Array), [1, 2]);
});

test('byte-exact against the reference layout', () => {
  // What `safetensors.torch.save_file({"a": torch.tensor([1., -2.]), "b": torch.tensor([3])},
  // f, metadata={"format": "pt"})` writes: compact JSON, __metadata__ first, tensors by descending
  // dtype (I64 before F32) then name, header padded with spaces to 8 bytes (139 + 5 = 144).
  const header =
    '{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' + '     ';
  const expected = Uint8Array.from([
    144, 0, 0, 0, 0, 0, 0, 0,
    ...Array.from(header, (c) => c.charCodeAt(0)),
    3, 0, 0, 0, 0, 0, 0, 0, // b = 3 (i64 LE)
    0x00, 0x00, 0x80, 0x3f, // a[0] = 1.0 (f32 LE)
    0x00, 0x00, 0x00, 0xc0, // a[1] = -2.0
  ]);
  const got = encodeSafetensors(
    new Map<string, NamedArray>([
      ['a', { dtype: 'F32', shape: [2], data: Float32Array.from([1, -2]) }],
      ['b', { dtype: 'I64', shape: [1], data: BigInt64Array.from([3n]) }],
    ]),
    { format: 'pt' },
  );
  assert.deepEqual(Array.from(got), Array.from(expected));
  const back = decodeSafetensors(expected);
  assert.deepEqual(Array.from(back.tensors.get('a')!.data as Float32Array), [1, -2]);
  assert.deepEqual(Array.from(back.tensors.get('b')!.data as BigInt64Array), [3n]);
});

test('fixtures written by scripts/make-fixtures.py (Python) decode and re-encode byte for byte', () => {
  // Found from the compiled file (dist/test/) or the source (test/): the package root holds test/fixtures.
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const dir = join(root, 'test', 'fixtures');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : [];
  assert.ok(files.length > 0, `no fixtures in ${dir}`);
  for (const f of files) {
    const bytes = readFileSync(join(dir, f));
    const { tensors, metadata } = decodeSafetensors(bytes, f);
    assert.deepEqual(Array.from(encodeSafetensors(tensors, metadata)), Array.from(bytes), f);
  }
});

test('F16 and BF16 are read as F32', () => {
  // f16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, 2^-24 = 0x0001 (subnormal), inf = 0x7c00
  // bf16: 1.0 = 0x3f80, -0.5 = 0xbf00
  const f16 = [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c];
  const bf16 = [0x80, 0x3f, 0x00, 0xbf];
  const file = rawFile(
    { h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] }, b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] } },
    [...f16, ...bf16],
  );
  const { tensors } = decodeSafetensors(file);
  assert.equal(tensors.get('h')!.dtype, 'F32');
  assert.deepEqual(Array.from(tensors.get('h')!.data as Float32Array), [1, -2, 65504, 2 ** -24, Infinity]);
  assert.deepEqual(Array.from(tensors.get('b')!.data as Float32Array), [1, -0.5]);
});

test('encode rejects inconsistent inputs', () => {
  const enc = (t: NamedArray, name = 'x'): Uint8Array => encodeSafetensors(new Map([[name, t]]));
  assert.throws(() => enc({ dtype: 'F32', shape: [3], data: new Float32Array(2) }), /"x" has shape \[3\] \(3 elements\) but 2 values/);
  assert.throws(() => enc({ dtype: 'I32', shape: [2], data: new Float32Array(2) }), /"x" is I32 and needs a Int32Array, got Float32Array/);
  assert.throws(() => enc({ dtype: 'F32', shape: [], data: new Float32Array(1) }, '__metadata__'), /reserved/);
  assert.throws(() => enc({ dtype: 'U8' as 'F32', shape: [1], data: new Float32Array(1) }), /dtype U8/);
});

const okTensor = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
const eightBytes = [0, 0, 128, 63, 0, 0, 0, 64];

test('decode: a valid hand-built file is accepted (the corruption cases below start from it)', () => {
  const { tensors } = decodeSafetensors(rawFile({ w: okTensor }, eightBytes));
  assert.deepEqual(Array.from(tensors.get('w')!.data as Float32Array), [1, 2]);
});

test('decode: too short', () => {
  expectError(new Uint8Array(5), /too short.*5 bytes/);
  expectError(new Uint8Array(0), /too short/);
});

test('decode: header length beyond the file', () => {
  const f = rawFile({ w: okTensor }, eightBytes);
  new DataView(f.buffer).setBigUint64(0, BigInt(f.length), true);
  expectError(f, /header length \d+ runs past the end of the file/);
  const huge = rawFile({ w: okTensor }, eightBytes);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  expectError(huge, /header length .* limit/);
});

test('decode: bad JSON, non-object header, invalid UTF-8', () => {
  expectError(rawFile(null, eightBytes, '{"w": {"dtype": "F32", '), /header is not valid JSON/);
  expectError(rawFile(null, [], '[1, 2, 3]'), /header is not a JSON object/);
  const f = rawFile(null, [], '{"a":1}');
  f[10] = 0xff;
  expectError(f, /not valid UTF-8/);
});

test('decode: unknown dtype', () => {
  expectError(rawFile({ w: { ...okTensor, dtype: 'Q4' } }, eightBytes), /"w" has unsupported dtype "Q4"/);
  expectError(rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, eightBytes), /"w" has no dtype/);
});

test('decode: malformed shape or offsets', () => {
  expectError(rawFile({ w: { ...okTensor, shape: [2, -1] } }, eightBytes), /"w" has shape \[2,-1\]/);
  expectError(rawFile({ w: { ...okTensor, shape: 'big' } }, eightBytes), /"w" has shape "big"/);
  expectError(rawFile({ w: { ...okTensor, data_offsets: [0] } }, eightBytes), /"w" has data_offsets \[0\]/);
  expectError(rawFile({ w: { ...okTensor, data_offsets: [8, 0] } }, eightBytes), /end before they begin/);
  expectError(rawFile({ w: 3 }, eightBytes), /"w" is not an object/);
});

test('decode: shape and offsets disagree on the size', () => {
  expectError(rawFile({ w: { ...okTensor, shape: [3] } }, eightBytes), /"w" \(F32, shape \[3\]\) needs 12 bytes but data_offsets \[0, 8\] span 8/);
});

test('decode: offsets out of range (truncated data)', () => {
  const f = rawFile({ w: okTensor }, eightBytes);
  expectError(f.subarray(0, f.length - 3), /"w" data_offsets \[0, 8\] run past the end of the data \(5 bytes\): file truncated/);
});

test('decode: overlapping offsets, gaps, trailing bytes', () => {
  const two = (a: number[], b: number[]): unknown => ({ a: { ...okTensor, data_offsets: a }, b: { ...okTensor, data_offsets: b } });
  expectError(rawFile(two([0, 8], [4, 12]), [...eightBytes, 0, 0, 0, 0]), /"b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/);
  expectError(rawFile(two([0, 8], [0, 8]), eightBytes), /overlap/);
  expectError(rawFile(two([0, 8], [12, 20]), [...eightBytes, ...eightBytes, 0, 0, 0, 0]), /"b" .* leave a gap after byte 8/);
  expectError(rawFile({ w: okTensor }, [...eightBytes, 1, 2]), /2 bytes after the last tensor's data/);
});

test('decode: metadata must be strings', () => {
  expectError(rawFile({ __metadata__: { epoch: 3 }, w: okTensor }, eightBytes), /"__metadata__" entry "epoch" must be a string/);
  expectError(rawFile({ __metadata__: [1], w: okTensor }, eightBytes), /"__metadata__" must be an object/);
});

test('decode: unaligned data start still yields aligned typed arrays', () => {
  // A header whose length is not a multiple of 8 (other writers do not pad): F64 data at an odd offset.
  const json = new TextEncoder().encode(JSON.stringify({ d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }));
  const f = new Uint8Array(8 + json.length + 8);
  new DataView(f.buffer).setBigUint64(0, BigInt(json.length), true);
  f.set(json, 8);
  new DataView(f.buffer).setFloat64(8 + json.length, -1.25, true);
  assert.deepEqual(Array.from(decodeSafetensors(f).tensors.get('d')!.data as Float64Array), [-1.25]);
});

test('writeFileAtomic / readSafetensorsFile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recurrent-st-'));
  try {
    const path = join(dir, 'ckpt.safetensors');
    const t = new Map<string, NamedArray>([['w', { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }]]);
    await writeFileAtomic(path, encodeSafetensors(t, { step: '1' }));
    assert.equal((await readSafetensorsFile(path)).metadata.step, '1');
    // Replacing an existing file, sync flavour; no temp files are left behind.
    writeFileAtomicSync(path, encodeSafetensors(t, { step: '2' }));
    assert.equal(readSafetensorsFileSync(path).metadata.step, '2');
    await writeFileAtomic(join(dir, 'notes.txt'), 'héllo');
    assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'héllo');
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.safetensors', 'notes.txt']);

    // A failed write names the target and leaves the old contents (here: a missing directory).
    await assert.rejects(writeFileAtomic(join(dir, 'nope', 'x.safetensors'), 'x'), /cannot write .*nope.*x\.safetensors/);
    assert.throws(() => writeFileAtomicSync(join(dir, 'nope', 'x.safetensors'), 'x'), /cannot write/);
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.safetensors', 'notes.txt']);

    // Reading errors name the path.
    await assert.rejects(readSafetensorsFile(join(dir, 'missing.safetensors')), /cannot read .*missing\.safetensors/);
    writeFileSync(join(dir, 'bad.safetensors'), new Uint8Array(3));
    assert.throws(() => readSafetensorsFileSync(join(dir, 'bad.safetensors')), /bad\.safetensors: too short/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
