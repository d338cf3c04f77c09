// The one heap that holds every tensor's storage: a WebAssembly.Memory, so a wasm backend can run its
// kernels on tensors in place (a Float32Array view's byteOffset is the kernel's pointer), with no copy
// in or out. This file is only the allocator; lifetimes (scopes, dispose) live in tensor.ts.
//
// Blocks are 16-byte aligned (one f32x4) and recycled through exact-size free lists: a training step
// allocates the same sizes every time, so after the first step the heap stops growing.

const PAGE = 65536;
const ALIGN = 16;

export class Heap {
  readonly memory: WebAssembly.Memory;
  private top = ALIGN; // bytes; offset 0 is never handed out, so 0 can mean "no block"
  private readonly freeBySize = new Map<number, number[]>(); // block bytes -> byte offsets
  private inUse = 0;
  private peak = 0;
  private view: Float32Array;

  constructor(initialPages = 256, maximumPages = 65536) {
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages });
    this.view = new Float32Array(this.memory.buffer);
  }

  /** The whole heap as floats; a fresh view after the memory grew (growth detaches old views). */
  get f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Returns the byte offset of a zero-filled block of `floats` floats. */
  alloc(floats: number): number {
    const bytes = blockBytes(floats);
    const list = this.freeBySize.get(bytes);
    let offset: number;
    if (list !== undefined && list.length > 0) {
      offset = list.pop()!;
      this.f32.fill(0, offset >> 2, (offset + bytes) >> 2);
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

  release(offset: number, floats: number): void {
    const bytes = blockBytes(floats);
    let list = this.freeBySize.get(bytes);
    if (list === undefined) this.freeBySize.set(bytes, (list = []));
    list.push(offset);
    this.inUse -= bytes;
  }

  /** Bytes held by live tensors, the most ever held, and the high-water mark of the heap itself. */
  stats(): { bytesInUse: number; peakBytesInUse: number; heapBytes: number } {
    return { bytesInUse: this.inUse, peakBytesInUse: this.peak, heapBytes: this.top };
  }
}

function blockBytes(floats: number): number {
  return Math.max(ALIGN, Math.ceil((floats * 4) / ALIGN) * ALIGN);
}

/** The process-wide heap. Backends read and write tensors through it. */
export const heap = new Heap();
