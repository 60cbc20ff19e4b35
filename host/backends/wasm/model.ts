// The llama forward pass on the wasm kernels: weights loaded once into the shared arena, every
// matmul split over the kernel pool by output rows, attention split by heads. It keeps the step
// names of host/engine/reference.ts so a profile of one maps onto the other.
import { ACTIVATION_PATH, BLOCK_FORMATS, formatOfType, kernelWeightFormats, type BlockFormat } from '../../model/block-formats.js';
import { GGMLType, traitsOf } from '../../model/ggml-types.js';
import { GGUFFile, GGUFHeaderView } from '../../model/gguf/index.js';
import { configFromGGUF, type LlamaConfig } from '../../model/llama/config.js';
import { checkTensorShapes, mapModelTensors, tensorList, type LayerTensors } from '../../model/llama/tensors.js';
import type { TokenModel } from '../../engine/generate.js';
import type { InspectableModel, OpTime, Placement } from '../../engine/backend.js';
import { ropeTableMany } from '../../kernels/reference/attn.js';
import { Arena, planBytes } from './arena.js';
import { activationOf, matmulJobs } from './jobs.js';
import { makeLayout, type Weight } from './layouts.js';
import { KernelError, KernelPool, type Job } from './pool.js';

export type { Weight } from './layouts.js';

export interface WasmModelOptions {
  threads?: number;
  /** Context per sequence (default: the model's, at most 4096). */
  contextSize?: number;
  /** Sequences that can hold a KV cache at once. */
  maxSequences?: number;
  kvType?: 'f32' | 'f16';
  /** Prompt tokens per prefill dispatch. */
  prefillChunk?: number;
  spinLimit?: number;
  /**
   * Repack q4_0 matrices (rows a multiple of 8, every scale finite) at load into the q4_0r8 layout
   * (eight rows interleaved, the same bytes; asm/matmul/q4_0r8_x16.ts), and q4_K matrices (rows a
   * multiple of 4, every d and dmin finite) into q4_Kr4 (four rows interleaved, the same bytes;
   * asm/matmul/q4_kr4_x16.ts), whose kernels are faster and give the same results bit for bit; and
   * run f16 matrices with no infinite or NaN half on the f16f kernels (the same results, a cheaper
   * conversion). Default true; false keeps ggml's layout and kernels (for A/B comparison).
   */
  repack?: boolean;
}

/** One matmuls() dispatch, planned: the activation quantizer calls, then the jobs. */
interface DispatchPlan {
  quantize: Array<[quantizer: string, x: number, xq: number, count: number]>;
  jobs: Job[];
}

/** One block's weights in the arena: matrices with their kernels, vectors as pointers. */
type LayerPtrs = LayerTensors<Weight, number>;

/** Rows of one step that belong to one sequence, at positions pos0.. */
export interface Segment {
  state: WasmSequence;
  pos0: number;
  n: number;
}

/** One sequence's KV cache slot in the arena. */
export class WasmSequence {
  constructor(
    readonly slot: number,
    readonly keys: number[],
    readonly values: number[],
    readonly maxSeq: number,
  ) {}
}

export class WasmModel implements TokenModel<WasmSequence>, InspectableModel {
  readonly config: LlamaConfig;
  readonly arena: Arena;
  readonly pool: KernelPool;
  readonly file: GGUFFile;
  readonly contextSize: number;
  private readonly kvBytes: number;
  private readonly chunk: number;
  private readonly embd: Weight;
  private readonly output: Weight;
  private readonly outputNorm: number;
  private readonly layers: LayerPtrs[];
  private readonly freeSlots: number[];
  private readonly slots: WasmSequence[];
  private readonly ropeCs: number;
  // activation buffers, each sized for `chunk` tokens
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
  private readonly logits: Float32Array;

  private constructor(path: string, opts: WasmModelOptions) {
    const header = GGUFHeaderView.read(path);
    const c = configFromGGUF(header);
    this.config = c;
    this.contextSize = Math.min(opts.contextSize ?? Math.min(c.contextLength, 4096), c.contextLength);
    this.chunk = Math.max(1, opts.prefillChunk ?? 32);
    const maxSeqs = Math.max(1, opts.maxSequences ?? 1);
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
      if (t.dims.length === 2 && formatOfType(t.type)?.pairs?.[ACTIVATION_PATH] === undefined) {
        throw new Error(`${path}: tensor '${name}' is ${traitsOf(t.type).name}; the wasm kernels run ${kernelWeightFormats().map((f) => f.name).join(', ')} (requantize with wisp quantize)`);
      }
      if (t.dims.length === 1 && t.type !== GGMLType.F32) throw new Error(`${path}: 1-D tensor '${name}' must be f32, it is ${traitsOf(t.type).name}`);
    }

