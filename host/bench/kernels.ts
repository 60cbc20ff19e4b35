// `wisp bench kernels`: GB/s of weight bytes each matvec kernel (as the engine calls it: 16-bit
// activations for quantized weights) reads at real shapes, per kernel flavour, on 1 and N threads,
// beside the machine's memory-read bandwidth measured in the same run. Both stream through more
// bytes than the last-level cache holds, as a model's weights do.
import { Arena, planBytes } from '../backends/wasm/arena.js';
import { activationOf, matvecJob } from '../backends/wasm/jobs.js';
import { KernelPool } from '../backends/wasm/pool.js';
import { compileFlavour } from '../kernels/flavours.js';
import { flavoursOf, KERNEL_FAMILIES, kernelModule, loadManifest, type KernelFamily } from '../kernels/load.js';
import { formatOfType, formatRowBytes, kernelWeightFormats, layoutsFrom, type BlockFormat } from '../model/block-formats.js';
import { type GGMLType, rowBytes, traitsOf } from '../model/ggml-types.js';
import { quantize } from '../model/quantize/index.js';
import { randomWeights } from '../model/synth.js';
import { kernelModules, lastLevelCache as lastLevelCacheOf, type CacheSize } from './environment.js';
import { beyondCache, measureReadBandwidthThreads, timeIt } from './memory.js';

/** The stored types the matmul kernels run (f32, f16, q8_0, q4_0, q4_K, q6_K). */
export const BENCH_TYPES: GGMLType[] = kernelWeightFormats().map((f) => f.ggml!);
/** [rows, cols]: an attention projection of the 110M model, TinyLlama's FFN down, a 32k-vocab head. */
export const BENCH_SHAPES: Array<[number, number]> = [
  [768, 768],
  [2048, 5632],
  [32000, 2048],
];


export interface KernelResult {
  /** The kernel flavour (kernels/manifest.json) the row ran on. */
  flavour: string;
  /** The kernel variant: the weight type, or the layout the engine runs it in (q4_0r8, q4_Kr4, q6_Kr4, q5_0r4, q5_1r4, q2_Kr4, q3_Kr4, f16f). */
  type: string;
  rows: number;
  cols: number;
  threads: number;
  /** Bytes of one weight matrix. */
  weightBytes: number;
  /** Copies of the matrix the timed calls rotate over, so their bytes together exceed the last-level cache. */
  matrices: number;
  /** Per matvec. */
  microseconds: number;
  gbPerSecond: number;
  /** gbPerSecond / the memory-read bandwidth measured in this run at the same thread count */
  ofReadBandwidth: number;
}

export interface ReadBandwidth {
  threads: number;
  gbPerSecond: number;
}

export interface KernelBench {
  /** Memory read with 1 thread (native memcmp), GB/s. */
  readBandwidthGBps: number;
  /** Memory read at every thread count measured: each row's roofline. */
  readBandwidth: ReadBandwidth[];
  lastLevelCache: CacheSize;
  /** Bytes each row's rotation (and the read baseline) streams through: more than the last-level cache. */
  workingSetBytes: number;
  /** the [rows, cols] shapes and weight types measured, and the least time spent timing each row */
  shapes: Array<[number, number]>;
  types: string[];
  /** Flavours measured, and those the manifest lists that could not run here (with why). */
  flavours: string[];
  flavoursSkipped: Array<{ flavour: string; reason: string }>;
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
  /** kernel flavours (default: every flavour kernels/manifest.json lists) */
  flavours?: string[];
  /** bytes each row rotates over (default beyondCache: 4× the last-level cache, at least 64 MiB) */
  workingSetBytes?: number;
  /** called before each row is timed (progress) */
  onStart?(what: string): void;
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
  const known = Object.keys(kernelModules().flavours);
  for (const f of o.flavours ?? []) if (!known.includes(f)) throw new Error(`bench kernels: no kernel flavour '${f}' in kernels/manifest.json (flavours: ${known.join(', ')})`);
}

