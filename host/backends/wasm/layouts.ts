// The layouts the wasm backend makes at load (the block-format table's `madeFrom` entries): q4_0
// rows interleaved by eight (q4_0r8), q4_K, q6_K, q5_0, q5_1, q2_K and q3_K by four (q4_Kr4, q6_Kr4,
// q5_0r4, q5_1r4, q2_Kr4, q3_Kr4), f16 on the finite-only kernels (f16f).
// Each runs faster and gives the same results bit for bit; a weight whose rows or blocks do not fit
// one (a row count, an infinite or NaN scale) keeps ggml's layout.
import { finiteHalves, formatRowBytes, layoutsFrom, type ActivationChoice, type BlockFormat, type FormatName } from '../../model/block-formats.js';
import type { GGMLType } from '../../model/ggml-types.js';
import type { Arena } from './arena.js';
import type { KernelPool } from './pool.js';

/** A matrix in the arena and the kernel format it runs on. */
export interface Weight {
  ptr: number;
  type: GGMLType;
  /** The format its kernels are named for, e.g. 'q4_K' (stored) or 'q4_Kr4' (made at load). */
  kernel: string;
  rows: number;
  cols: number;
}

/**
 * Rewrites the weight in place into the first load-time layout it fits that has kernels under the
 * model's activation choice (and that `accept`s, when given), a few rows at a time through `scratch`
 * (interleaved layouts have the same bytes per row), and sets its kernel; returns the layout's name, or
 * undefined when the weight keeps its format.
 */
export function makeLayout(pool: KernelPool, arena: Arena, w: Weight, scratch: number, scratchBytes: number, choice?: ActivationChoice, accept?: (layout: Readonly<BlockFormat>) => boolean): string | undefined {
  for (const f of layoutsFrom(w.kernel as FormatName, w.rows, choice)) {
    if (accept && !accept(f)) continue;
    if (w.cols % f.blockValues !== 0) continue;
    const rowBytes = formatRowBytes(f, w.cols);
    const made = f.madeFrom!;
    if (!finiteHalves(arena.bytes(w.ptr, w.rows * rowBytes), f.blockBytes, made.finiteHalves)) continue;
    if (made.repackKernel) {
      const step = Math.min(w.rows, Math.floor(scratchBytes / rowBytes / f.rows) * f.rows);
      if (step < f.rows) continue;
      for (let r = 0; r < w.rows; r += step) {
        const n = Math.min(step, w.rows - r);
        const src = w.ptr + r * rowBytes;
        pool.call(made.repackKernel, src, scratch, n, w.cols);
        arena.bytes(src, n * rowBytes).set(arena.bytes(scratch, n * rowBytes));
      }
    }
    w.kernel = f.name;
    return f.name;
  }
  return undefined;
}
