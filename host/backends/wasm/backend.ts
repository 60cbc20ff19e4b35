// The wasm backend: llama blocks on the AssemblyScript kernels. The GGUF data section is read
// straight into one shared WebAssembly.Memory planned at creation (weights, every sequence's KV
// cache, the activation rows the engine's steps use, the RoPE table): the only copy of the weights.
// Every matmul is split over the kernel pool by output rows, attention by heads; small ops (norms,
// RoPE, quantizing x) run on the main thread between dispatches. Blocks complete synchronously, so
// the engine never awaits them. Step names follow host/engine/reference.ts.
import type { Backend, BackendContext, BackendFactory, Block, BlockPlacement, PlacedBlock, Refusal, Segment } from '../../engine/backend.js';
import type { KernelFamily } from '../../kernels/load.js';
import { activationFormat, DEFAULT_ACTIVATIONS, formatOfType, kernelWeightFormats, quantizedActivationFormats, type ActivationChoice } from '../../model/block-formats.js';
import { GGMLType, rowBytes, traitsOf } from '../../model/ggml-types.js';
import type { GGUFFile } from '../../model/gguf/index.js';
import { isSlidingLayer, type LlamaConfig } from '../../model/llama/config.js';
import { layerRope, ropeCosSinMany } from '../../model/llama/rope.js';
import { checkTensorShapes, mapModelTensors, tensorList, type LayerTensors } from '../../model/llama/tensors.js';
import { Arena, planBytes } from './arena.js';
import { activationOf, matmulJobs } from './jobs.js';
import { makeLayout, type Weight } from './layouts.js';
import { KernelError, KernelPool, type Job } from './pool.js';

export interface WasmOptions {
  /** Kernel threads (the main thread is one of them; default 1). */
  threads?: number;
  kvType?: 'f32' | 'f16';
  /** Kernel pool spin budget before Atomics.wait (pool.ts). */
  spinLimit?: number;
  /**
   * Make the load-time layouts (host/backends/wasm/layouts.ts: q4_0r8, q4_Kr4, q6_Kr4, q5_0r4, q5_1r4, f16f) for the
   * matrices of the blocks this backend runs: faster kernels, the same results bit for bit. Default
   * true; false keeps ggml's layout and kernels (for A/B comparison).
   */
  repack?: boolean;
  /**
   * The activations the quantized matmuls run on (docs/KERNEL-ABI.md): 'q8' (default), ggml's 8-bit
   * ones as llama.cpp's CPU backend computes them, so the logits follow llama.cpp's; 'q16', wisp's
   * 16-bit ones, closer to f32 math (docs/MEASUREMENTS.md, "Activations").
   */
  activations?: ActivationChoice;
  /** The module of each kernel family (the registry's choice, host/kernels/choose.ts); default: the baselines. */
  kernels?: Record<KernelFamily, WebAssembly.Module>;
}

/** One block's weights in the arena: matrices with their kernels, vectors as pointers. */
type LayerPtrs = LayerTensors<Weight, number>;

/** One sequence's KV cache slot in the arena: per layer, head-major [kvHead][contextSize][headDim]. */
export class WasmSequence {
  constructor(
    readonly slot: number,
    readonly keys: number[],
    readonly values: number[],
    readonly maxSeq: number,
  ) {}
}

/** One matmuls() dispatch, planned: the activation quantizer calls, then the jobs. */
interface DispatchPlan {
  quantize: Array<[quantizer: string, x: number, xq: number, count: number]>;
  jobs: Job[];
}

