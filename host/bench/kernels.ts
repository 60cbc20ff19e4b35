// `wisp bench kernels`: GB/s of weight bytes each matvec kernel (as the engine calls it: 16-bit
// activations for quantized weights) reads at real shapes, on 1 and N threads, beside the
// machine's memory-read bandwidth measured in the same run.
import { Arena, planBytes } from '../backends/wasm/arena.js';
import { ACTIVATION, activationOf, matvecJob, Q16_0S } from '../backends/wasm/model.js';
import { KernelPool } from '../backends/wasm/pool.js';
import { GGMLType, rowBytes, traitsOf } from '../model/ggml-types.js';
import { quantize } from '../model/quantize/index.js';
import { randomWeights } from '../model/synth.js';
import { measureReadBandwidth, timeIt } from './memory.js';

export const BENCH_TYPES = [GGMLType.F32, GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_K, GGMLType.Q6_K];
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
      const kind = ACTIVATION[type]!;
      // the variant the engine runs instead (q4_0r8 on q16_0s, q4_Kr4 on q16_K, f16f), if any
      const r8 = type === GGMLType.Q4_0 && rows % 8 === 0;
      const rk = type === GGMLType.Q4_K && rows % 4 === 0;
      const f16f = type === GGMLType.F16;
      const xqBytes = (cols / 32) * Math.max(kind.blockBytes * (32 / kind.blockSize), r8 ? Q16_0S.blockBytes : 0);
      const arena = new Arena(planBytes([wBytes, cols * 4, xqBytes, rows * 4, ...(r8 || rk ? [wBytes] : [])]), 'the benchmark');
      const w = arena.alloc(wBytes);
      fillWeights(arena, w, type, rows, cols);
      const x = arena.alloc(cols * 4);
      arena.f32(x, cols).set(randomWeights(cols, 7, 1));
      const xq = kind.quantizer ? arena.alloc(xqBytes) : x;
      const y = arena.alloc(rows * 4);
      const wr = r8 || rk ? arena.alloc(wBytes) : 0;
      const variants: Array<[string, number]> = [[traitsOf(type).name, w], ...(r8 ? [['q4_0r8', wr] as [string, number]] : []), ...(rk ? [['q4_Kr4', wr] as [string, number]] : []), ...(f16f ? [['f16f', w] as [string, number]] : [])];
      for (const [name, wp] of variants) for (const threads of threadCounts) {
        const pool = KernelPool.create(arena.memory, { threads });
        await pool.ready;
        let t;
        try {
          const k = activationOf({ type, kernel: name });
          if (k.quantizer) pool.call(k.quantizer, x, xq, cols);
          if (name === 'q4_0r8') pool.call('repack_q4_0_r8', w, wr, rows, cols);
          if (name === 'q4_Kr4') pool.call('repack_q4_K_r4', w, wr, rows, cols);
          const job = matvecJob(name, k, wp, xq, y, cols, rows);
          t = timeIt(() => pool.run([job]), minSeconds);
        } finally {
          await pool.close();
        }
        const gbPerSecond = wBytes / t.seconds / 1e9;
        const r: KernelResult = { type: name, rows, cols, threads, weightBytes: wBytes, microseconds: t.seconds * 1e6, gbPerSecond, ofReadBandwidth: gbPerSecond / readBandwidthGBps };
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
