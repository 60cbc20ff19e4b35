// A bump allocator over a kernel module's shared memory for kernel tests: buffers from 1 MiB up
// (below belongs to the modules' static data, docs/KERNEL-ABI.md), 64-byte aligned like the host's
// activation buffers, zero-filled unless given contents. A new KernelArena starts over.
export const HOST_BASE = 1 << 20;

export class KernelArena {
  private next = HOST_BASE;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** The end of the last buffer handed out (what a test snapshots to compare memory before and after a call). */
  get top(): number {
    return this.next;
  }

  /** Starts over at 1 MiB. */
  reset(): void {
    this.next = HOST_BASE;
  }

  alloc(bytes: number, align = 64): number {
    const p = Math.ceil(this.next / align) * align;
    this.next = p + bytes;
    if (this.next > this.memory.buffer.byteLength) throw new Error('test arena out of memory');
    return p;
  }

  f32(n: number, init?: ArrayLike<number>): { ptr: number; view: Float32Array } {
    const ptr = this.alloc(4 * Math.max(n, 1));
    const view = new Float32Array(this.memory.buffer, ptr, n);
    view.set(init ?? new Float32Array(n));
    return { ptr, view };
  }

  u16(n: number): { ptr: number; view: Uint16Array } {
    const ptr = this.alloc(2 * Math.max(n, 1));
    const view = new Uint16Array(this.memory.buffer, ptr, n);
    view.fill(0);
    return { ptr, view };
  }

  i32(n: number): { ptr: number; view: Int32Array } {
    const ptr = this.alloc(4 * Math.max(n, 1));
    const view = new Int32Array(this.memory.buffer, ptr, n);
    view.fill(0);
    return { ptr, view };
  }
}