/** One way the engine runs a stored type: the kernel variant, its activation form, and the kernel that makes its layout from ggml's (if any). */
interface EngineVariant {
  name: string;
  activation: Readonly<BlockFormat>;
  repack?: string;
}

/**
 * The variants the engine runs a type on at this many rows: itself, plus the load-time layouts the
 * block-format table makes of it (q4_0r8 for rows a multiple of 8, q4_Kr4, q6_Kr4, q5_0r4, q5_1r4, q2_Kr4 and q3_Kr4 of 4, f16f).
 */
function engineVariants(type: GGMLType, rows: number): EngineVariant[] {
  const stored = formatOfType(type)!;
  return [stored, ...layoutsFrom(stored.name, rows)].map((f) => ({
    name: f.name,
    activation: activationOf(f.name),
    ...(f.madeFrom?.repackKernel ? { repack: f.madeFrom.repackKernel } : {}),
  }));
}

/** Bytes of the largest activation row any of the variants takes for `cols` inputs. */
function activationRowBytes(variants: EngineVariant[], cols: number): number {
  return Math.max(...variants.map((v) => formatRowBytes(v.activation, cols)));
}

/** The kernel variants the engine runs a type on at this many rows (names only). */
export function kernelVariants(type: GGMLType, rows: number): string[] {
  return engineVariants(type, rows).map((v) => v.name);
}

/**
 * A kernel pool on one flavour's modules (a family not built in that flavour runs its baseline); a
 * flavour this runtime cannot validate throws the flavour loading's reason (the Node version that
 * has it), and is reported as skipped.
 */
function flavourPool(memory: WebAssembly.Memory, threads: number, flavour: string): KernelPool {
  const manifest = loadManifest();
  const modules = Object.fromEntries(KERNEL_FAMILIES.map((f) => {
    const c = compileFlavour(kernelModule(f, flavoursOf(f, manifest).includes(flavour) ? flavour : undefined, manifest));
    if (!c.module) throw new Error(c.refused);
    return [f, c.module];
  }));
  return KernelPool.create(memory, { threads, modules: modules as Record<KernelFamily, WebAssembly.Module> });
}

/**
 * One result per shape × variant × flavour × thread count. Each timed call reads the next of
 * `matrices` copies of the weights, so the bytes streamed exceed the last-level cache and the GB/s
 * is what a model (whose weights never fit) sees. The read baseline is measured over the same working
 * set at every thread count.
 */