export class WasmBackend implements Backend<WasmSequence> {
  readonly name = 'wasm';
  readonly config: LlamaConfig;
  readonly arena: Arena;
  readonly pool: KernelPool;
  readonly file: GGUFFile;
  private readonly contextSize: number;
  private readonly kvBytes: number;
  private readonly chunk: number;
  private readonly embd: Weight;
  private readonly output: Weight;
  private readonly outputNorm: number;
  readonly layers: LayerPtrs[];
  private readonly freeSlots: number[];
  private readonly slots: WasmSequence[];
  /** Per layer: its RoPE table in the arena (contextSize rows of ropeDim floats); layers with the same RoPE share one. */
  private readonly ropeCs: number[];
  // activation buffers, each sized for `chunk` rows
  private readonly X: number;
  private readonly XB: number;
  private readonly Q: number;
  private readonly K: number;
  private readonly V: number;
  private readonly ATT: number;
  private readonly HB: number;
  private readonly HB2: number;
  /** x quantized, per activation format the weights' kernels take */
  private readonly XQ = new Map<string, number>();
  /** matmuls() plans by call site (its first weight) and row count. */
  private readonly dispatchPlans = new Map<Weight, DispatchPlan[]>();
  private readonly LOGITS: number;
  private readonly xView: Float32Array;
  /** Views on the logits rows, made once. */
  private readonly logitRows: Float32Array[];
  /** The activation format choice this model was loaded with. */
  readonly activations: ActivationChoice;

