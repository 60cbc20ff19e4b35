// The ONNX backend: llama blocks as ONNX graphs built from the GGUF weights at load (nothing is
// converted on disk), run by ONNX Runtime sessions on the first execution provider of each block's
// list that can run them. Consecutive blocks with the same provider list are one graph and one
// session (`fuse`, the default: the all-ONNX model is one session.run per step); without it, one
// session per block. The KV caches of its attention layers live in OnnxSequenceState.
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import {
  blockName,
  type Backend,
  type BackendContext,
  type BackendFactory,
  type Block,
  type BlockPlacement,
  type FusedRun,
  type PlacedBlock,
  type Refusal,
  type Segment,
} from '../../engine/backend.js';
import { rowBytes, traitsOf, type Dequantizer } from '../../model/ggml-types.js';
import type { GGUFFile } from '../../model/gguf/index.js';
import type { LlamaConfig } from '../../model/llama/config.js';
import { checkTensorShapes, embeddingTensor } from '../../model/llama/tensors.js';
import { runGraph, runNames } from './graphs.js';
import { MAX_MODEL_BYTES } from './proto.js';
import { openSession, type ProviderSpec } from './session.js';
import { attentionWeights, ffnWeights, headWeights, ropeFactorWeights } from './weights.js';

export interface OnnxOptions {
  /** ORT intra-op threads per session (default: ORT's, one per core). */
  threads?: number;
  /** One session for each run of consecutive blocks with the same providers (default), or one per block. */
  fuse?: boolean;
}

/** One sequence's KV caches: per attention layer of this backend, [maxSeq, kvDim] keys and values (position-major). */
export class OnnxSequenceState {
  readonly keys = new Map<number, Float32Array>();
  readonly values = new Map<number, Float32Array>();
  /** Per layer: positions 0..filled-1 hold keys and values. */
  readonly filled = new Map<number, number>();
  released = false;
  constructor(layers: readonly number[], kvDim: number, readonly maxSeq: number) {
    for (const l of layers) {
      this.keys.set(l, new Float32Array(maxSeq * kvDim));
      this.values.set(l, new Float32Array(maxSeq * kvDim));
      this.filled.set(l, 0);
    }
  }
}

/** One session over consecutive blocks. */
interface Unit {
  blocks: Block[];
  session: InferenceSession;
  provider: string;
  /** Its attention layers (each with cache inputs and outputs). */
  layers: number[];
  head: boolean;
  what: string;
}

export class OnnxBackend implements Backend<OnnxSequenceState> {
  readonly name = 'onnx';
  private readonly config: LlamaConfig;
  private readonly kvDim: number;
  private file?: GGUFFile;
  private readonly units: Unit[] = [];
  private readonly unitOf = new Map<number, Unit>(); // block index -> its unit
  /** Rows copied out of a SharedArrayBuffer (ONNX Runtime refuses views on one, "Invalid argument"). */
  private readonly scratch: Float32Array;
  private embedding?: { data: Uint8Array; rowBytes: number; dequantize: Dequantizer };
  private live = 0;
  private closed = false;

  constructor(
    private readonly ctx: BackendContext,
    private readonly opts: OnnxOptions = {},
  ) {
    this.config = ctx.model.config;
    this.kvDim = this.config.nKvHeads * this.config.headDim;
    this.scratch = new Float32Array(ctx.maxRows * this.config.dim);
  }