export async function benchKernels(threadCounts: number[], onResult?: (r: KernelResult) => void, o: KernelBenchOptions = {}): Promise<KernelBench> {
  checkBenchOptions(o);
  const shapes = o.shapes ?? BENCH_SHAPES;
  const types = o.types ?? BENCH_TYPES;
  const minSeconds = o.minSeconds ?? 0.25;
  const lastLevelCache = lastLevelCacheOf();
  const workingSetBytes = o.workingSetBytes ?? beyondCache(lastLevelCache.bytes);
  const modules = kernelModules();
  const flavours = o.flavours ?? Object.keys(modules.flavours);
  const readBandwidth: ReadBandwidth[] = [];
  for (const threads of [...new Set([1, ...threadCounts])]) {
    o.onStart?.(`memory read, ${threads} thread${threads > 1 ? 's' : ''}`);
    readBandwidth.push({ threads, gbPerSecond: await measureReadBandwidthThreads(threads, workingSetBytes, Math.min(0.3, minSeconds * 2)) });
  }
  const roofline = (threads: number) => readBandwidth.find((r) => r.threads === threads)!.gbPerSecond;
  const skipped = new Map<string, string>();
  const results: KernelResult[] = [];
  for (const [rows, cols] of shapes) {
    for (const type of types) {
      const wBytes = rowBytes(type, cols) * rows;
      const stride = Math.ceil(wBytes / 64) * 64;
      const matrices = Math.max(1, Math.ceil(workingSetBytes / stride));
      const variants = engineVariants(type, rows);
      const repacked = variants.some((v) => v.repack);
      const xqBytes = activationRowBytes(variants, cols);
      const arena = new Arena(planBytes([stride * matrices, cols * 4, xqBytes, rows * 4, ...(repacked ? [wBytes] : [])]), 'the benchmark');
      const w = arena.alloc(stride * matrices);
      fillWeights(arena, w, type, rows, cols);
      const copyAcross = () => {
        const all = new Uint8Array(arena.memory.buffer);
        for (let i = 1; i < matrices; i++) all.copyWithin(w + i * stride, w, w + wBytes);
      };
      copyAcross();
      const x = arena.alloc(cols * 4);
      arena.f32(x, cols).set(randomWeights(cols, 7, 1));
      const xq = variants.some((v) => v.activation.activation?.quantizer) ? arena.alloc(xqBytes) : x;
      const y = arena.alloc(rows * 4);
      const scratch = repacked ? arena.alloc(wBytes) : 0;
      for (const { name, activation: k, repack } of variants) {
        let repackedNow = false;
        for (const flavour of flavours) {
          if (skipped.has(flavour)) continue;
          for (const threads of threadCounts) {
            let pool: KernelPool;
            try {
              pool = flavourPool(arena.memory, threads, flavour);
            } catch (err) {
              skipped.set(flavour, (err as Error).message);
              break;
            }
            let t;
            try {
              await pool.ready;
              if (k.activation?.quantizer) pool.call(k.activation.quantizer, x, xq, cols);
              if (repack && !repackedNow) {
                // the ggml-layout rows are done with: repack the first copy and spread it over all
                pool.call(repack, w, scratch, rows, cols);
                new Uint8Array(arena.memory.buffer).copyWithin(w, scratch, scratch + wBytes);
                copyAcross();
                repackedNow = true;
              }
              const jobs = Array.from({ length: matrices }, (_, i) => matvecJob(name, k, w + i * stride, xq, y, cols, rows));
              o.onStart?.(`${name} ${rows}×${cols}, ${flavour}, ${threads} thread${threads > 1 ? 's' : ''}`);
              let next = 0;
              t = timeIt(() => {
                pool.run([jobs[next]]);
                next = next + 1 === matrices ? 0 : next + 1;
              }, minSeconds);
            } finally {
              await pool.close();
            }
            const gbPerSecond = wBytes / t.seconds / 1e9;
            const r: KernelResult = { flavour, type: name, rows, cols, threads, weightBytes: wBytes, matrices, microseconds: t.seconds * 1e6, gbPerSecond, ofReadBandwidth: gbPerSecond / roofline(threads) };
            results.push(r);
            onResult?.(r);
          }
        }
      }
    }
  }
  return {
    readBandwidthGBps: roofline(1),
    readBandwidth,
    lastLevelCache,
    workingSetBytes,
    shapes,
    types: types.map((t) => traitsOf(t).name),
    flavours: flavours.filter((f) => !skipped.has(f)),
    flavoursSkipped: [...skipped].map(([flavour, reason]) => ({ flavour, reason })),
    minSeconds,
    results,
  };
}

/** Valid weights of `type`: a few rows quantized from random values, tiled over the matrix (the bytes read are what matter). */
function fillWeights(arena: Arena, ptr: number, type: GGMLType, rows: number, cols: number): void {
  const sample = Math.min(rows, 16);
  const bytes = quantize(type, randomWeights(sample * cols, 3, 0.05), cols);
  const dst = arena.bytes(ptr, rowBytes(type, cols) * rows);
  for (let r = 0; r < rows; r += sample) dst.set(bytes.subarray(0, Math.min(sample, rows - r) * rowBytes(type, cols)), r * rowBytes(type, cols));
}