    // plan the whole arena: weights, KV caches, activations, RoPE table
    const maxCols = Math.max(c.dim, c.ffnDim, qDim);
    const quantized = activationFormatsUsed();
    const xqBytes = Math.max(...quantized.map((k) => (roundUp(maxCols, k.blockValues) / k.blockValues) * k.blockBytes)) * this.chunk;
    const actSizes = [c.dim, c.dim, qDim, kvDim, kvDim, qDim, c.ffnDim, c.ffnDim].map((n) => n * 4 * this.chunk);
    const kvSizes = Array.from({ length: 2 * c.nLayers * maxSeqs }, () => this.contextSize * kvDim * kvElt);
    const total = planBytes([
      header.header.dataByteLength,
      ...kvSizes,
      ...actSizes,
      ...quantized.map(() => xqBytes),
      c.vocabSize * 4 * this.chunk,
      this.contextSize * c.ropeDim * 4,
    ]);
    this.arena = new Arena(total, `${path} (${c.nLayers} layers, context ${this.contextSize} × ${maxSeqs} sequences)`);

    // weights straight from the file into the arena: the only copy
    this.file = GGUFFile.open(path, (n) => this.arena.bytes(this.arena.alloc(n), n));
    const base = this.file.data.byteOffset;
    const weights = mapModelTensors<Weight, number>(c, {
      matrix: ({ name }) => {
        const t = this.file.tensorInfo(name);
        return { ptr: base + t.offset, type: t.type, kernel: traitsOf(t.type).name, cols: t.dims[0], rows: t.dims[1] ?? 1 };
      },
      vector: ({ name }) => base + this.file.tensorInfo(name).offset,
    });
    this.embd = weights.tokenEmbd;
    this.output = weights.output;
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
    this.logits = new Float32Array(c.vocabSize);
    this.ropeCs = this.arena.alloc(this.contextSize * c.ropeDim * 4);
    this.arena.f32(this.ropeCs, this.contextSize * c.ropeDim).set(ropeTableMany(0, this.contextSize, c.ropeDim, c.ropeBase));

    this.pool = KernelPool.create(this.arena.memory, { threads: opts.threads ?? 1, spinLimit: opts.spinLimit });