  constructor(ctx: BackendContext, private readonly opts: WasmOptions = {}) {
    const c = ctx.model.config;
    const path = ctx.model.path;
    const header = ctx.model.header;
    this.config = c;
    this.activations = opts.activations ?? DEFAULT_ACTIVATIONS;
    this.contextSize = ctx.contextSize;
    this.chunk = ctx.maxRows;
    const maxSeqs = ctx.maxSequences;
    const kvElt = opts.kvType === 'f16' ? 2 : 4;
    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    this.kvBytes = kvElt;

    // shapes first: a tensor larger than its metadata says would make kernels write past their buffers
    checkTensorShapes(header, c);
    // the attention kernels step through a head four floats at a time (docs/KERNEL-ABI.md)
    if (c.headDim % 4 !== 0) {
      throw new Error(`${path}: head dimension ${c.headDim} is not a multiple of 4, which the wasm attention kernels need; run it with --engine reference or --engine onnx`);
    }
    for (const { name } of tensorList(c)) {
      const t = header.tensorInfo(name);
      const format = formatOfType(t.type);
      if (t.dims.length === 2 && (format === undefined || activationFormat(format.name, this.activations) === undefined)) {
        throw new Error(`${path}: tensor '${name}' is ${traitsOf(t.type).name}; the wasm kernels run ${kernelWeightFormats(this.activations).map((f) => f.name).join(', ')} (requantize with wisp quantize)`);
      }
      if (t.dims.length === 1 && t.type !== GGMLType.F32) throw new Error(`${path}: 1-D tensor '${name}' must be f32, it is ${traitsOf(t.type).name}`);
    }

    // plan the whole arena: weights, KV caches (every layer: blocks may fall back here after
    // creation), activations, RoPE table
    const maxCols = Math.max(c.dim, c.ffnDim, qDim);
    const quantized = quantizedActivationFormats(this.activations);
    const xqBytes = Math.max(...quantized.map((k) => (roundUp(maxCols, k.blockValues) / k.blockValues) * k.blockBytes)) * this.chunk;
    const actSizes = [c.dim, c.dim, qDim, kvDim, kvDim, qDim, c.ffnDim, c.ffnDim].map((n) => n * 4 * this.chunk);
    const kvSizes = Array.from({ length: 2 * c.nLayers * maxSeqs }, () => this.contextSize * kvDim * kvElt);
    // one RoPE table for the full-attention layers, one for the sliding ones (their own base, unscaled)
    const ropeKinds = [...new Set(Array.from({ length: c.nLayers }, (_, l) => isSlidingLayer(c, l)))];
    const total = planBytes([
      header.header.dataByteLength,
      ...kvSizes,
      ...actSizes,
      ...quantized.map(() => xqBytes),
      c.vocabSize * 4 * this.chunk,
      ...ropeKinds.map(() => this.contextSize * c.ropeDim * 4),
    ]);
    this.arena = new Arena(total, `${path} (${c.nLayers} layers, context ${this.contextSize} × ${maxSeqs} sequences)`);

    // weights straight from the file into the arena: the only copy
    this.file = ctx.model.data((n) => this.arena.bytes(this.arena.alloc(n), n));
    const base = this.file.data.byteOffset;
    const weights = mapModelTensors<Weight, number>(c, {
      // a part (phi3's fused tensors) is a range of whole rows: its own matrix, from its first row
      matrix: ({ name, dims, part }) => {
        const t = this.file.tensorInfo(name);
        const skip = part ? part.row * rowBytes(t.type, t.dims[0]) : 0;
        return { ptr: base + t.offset + skip, type: t.type, kernel: traitsOf(t.type).name, cols: dims[0], rows: dims[1] ?? 1 };
      },
      vector: ({ name }) => base + this.file.tensorInfo(name).offset,
    }, this.contextSize);
    this.embd = weights.tokenEmbd;
    this.output = { ...weights.output }; // its own record: a tied head may run on another kernel than the embedding's get_row
    this.outputNorm = weights.outputNorm;
    this.layers = weights.layers;

    this.slots = Array.from({ length: maxSeqs }, (_, s) => {
      const keys = Array.from({ length: c.nLayers }, () => this.arena.alloc(this.contextSize * kvDim * kvElt));
      const values = Array.from({ length: c.nLayers }, () => this.arena.alloc(this.contextSize * kvDim * kvElt));
      return new WasmSequence(s, keys, values, this.contextSize);
    });
    this.freeSlots = this.slots.map((s) => s.slot).reverse();
    [this.X, this.XB, this.Q, this.K, this.V, this.ATT, this.HB, this.HB2] = actSizes.map((n) => this.arena.alloc(n));
    for (const k of quantized) this.XQ.set(k.name, this.arena.alloc(xqBytes));
    this.LOGITS = this.arena.alloc(c.vocabSize * 4 * this.chunk);
    // the tables, from the scaling and the frequency factors (a vector in the arena, never repacked)
    const s = c.ropeScaling;
    const factors = weights.ropeFactors === undefined ? undefined : this.arena.f32(weights.ropeFactors, c.ropeDim / 2).slice();
    const tables = new Map(
      ropeKinds.map((sliding) => {
        const r = sliding ? layerRope(c.ropeDim, c.ropeBaseSwa, 1, s, factors) : layerRope(c.ropeDim, c.ropeBase, s.freqScale, s, factors);
        const ptr = this.arena.alloc(this.contextSize * c.ropeDim * 4);
        this.arena.f32(ptr, this.contextSize * c.ropeDim).set(ropeCosSinMany(r, 0, this.contextSize));
        return [sliding, ptr] as const;
      }),
    );
    this.ropeCs = Array.from({ length: c.nLayers }, (_, l) => tables.get(isSlidingLayer(c, l))!);
    this.xView = this.arena.f32(this.X, this.chunk * c.dim);
    this.logitRows = Array.from({ length: this.chunk }, (_, i) => this.arena.f32(this.LOGITS + i * c.vocabSize * 4, c.vocabSize));

    this.pool = KernelPool.create(this.arena.memory, { threads: opts.threads ?? 1, spinLimit: opts.spinLimit, modules: opts.kernels });
  }

  /** Every block: the weights of all of them are in the arena. */
  async add(_blocks: readonly PlacedBlock[]): Promise<Refusal[]> {
    return [];
  }

