// The shared memory every kernel works in: a bump allocator over one WebAssembly.Memory.
// Below 1 MiB is the kernel modules' static data (docs/KERNEL-ABI.md); the host allocates above.

import { createSharedMemory } from '../../kernels/load.js';

export const ARENA_BASE = 1 << 20;
export const PAGE = 65536;
export const MAX_PAGES = 65536; // wasm32: 4 GiB

export class MemoryTooLargeError extends Error {
  readonly code = 'model_too_large';
}

export class Arena {
  private top = ARENA_BASE;
  readonly memory: WebAssembly.Memory;

  /** Plans the whole size up front (weights + caches + activations) so the memory never moves while serving. */
  constructor(totalBytes: number, what = 'the model') {
    const pages = Math.ceil((ARENA_BASE + totalBytes + 4096) / PAGE);
    if (pages > MAX_PAGES) {
      throw new MemoryTooLargeError(
        `${what} needs ${(totalBytes / 2 ** 30).toFixed(2)} GiB of kernel memory; one WebAssembly memory holds at most 4 GiB ` +
          '(use a smaller context (--ctx), a more compact weight type (wisp quantize), or the ONNX backend)',
      );
    }
    // planned whole, never grown: the maximum is the size, so a 32-bit host reserves no more than it uses
    this.memory = createSharedMemory(pages, pages);
    this.limit = pages * PAGE;
  }

  private readonly limit: number;

  alloc(bytes: number, align = 64): number {
    const at = Math.ceil(this.top / align) * align;
    if (at + bytes > this.limit) throw new Error(`arena overflow: ${bytes} bytes requested, ${this.limit - at} left (planning bug)`);
    this.top = at + bytes;
    return at;
  }

  get used(): number {
    return this.top;
  }

  bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
}

/** Bytes `alloc` may use for `sizes` allocations at `align` (the padding included). */
export function planBytes(sizes: number[], align = 64): number {
  return sizes.reduce((sum, s) => sum + Math.ceil(s / align) * align, 0);
}
