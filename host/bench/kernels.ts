// `wisp bench kernels`: GB/s of weight bytes each matvec kernel (as the engine calls it: 16-bit
// activations for quantized weights) reads at real shapes, on 1 and N threads, beside the
// machine's memory-read bandwidth measured in the same run.
import { Arena, planBytes } from '../backends/wasm/arena.js';
import { activationOf, matvecJob } from '../backends/wasm/jobs.js';
import { KernelPool } from '../backends/wasm/pool.js';
import { formatOfType, formatRowBytes, kernelWeightFormats, layoutsFrom } from '../model/block-formats.js';
import { type GGMLType, rowBytes, traitsOf } from '../model/ggml-types.js';
import { quantize } from '../model/quantize/index.js';
import { randomWeights } from '../model/synth.js';
import { measureReadBandwidth, timeIt } from './memory.js';

/** The stored types the matmul kernels run (f32, f16, q8_0, q4_0, q4_K, q6_K). */
export const BENCH_TYPES: GGMLType[] = kernelWeightFormats().map((f) => f.ggml!);
/** [rows, cols]: an attention projection of the 110M model, TinyLlama's FFN down, a 32k-vocab head. */
export const BENCH_SHAPES: Array<[number, number]> = [
  [768, 768],
  [2048, 5632],
  [32000, 2048],
];


export interface KernelResult {
  type: string;
  rows: number;
  cols: number;
  threads: number;
  weightBytes: number;
  microseconds: number;
  gbPerSecond: number;
  /** gbPerSecond / the single-thread memory-read bandwidth measured in this run */
  ofReadBandwidth: number;
}

export interface KernelBench {
  readBandwidthGBps: number;
  /** the [rows, cols] shapes and weight types measured, and the least time spent timing each row */
  shapes: Array<[number, number]>;
  types: string[];
  minSeconds: number;
  results: KernelResult[];
}

export interface KernelBenchOptions {
  /** [rows, cols] (default BENCH_SHAPES); cols a multiple of 32, and of 256 for the K-quants */
  shapes?: Array<[number, number]>;
  /** weight types, a subset of BENCH_TYPES (default all); each adds the variants the engine runs it on */
  types?: GGMLType[];
  /** least time each row is timed for (default 0.25 s) */
  minSeconds?: number;
}

/** Throws, naming the shape or type, unless every type is benchable and every shape fits every type. */
export function checkBenchOptions(o: KernelBenchOptions): void {
  const types = o.types ?? BENCH_TYPES;
  for (const type of types) {
    if (!BENCH_TYPES.includes(type)) throw new Error(`bench kernels: no matvec kernel for ${traitsOf(type).name}; types: ${BENCH_TYPES.map((t) => traitsOf(t).name).join(', ')}`);
    const { name } = traitsOf(type);
    const blockSize = Math.max(32, traitsOf(type).blockSize); // the activation buffers are sized in 32-value blocks
    for (const [rows, cols] of o.shapes ?? BENCH_SHAPES) {
      if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0 && cols % blockSize === 0)) {
        throw new Error(`bench kernels: shape ${rows}x${cols} does not fit ${name}: cols must be a positive multiple of ${blockSize}`);
      }
    }
  }
  if (o.minSeconds !== undefined && !(o.minSeconds > 0)) throw new Error(`bench kernels: the time per row must be positive, got ${o.minSeconds}`);
}

/** One result per shape × variant × thread count; a type's variants are itself plus q4_0r8 (rows a
 *  multiple of 8), q4_Kr4 (rows a multiple of 4) or f16f, as the engine would run it. */
export async function benchKernels(threadCounts: number[], onResult?: (r: KernelResult) => void, o: KernelBenchOptions = {}): Promise<KernelBench> {
  checkBenchOptions(o);
  const shapes = o.shapes ?? BENCH_SHAPES;
  const types = o.types ?? BENCH_TYPES;
  const minSeconds = o.minSeconds ?? 0.25;
  const readBandwidthGBps = measureReadBandwidth();
  const results: KernelResult[] = [];
  for (const [rows, cols] of shapes) {
    for (const type of types) {
      const wBytes = rowBytes(type, cols) * rows;
      // the stored format and the layouts the engine makes of it at load (q4_0r8, q4_Kr4, f16f), as rows allow
      const stored = formatOfType(type)!;
      const variants = [stored, ...layoutsFrom(stored.name, rows)];
      const acts = variants.map((v) => activationOf(v.name));
      const repacked = variants.some((v) => v.madeFrom?.repackKernel);
      const xqBytes = Math.max(...acts.map((a) => formatRowBytes(a, cols)));
      const arena = new Arena(planBytes([wBytes, cols * 4, xqBytes, rows * 4, ...(repacked ? [wBytes] : [])]), 'the benchmark');
      const w = arena.alloc(wBytes);
      fillWeights(arena, w, type, rows, cols);
      const x = arena.alloc(cols * 4);
      arena.f32(x, cols).set(randomWeights(cols, 7, 1));
      const xq = acts.some((a) => a.activation?.quantizer) ? arena.alloc(xqBytes) : x;
      const y = arena.alloc(rows * 4);
      const wr = repacked ? arena.alloc(wBytes) : 0;
      for (const v of variants) for (const threads of threadCounts) {
        const pool = KernelPool.create(arena.memory, { threads });
        await pool.ready;
        let t;
        const repack = v.madeFrom?.repackKernel;
        try {
          const k = activationOf(v.name);
          if (k.activation?.quantizer) pool.call(k.activation.quantizer, x, xq, cols);
          if (repack) pool.call(repack, w, wr, rows, cols);
          const job = matvecJob(v.name, k, repack ? wr : w, xq, y, cols, rows);
          t = timeIt(() => pool.run([job]), minSeconds);
        } finally {
          await pool.close();
        }
        const gbPerSecond = wBytes / t.seconds / 1e9;
        const r: KernelResult = { type: v.name, rows, cols, threads, weightBytes: wBytes, microseconds: t.seconds * 1e6, gbPerSecond, ofReadBandwidth: gbPerSecond / readBandwidthGBps };
        results.push(r);
        onResult?.(r);
      }
    }
  }
  return { readBandwidthGBps, shapes, types: types.map((t) => traitsOf(t).name), minSeconds, results };
}

/** Valid weights of `type`: a few rows quantized from random values, tiled over the matrix (the bytes read are what matter). */
function fillWeights(arena: Arena, ptr: number, type: GGMLType, rows: number, cols: number): void {
  const sample = Math.min(rows, 16);
  const bytes = quantize(type, randomWeights(sample * cols, 3, 0.05), cols);
  const dst = arena.bytes(ptr, rowBytes(type, cols) * rows);
  for (let r = 0; r < rows; r += sample) dst.set(bytes.subarray(0, Math.min(sample, rows - r) * rowBytes(type, cols)), r * rowBytes(type, cols));
}
