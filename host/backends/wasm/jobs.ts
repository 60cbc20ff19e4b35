// The dispatch jobs of y = W·x on the matmul kernels: kernel names, row splits and tiles, from the
// block-format table (which activation form a weight's kernels take, and its kernel suffix).
import { activationFormat, formatOf, formatRowBytes, type ActivationChoice, type BlockFormat, type FormatName } from '../../model/block-formats.js';
import type { Job } from './pool.js';

/** Rows the matmul kernels compute per pass over a weight block (docs/KERNEL-ABI.md). */
const ROWS_PER_PASS = 4;
/** Tokens per tile of the matmul kernels: they compute 4 token rows per pass over a weight row. */
const MATMUL_TILE = 4;

/** Rows per thread share: whole passes, and whole group blocks of an interleaved layout (q4_0r8: 8). */
export function rowGrain(kernel: string): number {
  return Math.max(ROWS_PER_PASS, formatOf(kernel).rows);
}

/** The activation form a weight kernel takes under the model's activation choice (f32, q8_0w, q8_0s, q8_K, q16_0, q16_0s, q16_K). */
export function activationOf(kernel: string, choice?: ActivationChoice): Readonly<BlockFormat> {
  const a = activationFormat(kernel as FormatName, choice);
  if (!a) throw new Error(`no matmul kernel takes ${kernel} weights${choice ? ` with ${choice} activations` : ''}`);
  return a;
}

/** The dispatch job for y = W·x over the rows of W, one token (x already in W's activation form). */
export function matvecJob(kernel: string, act: BlockFormat, w: number, x: number, y: number, cols: number, rows: number): Job {
  return { kernel: `matvec_${kernel}${act.activation!.kernelSuffix}`, args: [w, x, y, cols, 0, 0], split: { total: rows, grain: rowGrain(kernel), startArg: 4, endArg: 5 } };
}

/**
 * The jobs for Y = W·X over nTok token rows: the matmul kernel for whole tiles of 4 tokens (each
 * weight block read once per tile), one matvec per token left over — a tile padded to 4 would
 * cost 4 tokens' compute for 2 (both paths are bit-identical).
 */
export function matmulJobs(kernel: string, act: BlockFormat, w: number, x: number, y: number, cols: number, rows: number, nTok: number): Job[] {
  const tiled = nTok >= MATMUL_TILE ? nTok - (nTok % MATMUL_TILE) : 0;
  const jobs: Job[] = [];
  if (tiled > 0) jobs.push({ kernel: `matmul_${kernel}${act.activation!.kernelSuffix}`, args: [w, x, y, cols, rows, tiled, 0, 0], split: { total: rows, grain: rowGrain(kernel), startArg: 6, endArg: 7 } });
  const xRowBytes = formatRowBytes(act, cols);
  for (let t = tiled; t < nTok; t++) jobs.push(matvecJob(kernel, act, w, x + t * xRowBytes, y + t * rows * 4, cols, rows));
  return jobs;
}
