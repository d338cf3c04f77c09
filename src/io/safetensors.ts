// The safetensors format, read and written with Uint8Array/DataView only (Node and browsers; file
// access is in checkpoint-file.ts). Layout: u64 little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}` padded with
// spaces to 8 bytes, then the raw little-endian tensor bytes. Writes F32/I32/F64/I64; also reads
// F16/BF16 (converted to F32, as PyTorch users often save half). Not here: PyTorch name mapping.

export type Dtype = 'F32' | 'I32' | 'F64' | 'I64';
export type TypedData = Float32Array | Int32Array | Float64Array | BigInt64Array;

export interface NamedArray {
  dtype: Dtype;
  shape: number[];
  data: TypedData;
}

const BYTES: Record<Dtype, number> = { F32: 4, I32: 4, F64: 8, I64: 8 };
/** Dtypes readable but converted on read (to F32). */
const HALF_BYTES: Record<'F16' | 'BF16', number> = { F16: 2, BF16: 2 };
/** The reference writer orders tensors by dtype (widest first), then by name. */
const WRITE_RANK: Record<Dtype, number> = { I32: 0, F32: 1, F64: 2, I64: 3 };
/** The reference reader's limit; a larger header is almost surely a corrupt length. */
const MAX_HEADER = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function ctorOf(dtype: Dtype): { new (n: number): TypedData; name: string } {
  switch (dtype) {
    case 'F32': return Float32Array;
    case 'I32': return Int32Array;
    case 'F64': return Float64Array;
    case 'I64': return BigInt64Array;
    default: return dtype satisfies never;
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Serializes tensors (and optional string metadata) byte for byte as the reference implementation
 * (`safetensors.torch.save_file`) does: compact JSON, `__metadata__` first (keys sorted here, where
 * the reference's order is a hash map's), tensors by dtype width then name, data packed in that order.
 */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata?: Record<string, string>): Uint8Array {
  const entries = [...tensors.entries()];
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`encodeSafetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (!(t.dtype in BYTES)) throw new Error(`encodeSafetensors: tensor "${name}" has dtype ${String(t.dtype)}, expected one of ${Object.keys(BYTES).join(', ')}`);
    const Ctor = ctorOf(t.dtype);
    if (!(t.data instanceof Ctor)) {
      throw new Error(`encodeSafetensors: tensor "${name}" is ${t.dtype} and needs a ${Ctor.name}, got ${t.data.constructor.name}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`encodeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}], expected non-negative integers`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new Error(`encodeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}] (${numel(t.shape)} elements) but ${t.data.length} values`);
    }
  }
  entries.sort(([na, a], [nb, b]) => WRITE_RANK[b.dtype] - WRITE_RANK[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      const v = metadata[k];
      if (typeof v !== 'string') throw new Error(`encodeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
      meta[k] = v;
    }
    header[METADATA_KEY] = meta;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = t.data.length * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const [, t] of entries) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + bytes.length), BYTES[t.dtype]);
    pos += bytes.length;
  }
  return out;
}

/**
 * Parses and validates a safetensors buffer. `what` (e.g. the file path) names the source in errors.
 * Every problem (short file, bad header, unknown dtype, size mismatch, overlapping or out-of-range
 * offsets, truncated or trailing data) throws a one-line error; nothing is returned half-read.
 */
export function decodeSafetensors(bytes: Uint8Array, what = 'safetensors buffer'): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new Error(`${what}: ${msg}`);
  };
  if (bytes.length < 8) fail(`too short to be safetensors (${bytes.length} bytes, the header length alone is 8)`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} is larger than the ${MAX_HEADER}-byte limit (not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  if (n < 2) fail(`header length ${n} is too small to hold a JSON object`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const h = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  if (METADATA_KEY in h) {
    const m = h[METADATA_KEY];
    if (m !== null) {
      if (typeof m !== 'object' || Array.isArray(m)) fail(`"${METADATA_KEY}" must be an object of strings`);
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"${METADATA_KEY}" entry "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
    }
  }

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  interface Info { name: string; dtype: string; shape: number[]; begin: number; end: number }
  const infos: Info[] = [];
  for (const [name, raw] of Object.entries(h)) {
    if (name === METADATA_KEY) continue;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`tensor "${name}" is not an object`);
    const r = raw as Record<string, unknown>;
    const dtype = r.dtype;
    if (typeof dtype !== 'string') fail(`tensor "${name}" has no dtype`);
    const width = BYTES[dtype as Dtype] ?? HALF_BYTES[dtype as 'F16' | 'BF16'];
    if (width === undefined) fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: F32, I32, F64, I64, F16, BF16)`);
    const shape = r.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    }
    const off = r.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(off)}, expected [begin, end] non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (end < begin) fail(`tensor "${name}" has data_offsets [${begin}, ${end}] that end before they begin`);
    const sh = shape as number[];
    const expected = numel(sh) * width;
    if (end - begin !== expected) {
      fail(`tensor "${name}" (${dtype}, shape [${sh.join(', ')}]) needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLen) fail(`tensor "${name}" data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): file truncated?`);
    infos.push({ name, dtype: dtype as string, shape: sh, begin, end });
  }

  // The reference reader requires the tensors to tile the data exactly: no overlap, no gap, no tail.
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of sorted) {
    if (t.begin < cursor) {
      const prev = sorted[sorted.indexOf(t) - 1];
      fail(`tensor "${t.name}" data_offsets [${t.begin}, ${t.end}] overlap tensor "${prev.name}" [${prev.begin}, ${prev.end}]`);
    }
    if (t.begin > cursor) fail(`tensor "${t.name}" data_offsets [${t.begin}, ${t.end}] leave a gap after byte ${cursor}`);
    cursor = t.end;
  }
  if (cursor !== dataLen) fail(`${dataLen - cursor} bytes after the last tensor's data (file has ${dataLen} data bytes, tensors cover ${cursor})`);

  const tensors = new Map<string, NamedArray>();
  for (const t of infos) {
    const src = bytes.subarray(dataStart + t.begin, dataStart + t.end);
    if (t.dtype === 'F16' || t.dtype === 'BF16') {
      tensors.set(t.name, { dtype: 'F32', shape: t.shape, data: halfToF32(src, t.dtype) });
      continue;
    }
    const dtype = t.dtype as Dtype;
    // Copy into a fresh, aligned buffer: the data start need not be aligned for every dtype.
    // (Not src.slice(): on a Node Buffer that is a view into the shared pool.)
    const copy = new Uint8Array(src.length);
    copy.set(src);
    if (!LITTLE_ENDIAN) swapBytes(copy, BYTES[dtype]);
    const Ctor = ctorOf(dtype) as unknown as new (b: ArrayBuffer) => TypedData;
    tensors.set(t.name, { dtype, shape: t.shape, data: new Ctor(copy.buffer) });
  }
  return { tensors, metadata };
}

function halfToF32(src: Uint8Array, dtype: 'F16' | 'BF16'): Float32Array {
  const n = src.length / 2;
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
    return out;
  }
  for (let i = 0; i < n; i++) {
    const h = dv.getUint16(2 * i, true);
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) out[i] = sign * m * 2 ** -24; // subnormal
    else if (e === 31) out[i] = m === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
}
