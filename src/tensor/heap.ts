// The one heap that holds every tensor's storage: a WebAssembly.Memory, so a wasm backend can run its
// kernels on tensors in place (a Float32Array view's byteOffset is the kernel's pointer), with no copy
// in or out. This file is only the allocator; lifetimes (scopes, dispose) live in tensor.ts.
//
// Blocks are 16-byte aligned (one f32x4) and recycled through free lists by size class: exact up to
// 4 KiB, above it four classes per doubling (a block wastes under a quarter of itself), and a request
// whose class has no free block takes one of the next classes up to twice its size. Only when none has one
// does the slow path run: the request is carved from the free regions, and failing that every free block is
// merged with its free neighbours into regions (then carved), before the heap grows at the top.
// A training step on fixed shapes allocates the same sizes every time, so after the first step the lists
// serve every request and the heap stops growing. One whose shapes change with its batch (an
// encoder–decoder's lengths: B×T, B×H×T×S) needs the merging: with lists alone, each size's blocks stay
// its own, and a Transformer encoder–decoder on G2P (1.0–1.5 GiB live at a step's peak) grew the heap past
// 4 GiB, the most a wasm memory holds — in 40 steps with exact-size lists, in 700 with the classes.
//
// Layout: bytes [0, HEAP_BASE) belong to the wasm kernels' module, which imports this memory and keeps
// its static data there (the backend checks at load that it fits); blocks are handed out from HEAP_BASE
// up, so 0 never names a block and can mean "null" to a kernel. `reserve` hands out permanent blocks
// (kernel scratch such as GEMM packing buffers) that are not tensor storage.
//
// Where SharedArrayBuffer exists the memory is shared (so GEMM worker threads can run kernels on it; a
// shared memory reserves its maximum as address space, not RSS). A shared buffer is never detached: after
// a grow `memory.buffer` is a new, longer SharedArrayBuffer, and views re-derive when their buffer differs.

const PAGE = 65536;
const ALIGN = 16;
/** First byte the allocator hands out; below it is the wasm module's static data. */
export const HEAP_BASE = PAGE;

export class Heap {
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is a shared memory (a wasm module must declare its imported memory the same way). */
  readonly shared: boolean;
  private top = HEAP_BASE; // bytes
  private reserved = 0;
  private readonly freeBySize = new Map<number, number[]>(); // block bytes -> byte offsets
  private readonly largerBlocks = new Map<number, number>(); // byte offset -> block bytes, of blocks handed out for a smaller class
  private regions: Array<{ offset: number; bytes: number }> = []; // merged free runs, by offset, carved when the lists miss
  private inUse = 0;
  private peak = 0;
  private view: Float32Array;
  private words: BigUint64Array;