  /**
   * Makes the load-time layouts (q4_0r8, q4_Kr4, q6_Kr4, q5_0r4, q5_1r4, q2_Kr4, q3_Kr4, f16f) of the matrices of the blocks it
   * runs, in place through the logits buffer (unused until the first step): after every other backend
   * has read the weights in ggml's layout. A head tied to the embedding (the same bytes) takes only a
   * layout that keeps the bytes (f16f) or one that get_row also reads (q6_Kr4, q5_0r4, q5_1r4: get_row_<layout>), and then
   * the embedding follows it (the engine embeds on this backend whenever it runs a block: it holds the
   * activation rows); otherwise both keep ggml's layout. Then waits for the kernel workers.
   */
  async prepare(blocks: readonly Block[]): Promise<void> {
    if (this.opts.repack ?? true) {
      const scratch = this.LOGITS, scratchBytes = this.config.vocabSize * 4 * this.chunk;
      const mats: Weight[] = [];
      let tiedHead = false;
      for (const b of blocks) {
        if (b.op === 'head') {
          if (this.config.tiedOutput) tiedHead = true;
          else mats.push(this.output);
          continue;
        }
        const w = this.layers[b.layer!];
        mats.push(...(b.op === 'attention' ? [w.wq, w.wk, w.wv, w.wo] : [w.wGate, w.wUp, w.wDown]));
      }
      for (const w of mats) makeLayout(this.pool, this.arena, w, scratch, scratchBytes, this.activations);
      if (tiedHead && this.output.ptr === this.embd.ptr) {
        const rowsReadable = (f: string) => this.pool.has(`get_row_${f}`);
        const layout = makeLayout(this.pool, this.arena, this.output, scratch, scratchBytes, this.activations, (f) => !f.madeFrom?.repackKernel || rowsReadable(f.name));
        if (layout && rowsReadable(layout)) this.embd.kernel = layout;
      }
    }
    await this.pool.ready;
  }

  placementOf(_block: Block): BlockPlacement {
    return { backend: 'wasm' };
  }

  /** The activation rows X: the engine's steps work on them here, in the arena. */
  rows(): Float32Array {
    return this.xView;
  }