  /** Builds and opens the sessions of the blocks; a run no provider can open is refused (NoProviderError), as is a block over 2 GiB. */
  async add(blocks: readonly PlacedBlock[]): Promise<Refusal[]> {
    const c = this.config;
    if (!this.file) {
      this.file = this.ctx.model.data();
      checkTensorShapes(this.file, c);
    }
    const refused: Refusal[] = [];
    const built: Array<{ run: PlacedBlock[]; providers: ProviderSpec[]; parts: Array<{ blocks: Block[]; bytes: Uint8Array; what: string } | Error> }> = [];
    for (const run of this.runs(blocks)) built.push({ run, providers: providerList(run[0]), parts: await this.build(run) });
    // ORT's intra-op threads spin after each run, one pool per session: with many sessions (a block
    // each, or runs between wasm blocks) they take the cores from each other and from the wasm kernel
    // threads (2 threads on 2 cores: decode 5 tok/s instead of 90, docs/MEASUREMENTS.md). Only a
    // model that is one session keeps ORT's spinning.
    const spin = built.reduce((n, b) => n + b.parts.filter((p) => !(p instanceof Error)).length, 0) === 1;
    for (const { run, providers, parts } of built) {
      for (const part of parts) {
        if (part instanceof Error) {
          refused.push(...run.filter((b) => b.index === part.cause).map((block) => ({ block, error: part })));
          continue;
        }
        try {
          const { session, provider } = await openSession(part.bytes, providers, this.ctx.log, { threads: this.opts.threads, spin, what: `${part.what} of ${this.ctx.model.path}` });
          const unit: Unit = { blocks: part.blocks, session, provider, layers: part.blocks.filter((b) => b.op === 'attention').map((b) => b.layer!), head: part.blocks.some((b) => b.op === 'head'), what: part.what };
          this.units.push(unit);
          for (const b of part.blocks) this.unitOf.set(b.index, unit);
        } catch (err) {
          refused.push(...part.blocks.map((b) => ({ block: run.find((r) => r.index === b.index)!, error: err as Error })));
        }
      }
    }
    return refused;
  }

  placementOf(block: Block): BlockPlacement {
    return { backend: 'onnx', provider: this.unit(block).provider };
  }

  runOf(block: Block): FusedRun<OnnxSequenceState> | undefined {
    const u = this.unitOf.get(block.index);
    if (!u || u.blocks.length < 2 || u.blocks[0].index !== block.index) return undefined;
    return { blocks: u.blocks, run: async (s, x) => this.runUnit(u, s.state, x, s.row, s.n, s.pos0) };
  }

  /** "fused (cpu)": one session for every block; else "11 sessions (cpu)". */
  describe(): string {
    const providers = [...new Set(this.units.map((u) => u.provider))].join('+');
    return `${this.units.length === 1 && this.units[0].blocks.length > 1 ? 'fused' : `${this.units.length} sessions`} (${providers})`;
  }

  newSequence(maxSeq: number): OnnxSequenceState {
    if (!Number.isInteger(maxSeq) || maxSeq < 1 || maxSeq > this.ctx.contextSize) {
      throw new RangeError(`context ${maxSeq} is outside what this model was loaded for (1..${this.ctx.contextSize})`);
    }
    if (this.live >= this.ctx.maxSequences) throw new Error(`all ${this.ctx.maxSequences} sequence slots are in use`);
    this.live++;
    return new OnnxSequenceState(this.units.flatMap((u) => u.layers), this.kvDim, maxSeq);
  }

  releaseSequence(s: OnnxSequenceState): void {
    if (s.released) return;
    s.released = true;
    s.keys.clear();
    s.values.clear();
    this.live--;
  }

  /** get_row in JS: the embedding rows through the type's dequantizer. */
  embed(tokens: readonly number[], x: Float32Array): void {
    const { dim } = this.config;
    if (!this.embedding) {
      const name = embeddingTensor(this.config).name;
      const t = this.file!.tensorInfo(name);
      const traits = traitsOf(t.type);
      if (!traits.dequantize) throw new Error(`${name} is ${traits.name}, which wisp cannot dequantize`);
      this.embedding = { data: this.file!.tensorBytes(name).slice(), rowBytes: rowBytes(t.type, dim), dequantize: traits.dequantize };
    }
    const { data, rowBytes: rb, dequantize } = this.embedding;
    tokens.forEach((t, i) => dequantize(data.subarray(t * rb, (t + 1) * rb), x.subarray(i * dim, (i + 1) * dim), dim));
    const s = this.config.embedScale;
    if (s !== 1) for (let i = 0; i < tokens.length * dim; i++) x[i] = Math.fround(x[i] * s);
  }

  /** x + attention for each segment's rows, over that sequence's cache of this layer (appending its new keys and values). */
  async attention(layer: number, segments: readonly Segment<OnnxSequenceState>[], x: Float32Array, n: number): Promise<void> {
    const u = this.single({ op: 'attention', layer }, `attention block ${layer}`);
    this.checkRows(x, 0, n, u.what);
    for (const s of segments) await this.runUnit(u, s.state, x, s.row, s.n, s.pos0);
  }