    // load-time layouts (q4_0r8, q4_Kr4, f16f), in place through the logits buffer (unused until the
    // first step). The embedding keeps ggml's layout for get_row, and so does a head tied to it (the same bytes).
    if (opts.repack ?? true) {
      const scratch = this.LOGITS, scratchBytes = c.vocabSize * 4 * this.chunk;
      const mats = [...this.layers.flatMap((w) => [w.wq, w.wk, w.wv, w.wo, w.wGate, w.wUp, w.wDown]), ...(this.output === this.embd ? [] : [this.output])];
      for (const w of mats) makeLayout(this.pool, this.arena, w, scratch, scratchBytes);
    }
  }

  static load(path: string, opts: WasmModelOptions = {}): WasmModel {
    return new WasmModel(path, opts);
  }

  newState(maxSeq = this.contextSize): WasmSequence {
    if (maxSeq > this.contextSize) throw new RangeError(`context ${maxSeq} is larger than this model was loaded for (${this.contextSize})`);
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new KernelError(`all ${this.slots.length} sequence slots are in use`);
    return this.slots[slot];
  }

  releaseState(state: WasmSequence): void {
    if (!this.freeSlots.includes(state.slot)) this.freeSlots.push(state.slot);
  }

  /** Every block on the wasm kernels. */
  /** How many matrices run on each kernel, e.g. { q4_0r8: 84, q8_0: 1 }: what load-time repacking chose. */
  kernelCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    const mats = [...this.layers.flatMap((w) => [w.wq, w.wk, w.wv, w.wo, w.wGate, w.wUp, w.wDown]), this.output];
    for (const w of mats) counts[w.kernel] = (counts[w.kernel] ?? 0) + 1;
    return counts;
  }

  placement(): Placement {
    const b = { backend: 'wasm' as const };
    return { layers: Array.from({ length: this.config.nLayers }, () => ({ attention: { ...b }, ffn: { ...b } })), head: { ...b } };
  }

  /** Not timed: the all-wasm step stays free of clocks (load a RoutedModel to time blocks). */
  opTimes(): OpTime[] {
    return [];
  }

  resetOpTimes(): void {}

  /** Resolves when the kernel workers are up (so the first step's timing is the step's own). */
  ready(): Promise<void> {
    return this.pool.ready;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // ---- the forward pass ------------------------------------------------------------------------

  forward(state: WasmSequence, token: number, pos: number): Float32Array {
    return this.prefill(state, [token], pos);
  }

  /** Runs tokens at positions pos0.. (a prompt chunk, or one decode token); returns the last token's logits. */
  prefill(state: WasmSequence, tokens: readonly number[], pos0: number): Float32Array {
    if (tokens.length === 0) throw new RangeError('prefill needs at least one token');
    if (pos0 + tokens.length > state.maxSeq) throw new RangeError(`positions up to ${pos0 + tokens.length - 1} do not fit the context of ${state.maxSeq}`);
    this.checkTokens(tokens);
    for (let i = 0; i < tokens.length; i += this.chunk) {
      const part = tokens.slice(i, i + this.chunk);
      this.step(part, [{ state, pos0: pos0 + i, n: part.length }]);
    }
    const last = tokens.length <= this.chunk ? tokens.length - 1 : (tokens.length - 1) % this.chunk;
    this.headRows(last, 1);
    return this.logitsRow(0);
  }

  /** KV cache slots planned at load. */
  get maxSequences(): number {
    return this.slots.length;
  }

  /** The most sequences one decodeBatch call takes (activation buffers are planned for this many rows). */
  get maxBatch(): number {
    return this.chunk;
  }

  /**
   * One decode step for several sequences at once: token i goes to states[i] at positions[i]. The
   * matmuls run all rows together (each weight block read once per step, not once per sequence);
   * RoPE, the KV append and attention run per sequence. Returns each sequence's logits (copies).
   */
  decodeBatch(states: readonly WasmSequence[], tokens: readonly number[], positions: readonly number[]): Float32Array[] {
    const n = tokens.length;
    if (n === 0) return [];
    if (states.length !== n || positions.length !== n) throw new RangeError('decodeBatch needs one state and one position per token');
    if (n > this.chunk) throw new RangeError(`a batch holds at most ${this.chunk} sequences, got ${n}`);
    if (new Set(states).size !== n) throw new RangeError('a sequence appears twice in one batch');
    this.checkTokens(tokens);
    states.forEach((s, i) => {
      if (positions[i] >= s.maxSeq) throw new RangeError(`position ${positions[i]} does not fit the context of ${s.maxSeq}`);
    });
    this.step(tokens, states.map((state, i) => ({ state, pos0: positions[i], n: 1 })));
    this.headRows(0, n);
    return states.map((_, i) => Float32Array.from(this.logitsRow(i)));
  }

  checkTokens(tokens: readonly number[]): void {
    const v = this.config.vocabSize;
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= v) throw new RangeError(`token id ${t} outside the vocabulary (0..${v - 1})`);
  }

  /** Embeds the rows, then runs every layer; `segments` say which rows belong to which sequence and position. */
  private step(tokens: readonly number[], segments: readonly Segment[]): void {
    const n = tokens.length;
    this.embed(tokens);
    for (let l = 0; l < this.config.nLayers; l++) {
      this.attentionBlock(l, segments, n);
      this.ffnBlock(l, n);
    }
  }

  // ---- blocks: one step is embed, per layer attentionBlock + ffnBlock, then headRows ------------
  // The routed engine (host/engine/routed.ts) calls these one at a time and runs the blocks routed
  // elsewhere on the activation rows it reads and writes through xRows(). Callers check tokens,
  // positions and n <= maxBatch (the activation buffers hold that many rows).

  /** get_row: the embedding rows of the tokens into X rows 0..n-1. */
  embed(tokens: readonly number[]): void {
    const dim = this.config.dim;
    for (let t = 0; t < tokens.length; t++) this.pool.call(`get_row_${this.embd.kernel}`, this.embd.ptr, this.X + t * dim * 4, dim, tokens[t]);
  }

  /** The activation rows X[0..n-1] (n×dim) as a view on the arena (shared memory: ONNX Runtime needs a copy). */
  xRows(n: number): Float32Array {
    return this.arena.f32(this.X, n * this.config.dim);
  }

  /** Layer l's attention half on X rows 0..n-1: norm, q/k/v, RoPE, KV append, attention, wo, residual. */
  attentionBlock(l: number, segments: readonly Segment[], n: number): void {
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
    const append = this.kvBytes === 2 ? 'kv_append_f16' : 'kv_append_f32';
    const attention = this.kvBytes === 2 ? 'attention_many_f16' : 'attention_many_f32';
    const scale = 1 / Math.sqrt(c.headDim);
    // the caches are head-major, [kvHead][cap][headDim]: cap is the positions per head every slot was
    // allocated with (contextSize · kvDim elements a layer), not state.maxSeq, which may be smaller
    const cap = this.contextSize;
    const jobs: Job[] = [];
    let row = 0;
    for (const { state, pos0, n: rows } of segments) {
      const q = this.Q + row * qDim * 4;
      const k = this.K + row * kvDim * 4;
      const v = this.V + row * kvDim * 4;
      const cs = this.ropeCs + pos0 * c.ropeDim * 4;
      p.call('rope_many', q, cs, rows, c.nHeads, c.headDim, c.ropeDim, neox);
      p.call('rope_many', k, cs, rows, c.nKvHeads, c.headDim, c.ropeDim, neox);
      for (let t = 0; t < rows; t++) {
        p.call(append, k + t * kvDim * 4, state.keys[l], pos0 + t, c.nKvHeads, c.headDim, cap);
        p.call(append, v + t * kvDim * 4, state.values[l], pos0 + t, c.nKvHeads, c.headDim, cap);
      }
      jobs.push({
        kernel: attention,
        args: [q, state.keys[l], state.values[l], this.ATT + row * qDim * 4, rows, pos0, c.nHeads, c.nKvHeads, c.headDim, cap, scale, 0, 0],
        split: { total: rows * c.nHeads, startArg: 11, endArg: 12 },
      });
      row += rows;
    }
    p.run(jobs);
    this.matmuls([[w.wo, this.ATT, this.XB]], n);
    p.call('add', this.X, this.XB, this.X, c.dim * n);
  }

  /** Layer l's feed-forward half on X rows 0..n-1: norm, gate/up, SiLU·mul, down, residual. */
  ffnBlock(l: number, n: number): void {
    const c = this.config;
    const w = this.layers[l];
    const p = this.pool;
    p.call('rmsnorm_many', this.X, w.ffnNorm, this.XB, c.dim, n, c.normEps);
    this.matmuls([[w.wGate, this.XB, this.HB], [w.wUp, this.XB, this.HB2]], n);
    p.call('silu_mul', this.HB, this.HB2, this.HB, c.ffnDim * n);
    this.matmuls([[w.wDown, this.HB, this.XB]], n);
    p.call('add', this.X, this.XB, this.X, c.dim * n);
  }

  /** Final norm and the output head for `n` token rows of X starting at row `t`, into logits rows 0..n-1 (read with logitsRow). */
  headRows(t: number, n: number): void {
    const c = this.config;
    const x = this.X + t * c.dim * 4;
    this.pool.call('rmsnorm_many', x, this.outputNorm, this.XB, c.dim, n, c.normEps);
    this.matmuls([[this.output, this.XB, this.LOGITS]], n);
  }

  /** Row i of the last head's logits, checked finite, copied into this.logits (reused by the next call). */
  logitsRow(i: number): Float32Array {
    const v = this.config.vocabSize;
    const row = this.arena.f32(this.LOGITS + i * v * 4, v);
    for (let j = 0; j < v; j++) {
      if (!Number.isFinite(row[j])) throw new KernelError(`the kernels produced a non-finite logit (${row[j]} for token ${j})`);
    }
    this.logits.set(row);
    return this.logits;
  }

  /**
   * y = W·x over n token rows for each (W, x, y), in one dispatch: quantizes x once per activation
   * kind the weights need, then splits each W's rows over the threads.
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
      const kind = activationOf(w.kernel);
      let xin = x;
      const quantizer = kind.activation?.quantizer;
      if (quantizer) {
        xin = this.XQ.get(kind.name)!;
        const done = inputs.get(kind.name);
        if (done === undefined) {
          quantize.push([quantizer, x, xin, w.cols * n]);
          inputs.set(kind.name, x);
        } else if (done !== x) {
          throw new Error('one dispatch quantizes one input per activation kind'); // a bug in this file
        }
      }
      return matmulJobs(w.kernel, kind, w.ptr, xin, y, w.cols, w.rows, n);
    });
    return { quantize, jobs };
  }

}

/** The quantized activation formats the engine's weight kernels take (each gets a buffer). */
function activationFormatsUsed(): Readonly<BlockFormat>[] {
  const names = new Set(Object.values(BLOCK_FORMATS).map((f) => f.pairs?.[ACTIVATION_PATH]));
  return Object.values(BLOCK_FORMATS).filter((f) => names.has(f.name) && f.activation?.quantizer !== undefined);
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}
