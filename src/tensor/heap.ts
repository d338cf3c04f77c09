// The one heap that holds every tensor's storage: a WebAssembly.Memory, so a wasm backend can run its
// kernels on tensors in place (a Float32Array view's byteOffset is the kernel's pointer), with no copy
// in or out. This file is only the allocator; lifetimes (scopes, dispose) live in tensor.ts.
//
// Blocks are 16-byte aligned (one f32x4) and recycled through exact-size free lists: a training step
// allocates the same sizes every time, so after the first step the heap stops growing.
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
  private inUse = 0;
  private peak = 0;
  private view: Float32Array;
  private words: BigUint64Array;

  constructor(initialPages = 256, maximumPages = 65536, shared = typeof SharedArrayBuffer !== 'undefined') {
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
    const bytes = blockBytes(floats);
    const list = this.freeBySize.get(bytes);
    let offset: number;
    if (list !== undefined && list.length > 0) {
      offset = list.pop()!;
      if (zero) this.zeroBlock(offset, floats);
    } else {
      offset = this.top;
      this.top += bytes;
      const need = this.top - this.memory.buffer.byteLength;
      if (need > 0) this.memory.grow(Math.max(Math.ceil(need / PAGE), this.memory.buffer.byteLength / PAGE / 4) | 0);
    }
    this.inUse += bytes;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return offset;
  }

  /**
   * Zeroes the block of `floats` floats at `offset` (as alloc returned it). NOTE: by 64-bit words: on a
   * shared buffer V8 fills a Float32Array element by element (~5 GB/s here), a BigUint64Array ~3.5x faster.
   */
  zeroBlock(offset: number, floats: number): void {
    if (this.words.buffer !== this.memory.buffer) this.words = new BigUint64Array(this.memory.buffer);
    this.words.fill(0n, offset / 8, (offset + blockBytes(floats)) / 8); // not >> 3: offsets reach 4 GiB, past int32
  }

  /** Returns the byte offset of a permanent, zero-filled block of `bytes` bytes (kernel scratch, never freed). */
  reserve(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    const offset = this.top;
    this.top += size;
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / PAGE));
    this.reserved += size;
    return offset;
  }

  /**
   * A debugging aid: while true, every released block is filled with NaN, so a reader of a Tensor.empty
   * buffer that was not fully written sees NaN instead of a plausible stale value (the tests use it).
   */
  poisonFreed = false;

  release(offset: number, floats: number): void {
    const bytes = blockBytes(floats);
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

function blockBytes(floats: number): number {
  return Math.max(ALIGN, Math.ceil((floats * 4) / ALIGN) * ALIGN);
}

/** The process-wide heap. Backends read and write tensors through it. */
export const heap = new Heap();