  /** x + FFN(x) for n rows. */
  async ffn(layer: number, x: Float32Array, n: number): Promise<void> {
    const u = this.single({ op: 'ffn', layer }, `FFN block ${layer}`);
    await this.runUnit(u, undefined, x, 0, n, 0);
  }

  async head(x: Float32Array, row: number, n: number): Promise<Float32Array[]> {
    const u = this.single({ op: 'head', layer: null }, 'the head');
    const logits = (await this.runUnit(u, undefined, x, row, n, 0))!;
    const v = this.config.vocabSize;
    return Array.from({ length: n }, (_, i) => logits.subarray(i * v, (i + 1) * v));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const sessions = this.units.map((u) => u.session);
    this.units.length = 0;
    this.unitOf.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** The blocks in walk order, cut into runs: consecutive, the same provider list (one block each without fuse). */
  private runs(blocks: readonly PlacedBlock[]): PlacedBlock[][] {
    const sorted = [...blocks].sort((a, b) => a.index - b.index);
    const runs: PlacedBlock[][] = [];
    for (const b of sorted) {
      const last = runs.at(-1)?.at(-1);
      const joins = (this.opts.fuse ?? true) && last && last.index + 1 === b.index && providerKey(last) === providerKey(b);
      if (joins) runs.at(-1)!.push(b);
      else runs.push([b]);
    }
    return runs;
  }

  /** The graph bytes of a run, or of each of its blocks when the run is over one protobuf's 2 GiB (an Error, with the block index as cause, for a block alone over it). */
  private async build(run: readonly Block[]): Promise<Array<{ blocks: Block[]; bytes: Uint8Array; what: string } | Error>> {
    const c = this.config;
    const file = this.file!;
    const weights = {
      attention: (l: number) => attentionWeights(file, c, l),
      ffn: (l: number) => ffnWeights(file, c, l),
      head: () => headWeights(file, c),
      ropeFactors: () => ropeFactorWeights(file, c, this.ctx.contextSize),
    };
    const what = runName(run, c.nLayers);
    const g = runGraph(c, this.ctx.contextSize, run, weights, what.replace(/\W+/g, '_'));
    if (g.weightBytes <= MAX_MODEL_BYTES) return [{ blocks: [...run], bytes: g.encode(), what }];
    const gib = (g.weightBytes / 2 ** 30).toFixed(2);
    if (run.length === 1) return [new Error(`${what} of ${this.ctx.model.path} holds ${gib} GiB of weights, over the 2 GiB of one ONNX protobuf (wisp writes no external data)`, { cause: run[0].index })];
    this.ctx.log(`onnx: ${what} would hold ${gib} GiB of weights, over the 2 GiB of one ONNX protobuf: one session per block instead`);
    return (await Promise.all(run.map((b) => this.build([b])))).flat();
  }

  private unit(block: Pick<Block, 'op' | 'layer'>): Unit {
    return this.units.find((u) => u.blocks.some((b) => b.op === block.op && b.layer === block.layer))!;
  }

  /** The session of one block alone (the engine calls blocks of a fused run through runOf). */
  private single(block: Pick<Block, 'op' | 'layer'>, what: string): Unit {
    if (this.closed) throw new Error('the ONNX backend is closed');
    const u = this.units.find((x) => x.blocks.length === 1 && x.blocks[0].op === block.op && x.blocks[0].layer === block.layer);
    if (!u) throw new Error(`${what} is not routed to ONNX`);
    return u;
  }

  private checkRows(x: Float32Array, row: number, n: number, what: string): void {
    const dim = this.config.dim;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what}: n must be a positive integer, got ${n}`);
    if (x.length < (row + n) * dim) throw new RangeError(`${what}: x has ${x.length} values; rows ${row}..${row + n - 1} of ${dim} need ${(row + n) * dim}`);
  }

  /**
   * Runs a unit on x rows row..row+n-1 of one sequence at positions pos0..: writes the rows back
   * (x through the blocks), or returns the logits when the unit ends with the head.
   */
  private async runUnit(u: Unit, seq: OnnxSequenceState | undefined, x: Float32Array, row: number, n: number, pos0: number): Promise<Float32Array | undefined> {
    if (this.closed) throw new Error('the ONNX backend is closed');
    this.checkRows(x, row, n, u.what);
    const dim = this.config.dim;
    let rows = x.subarray(row * dim, (row + n) * dim);
    if (rows.buffer instanceof SharedArrayBuffer) {
      const copy = this.scratch.subarray(0, n * dim);
      copy.set(rows);
      rows = copy;
    }
    const feeds: Record<string, Tensor> = { [runNames.x]: new Tensor('float32', rows, [n, dim]) };
    if (u.layers.length > 0) {
      if (!seq) throw new Error(`${u.what}: attention needs a sequence`);
      feeds[runNames.positions] = positionsTensor(n, pos0);
      for (const l of u.layers) Object.assign(feeds, attentionFeeds(seq, l, this.kvDim, n, pos0));
    }
    const out = await u.session.run(feeds);
    for (const l of u.layers) appendKv(seq!, l, this.kvDim, pos0, out[runNames.kNew(l)] as Tensor, out[runNames.vNew(l)] as Tensor);
    if (u.head) return (out[runNames.logits] as Tensor).data as Float32Array;
    x.set((out[runNames.y] as Tensor).data as Float32Array, row * dim);
    return undefined;
  }
}

/** The execution providers to try for a block: its targets' variants while they are ONNX ones. */
function providerList(b: PlacedBlock): ProviderSpec[] {
  const list: ProviderSpec[] = [];
  for (const t of b.targets) {
    if (t.backend !== 'onnx') break;
    const name = t.variant?.name ?? 'cpu';
    list.push(t.variant?.options ? { name, options: t.variant.options } : { name });
  }
  return list;
}

function providerKey(b: PlacedBlock): string {
  return JSON.stringify(providerList(b));
}

/** "attention block 3", "FFN block 3", "the head", "the fused 12-layer graph", "the fused graph of layer 2 attention … the head" */
function runName(run: readonly Block[], nLayers: number): string {
  if (run.length === 1) return run[0].op === 'head' ? 'the head' : `${run[0].op === 'ffn' ? 'FFN' : 'attention'} block ${run[0].layer}`;
  if (run.length === 2 * nLayers + 1) return `the fused ${nLayers}-layer graph`;
  return `the fused graph of ${blockName(run[0])} … ${blockName(run.at(-1)!)}`;
}

/** Feeds for one attention step: the cached rows 0..pos0-1 of layer l (views, no copy). */
export function attentionFeeds(seq: OnnxSequenceState, layer: number, kvDim: number, n: number, pos0: number): Record<string, Tensor> {
  const keys = seq.keys.get(layer);
  const values = seq.values.get(layer);
  if (!keys || !values) throw new Error(seq.released ? 'the sequence was released' : `layer ${layer} has no KV cache in this sequence`);
  const filled = seq.filled.get(layer)!;
  if (!Number.isInteger(pos0) || pos0 < 0 || pos0 > filled) throw new RangeError(`layer ${layer}: position ${pos0} is past the ${filled} cached positions`);
  if (pos0 + n > seq.maxSeq) throw new RangeError(`positions up to ${pos0 + n - 1} do not fit the context of ${seq.maxSeq}`);
  return {
    [runNames.pastK(layer)]: new Tensor('float32', keys.subarray(0, pos0 * kvDim), [pos0, kvDim]),
    [runNames.pastV(layer)]: new Tensor('float32', values.subarray(0, pos0 * kvDim), [pos0, kvDim]),
  };
}

/** Appends a step's new K and V rows to layer l's cache. */
function appendKv(seq: OnnxSequenceState, layer: number, kvDim: number, pos0: number, k: Tensor, v: Tensor): void {
  seq.keys.get(layer)!.set(k.data as Float32Array, pos0 * kvDim);
  seq.values.get(layer)!.set(v.data as Float32Array, pos0 * kvDim);
  seq.filled.set(layer, pos0 + (k.data as Float32Array).length / kvDim);
}

function positionsTensor(n: number, pos0: number): Tensor {
  return new Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pos0 + i)), [1, n]);
}

export const onnxBackend: BackendFactory<OnnxOptions | undefined> = {
  name: 'onnx',
  // prompt tokens per step: bounds the attention scores' memory (heads × chunk × context)
  maxRows: 128,
  create: async (ctx, options) => new OnnxBackend(ctx, options ?? {}),
};