  /** How many matrices run on each kernel, e.g. { q4_0r8: 84, q8_0: 1 }: what the load-time layouts chose. */
  kernelCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    const mats = [...this.layers.flatMap((w) => [w.wq, w.wk, w.wv, w.wo, w.wGate, w.wUp, w.wDown]), this.output];
    for (const w of mats) counts[w.kernel] = (counts[w.kernel] ?? 0) + 1;
    return counts;
  }

  newSequence(maxSeq: number): WasmSequence {
    if (maxSeq > this.contextSize) throw new RangeError(`context ${maxSeq} is larger than this model was loaded for (${this.contextSize})`);
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new KernelError(`all ${this.slots.length} sequence slots are in use`);
    const s = this.slots[slot];
    return maxSeq === s.maxSeq ? s : new WasmSequence(s.slot, s.keys, s.values, maxSeq);
  }

  releaseSequence(state: WasmSequence): void {
    if (!this.freeSlots.includes(state.slot)) this.freeSlots.push(state.slot);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // ---- blocks: the engine calls them on rows of X (callers check tokens, positions and n <= maxRows) --

  /** get_row: the embedding rows of the tokens into X rows 0..n-1. */
  embed(tokens: readonly number[], x: Float32Array): void {
    const dim = this.config.dim;
    for (let t = 0; t < tokens.length; t++) this.pool.call(`get_row_${this.embd.kernel}`, this.embd.ptr, this.X + t * dim * 4, dim, tokens[t]);
    if (this.config.embedScale !== 1) this.pool.call('scale', this.X, this.X, dim * tokens.length, this.config.embedScale);
    this.rowsOut(x, 0, tokens.length);
  }

  /** Layer l's attention half on X rows 0..n-1: norm, q/k/v (+ bias, per-head norms), RoPE, KV append, attention (over the window on a sliding layer), wo, (post-norm), residual. */
  attention(l: number, segments: readonly Segment<WasmSequence>[], x: Float32Array, n: number): void {
    this.rowsIn(x, n);
    const c = this.config;
    const w = this.layers[l];
    const p = this.pool;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const neox = c.ropeStyle === 'neox' ? 1 : 0;

    p.call('rmsnorm_many', this.X, w.attnNorm, this.XB, c.dim, n, c.normEps);
    this.matmuls([[w.wq, this.XB, this.Q], [w.wk, this.XB, this.K], [w.wv, this.XB, this.V]], n);
    if (w.bq !== undefined) {
      for (let t = 0; t < n; t++) {
        p.call('add', this.Q + t * qDim * 4, w.bq, this.Q + t * qDim * 4, qDim);
        p.call('add', this.K + t * kvDim * 4, w.bk!, this.K + t * kvDim * 4, kvDim);
        p.call('add', this.V + t * kvDim * 4, w.bv!, this.V + t * kvDim * 4, kvDim);
      }
    }
    if (w.qNorm !== undefined) {
      // every head vector of every row is one row of headDim floats for rmsnorm_many
      p.call('rmsnorm_many', this.Q, w.qNorm, this.Q, c.headDim, n * c.nHeads, c.normEps);
      p.call('rmsnorm_many', this.K, w.kNorm!, this.K, c.headDim, n * c.nKvHeads, c.normEps);
    }
    const f16 = this.kvBytes === 2;
    const append = f16 ? 'kv_append_f16' : 'kv_append_f32';
    const window = isSlidingLayer(c, l) ? c.slidingWindow : 0;
    const attention = window > 0 ? (f16 ? 'attention_window_f16' : 'attention_window_f32') : f16 ? 'attention_many_f16' : 'attention_many_f32';
    const scale = c.attnScale;
    const table = this.ropeCs[l];
    // the caches are head-major, [kvHead][cap][headDim]: cap is the positions per head every slot was
    // allocated with (contextSize · kvDim elements a layer), not state.maxSeq, which may be smaller
    const cap = this.contextSize;
    const jobs: Job[] = [];
    for (const { state, row, pos0, n: rows } of segments) {
      const q = this.Q + row * qDim * 4;
      const k = this.K + row * kvDim * 4;
      const v = this.V + row * kvDim * 4;
      const cs = table + pos0 * c.ropeDim * 4;
      p.call('rope_many', q, cs, rows, c.nHeads, c.headDim, c.ropeDim, neox);
      p.call('rope_many', k, cs, rows, c.nKvHeads, c.headDim, c.ropeDim, neox);
      for (let t = 0; t < rows; t++) {
        p.call(append, k + t * kvDim * 4, state.keys[l], pos0 + t, c.nKvHeads, c.headDim, cap);
        p.call(append, v + t * kvDim * 4, state.values[l], pos0 + t, c.nKvHeads, c.headDim, cap);
      }
      const args = [q, state.keys[l], state.values[l], this.ATT + row * qDim * 4, rows, pos0, c.nHeads, c.nKvHeads, c.headDim, cap, scale];
      jobs.push(
        window > 0
          ? { kernel: attention, args: [...args, window, 0, 0], split: { total: rows * c.nHeads, startArg: 12, endArg: 13 } }
          : { kernel: attention, args: [...args, 0, 0], split: { total: rows * c.nHeads, startArg: 11, endArg: 12 } },
      );
    }
    p.run(jobs);
    this.matmuls([[w.wo, this.ATT, this.XB]], n);
    if (w.attnPostNorm !== undefined) p.call('rmsnorm_many', this.XB, w.attnPostNorm, this.XB, c.dim, n, c.normEps);
    p.call('add', this.X, this.XB, this.X, c.dim * n);
    this.rowsOut(x, 0, n);
  }

  /** Layer l's feed-forward half on X rows 0..n-1: norm, gate/up, SiLU·mul or GELU·mul, down, (post-norm), residual. */
  ffn(l: number, x: Float32Array, n: number): void {
    this.rowsIn(x, n);
    const c = this.config;
    const w = this.layers[l];
    const p = this.pool;
    p.call('rmsnorm_many', this.X, w.ffnNorm, this.XB, c.dim, n, c.normEps);
    this.matmuls([[w.wGate, this.XB, this.HB], [w.wUp, this.XB, this.HB2]], n);
    p.call(c.ffnAct === 'gelu' ? 'gelu_mul' : 'silu_mul', this.HB, this.HB2, this.HB, c.ffnDim * n);
    this.matmuls([[w.wDown, this.HB, this.XB]], n);
    if (w.ffnPostNorm !== undefined) p.call('rmsnorm_many', this.XB, w.ffnPostNorm, this.XB, c.dim, n, c.normEps);
    p.call('add', this.X, this.XB, this.X, c.dim * n);
    this.rowsOut(x, 0, n);
  }

  /** Final norm and the output matrix (soft-capped when the model says) for X rows row..row+n-1: logits rows 0..n-1, views on the arena. */
  head(x: Float32Array, row: number, n: number): Float32Array[] {
    this.rowsIn(x, row + n);
    const c = this.config;
    this.pool.call('rmsnorm_many', this.X + row * c.dim * 4, this.outputNorm, this.XB, c.dim, n, c.normEps);
    this.matmuls([[this.output, this.XB, this.LOGITS]], n);
    if (c.logitSoftcap > 0) this.pool.call('softcap', this.LOGITS, this.LOGITS, c.vocabSize * n, c.logitSoftcap);
    return this.logitRows.slice(0, n);
  }

  /** x rows 0..n-1 into X, unless x is X itself (always, when the engine's rows are this backend's). */
  private rowsIn(x: Float32Array, n: number): void {
    if (x !== this.xView) this.xView.set(x.subarray(0, n * this.config.dim));
  }

  private rowsOut(x: Float32Array, row: number, n: number): void {
    if (x !== this.xView) x.set(this.xView.subarray(row * this.config.dim, (row + n) * this.config.dim), row * this.config.dim);
  }

  /**
   * y = W·x over n token rows for each (W, x, y), in one dispatch: quantizes x once per activation
   * form the weights need, then splits each W's rows over the threads.
   */
  private matmuls(specs: Array<[w: Weight, x: number, y: number]>, n: number): void {
    // the plan for a call site (its first weight) and a row count never changes: built once, reused
    // every step (building it each time was ~10% of a small model's step, in JS allocation)
    let perRows = this.dispatchPlans.get(specs[0][0]);
    if (perRows === undefined) this.dispatchPlans.set(specs[0][0], (perRows = []));
    const plan = (perRows[n] ??= this.planMatmuls(specs, n));
    for (const [quantizer, x, xq, count] of plan.quantize) this.pool.call(quantizer, x, xq, count);
    this.pool.run(plan.jobs);
  }

  /** The quantizer calls and the jobs of one matmuls() dispatch. */
  private planMatmuls(specs: Array<[w: Weight, x: number, y: number]>, n: number): DispatchPlan {
    const inputs = new Map<string, number>(); // activation format -> the x quantized into it
    const quantize: DispatchPlan['quantize'] = [];
    const jobs = specs.flatMap(([w, x, y]): Job[] => {
      const kind = activationOf(w.kernel, this.activations);
      let xin = x;
      const quantizer = kind.activation?.quantizer;
      if (quantizer) {
        xin = this.XQ.get(kind.name)!;
        const done = inputs.get(kind.name);
        if (done === undefined) {
          quantize.push([quantizer, x, xin, w.cols * n]);
          inputs.set(kind.name, x);
        } else if (done !== x) {
          throw new Error('one dispatch quantizes one input per activation form'); // a bug in this file
        }
      }
      return matmulJobs(w.kernel, kind, w.ptr, xin, y, w.cols, w.rows, n);
    });
    return { quantize, jobs };
  }
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

export const wasmBackend: BackendFactory<WasmOptions | undefined> = {
  name: 'wasm',
  ownsWeights: true,
  // prompt tokens per dispatch: the activation buffers are planned for this many rows
  maxRows: 32,
  create: async (ctx, options) => new WasmBackend(ctx, options ?? {}),
};