  constructor(initialPages = 256, private readonly maximumPages = 65536, shared = typeof SharedArrayBuffer !== 'undefined') {
    this.shared = shared;
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared });
    this.view = new Float32Array(this.memory.buffer);
    this.words = new BigUint64Array(this.memory.buffer);
  }

  /** The whole heap as floats; a fresh view after the memory grew (growth detaches, or for shared memory outgrows, old views). */
  get f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Returns the byte offset of a block of `floats` floats, zero-filled unless `zero` is false. */
  alloc(floats: number, zero = true): number {
    let bytes = blockBytes(floats);
    let offset = -1;
    // Its own class first, then the next ones up to twice its size: a free block there serves it whole
    // (remembered, since its release names only the floats) rather than the heap growing.
    for (let c = bytes; offset < 0 && c <= (bytes <= EXACT_BYTES ? bytes : 2 * bytes); c = nextClass(c)) {
      const list = this.freeBySize.get(c);
      if (list === undefined || list.length === 0) continue;
      offset = list.pop()!;
      if (c !== bytes) this.largerBlocks.set(offset, c);
      bytes = c;
    }
    if (offset >= 0) {
      if (zero) this.zeroBlock(offset, floats);
    } else {
      offset = this.missed(bytes, floats, zero);
    }
    this.inUse += bytes;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return offset;
  }

  /**
   * A block of `bytes` when no free list has one: carved from the free regions (best fit); failing that,
   * every free block is merged with its free neighbours into regions and the carving tried again; failing
   * that, taken at the top (from the region that ends there, if one does, and the memory grown for the rest).
   */
  private missed(bytes: number, floats: number, zero: boolean): number {
    let offset = this.carve(bytes);
    if (offset < 0 && this.freeBySize.size > 0) {
      this.consolidate();
      offset = this.carve(bytes);
    }
    let dirty = offset >= 0;
    if (offset < 0) {
      const last = this.regions[this.regions.length - 1];
      dirty = last !== undefined && last.offset + last.bytes === this.top;
      if (dirty) {
        this.regions.pop();
        this.top = last.offset;
      }
      offset = this.grownTo(bytes);
    }
    if (zero && dirty) this.zeroBlock(offset, floats); // the memory a grow adds is zero already
    return offset;
  }

  /** The offset of a block of `bytes` cut from the front of the smallest region that holds it, or -1. */
  private carve(bytes: number): number {
    let best = -1;
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      if (r.bytes >= bytes && (best < 0 || r.bytes < this.regions[best].bytes)) best = i;
    }
    if (best < 0) return -1;
    const r = this.regions[best];
    const offset = r.offset;
    r.offset += bytes;
    r.bytes -= bytes;
    if (r.bytes === 0) this.regions.splice(best, 1);
    return offset;
  }

  /** Moves every free block into the regions, merging neighbours: sorted by offset, one region per run of free bytes. */
  private consolidate(): void {
    const free = this.regions.map((r) => [r.offset, r.bytes]);
    for (const [bytes, list] of this.freeBySize) for (const offset of list) free.push([offset, bytes]);
    this.freeBySize.clear();
    free.sort((a, b) => a[0] - b[0]);
    this.regions = [];
    for (const [offset, bytes] of free) {
      const last = this.regions[this.regions.length - 1];
      if (last !== undefined && last.offset + last.bytes === offset) last.bytes += bytes;
      else this.regions.push({ offset, bytes });
    }
  }

  /**
   * Zeroes the block of `floats` floats at `offset` (as alloc returned it). NOTE: by 64-bit words: on a
   * shared buffer V8 fills a Float32Array element by element (~5 GB/s here), a BigUint64Array ~3.5x faster.
   */
  zeroBlock(offset: number, floats: number): void {
    if (this.words.buffer !== this.memory.buffer) this.words = new BigUint64Array(this.memory.buffer);
    this.words.fill(0n, offset / 8, (offset + alignedBytes(floats)) / 8); // not >> 3: offsets reach 4 GiB, past int32
  }

  /** Returns the byte offset of a permanent, zero-filled block of `bytes` bytes (kernel scratch, never freed). */
  reserve(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    const offset = this.grownTo(size);
    this.reserved += size;
    return offset;
  }

  /**
   * Hands out `bytes` at the top, growing the memory when they do not fit: by a quarter at least (fewer
   * grows, each of which re-derives every view), or by what fits under the maximum near it.
   */
  private grownTo(bytes: number): number {
    const offset = this.top;
    const need = offset + bytes - this.memory.buffer.byteLength;
    if (need > 0) {
      const pages = this.memory.buffer.byteLength / PAGE;
      const needPages = Math.ceil(need / PAGE);
      if (pages + needPages > this.maximumPages) {
        const gib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
        throw new RangeError(`out of memory: the tensor heap is ${gib(this.top)} (${gib(this.inUse)} in live tensors) and a block of ${gib(bytes)} does not fit under its maximum of ${gib(this.maximumPages * PAGE)}`);
      }
      this.memory.grow(Math.min(Math.max(needPages, Math.floor(pages / 4)), this.maximumPages - pages));
    }
    this.top += bytes;
    return offset;
  }

  /**
   * A debugging aid: while true, every released block is filled with NaN, so a reader of a Tensor.empty
   * buffer that was not fully written sees NaN instead of a plausible stale value (the tests use it).
   */
  poisonFreed = false;

  release(offset: number, floats: number): void {
    const larger = this.largerBlocks.get(offset);
    if (larger !== undefined) this.largerBlocks.delete(offset);
    const bytes = larger ?? blockBytes(floats);
    if (this.poisonFreed) this.f32.fill(NaN, offset / 4, (offset + bytes) / 4);
    let list = this.freeBySize.get(bytes);
    if (list === undefined) this.freeBySize.set(bytes, (list = []));
    list.push(offset);
    this.inUse -= bytes;
  }

  /**
   * Bytes held by live tensors, the most ever held, the high-water mark of the heap itself, and the
   * part of it reserved as kernel scratch.
   */
  stats(): { bytesInUse: number; peakBytesInUse: number; heapBytes: number; reservedBytes: number } {
    return { bytesInUse: this.inUse, peakBytesInUse: this.peak, heapBytes: this.top, reservedBytes: this.reserved };
  }
}

/** Bytes of `floats` floats rounded up to the alignment: what a tensor may touch (a kernel's last f32x4 included). */
function alignedBytes(floats: number): number {
  return Math.max(ALIGN, Math.ceil((floats * 4) / ALIGN) * ALIGN);
}

/** Blocks up to this many bytes have an exact size; larger ones are rounded up to their size class. */
const EXACT_BYTES = 4096;

/** The size class after `bytes` (a class above EXACT_BYTES). */
function nextClass(bytes: number): number {
  return bytes + 2 ** (29 - Math.clz32(bytes));
}

/** The size of the block that holds `floats` floats: its size class (see the top of the file). */
export function blockBytes(floats: number): number {
  const bytes = alignedBytes(floats);
  if (bytes <= EXACT_BYTES) return bytes;
  const step = 2 ** (29 - Math.clz32(bytes - 1)); // bytes in (2^k, 2^(k+1)]: classes 2^k + j 2^(k-2), j = 1..4
  return Math.ceil(bytes / step) * step;
}

/** The process-wide heap. Backends read and write tensors through it. */
export const heap = new Heap();
