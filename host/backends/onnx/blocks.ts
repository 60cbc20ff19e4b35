// OnnxBlocks: the routed blocks of one model (attention and FFN blocks of chosen layers, the
// head), each an ONNX Runtime session built at load time from the GGUF weights, on the first
// provider of the list that runs it. The engine calls one block at a time with activations in
// Float32Arrays; the KV caches of the routed attention layers live in OnnxSequenceState.
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { checkTensorShapes } from '../../model/llama/tensors.js';
import { GGUFFile } from '../../model/gguf/index.js';
import type { LlamaConfig } from '../../model/llama/config.js';
import { attentionBlock, attentionContext, ffnBlock, headBlock } from './graphs.js';
import { DataType, GraphBuilder } from './proto.js';
import { openSession, type ProviderSpec } from './session.js';
import { attentionWeights, ffnWeights, headWeights } from './weights.js';

export interface OnnxBlocksOptions {
  providers: ProviderSpec[];
  log?: (msg: string) => void;
  /** Positions one sequence can hold (sizes the RoPE tables and each KV cache). */
  contextSize: number;
  /** Sequences that can hold KV caches at once (default 1). */
  maxSequences?: number;
  /** ORT intra-op threads per session (default: ORT's, one per core). */
  threads?: number;
}

export interface OnnxLayers {
  attention: number[];
  ffn: number[];
  head: boolean;
}

/** One sequence's KV caches: per routed attention layer, [maxSeq, kvDim] keys and values (position-major). */
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

/** Sequence bookkeeping shared by OnnxBlocks and OnnxModel: a bounded number of live states. */
export class SequenceSlots {
  private live = 0;
  constructor(
    private readonly layers: readonly number[],
    private readonly kvDim: number,
    readonly contextSize: number,
    readonly maxSequences: number,
  ) {}

  acquire(maxSeq = this.contextSize): OnnxSequenceState {
    if (!Number.isInteger(maxSeq) || maxSeq < 1 || maxSeq > this.contextSize) {
      throw new RangeError(`context ${maxSeq} is outside what this model was loaded for (1..${this.contextSize})`);
    }
    if (this.live >= this.maxSequences) throw new Error(`all ${this.maxSequences} sequence slots are in use`);
    this.live++;
    return new OnnxSequenceState(this.layers, this.kvDim, maxSeq);
  }

  release(s: OnnxSequenceState): void {
    if (s.released) return;
    s.released = true;
    s.keys.clear();
    s.values.clear();
    this.live--;
  }
}

/** Feeds for one attention step: positions and the cached rows 0..pos0-1 of layer l (views, no copy). */
export function attentionFeeds(seq: OnnxSequenceState, layer: number, kvDim: number, n: number, pos0: number, prefix = ''): Record<string, Tensor> {
  const keys = seq.keys.get(layer);
  const values = seq.values.get(layer);
  if (!keys || !values) throw new Error(seq.released ? 'the sequence was released' : `layer ${layer} has no KV cache in this sequence`);
  const filled = seq.filled.get(layer)!;
  if (!Number.isInteger(pos0) || pos0 < 0 || pos0 > filled) throw new RangeError(`layer ${layer}: position ${pos0} is past the ${filled} cached positions`);
  if (pos0 + n > seq.maxSeq) throw new RangeError(`positions up to ${pos0 + n - 1} do not fit the context of ${seq.maxSeq}`);
  return {
    [`${prefix}past_k`]: new Tensor('float32', keys.subarray(0, pos0 * kvDim), [pos0, kvDim]),
    [`${prefix}past_v`]: new Tensor('float32', values.subarray(0, pos0 * kvDim), [pos0, kvDim]),
  };
}

/** Appends a step's new K and V rows to layer l's cache. */
export function appendKv(seq: OnnxSequenceState, layer: number, kvDim: number, pos0: number, k: Tensor, v: Tensor): void {
  seq.keys.get(layer)!.set(k.data as Float32Array, pos0 * kvDim);
  seq.values.get(layer)!.set(v.data as Float32Array, pos0 * kvDim);
  seq.filled.set(layer, pos0 + (k.data as Float32Array).length / kvDim);
}

export function positionsTensor(n: number, pos0: number): Tensor {
  return new Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pos0 + i)), [1, n]);
}

export class OnnxBlocks {
  readonly provider: { attention: Map<number, string>; ffn: Map<number, string>; head?: string } = { attention: new Map(), ffn: new Map() };
  private readonly attentionSessions = new Map<number, InferenceSession>();
  private readonly ffnSessions = new Map<number, InferenceSession>();
  private headSession?: InferenceSession;
  private readonly slots: SequenceSlots;
  private readonly kvDim: number;
  private closed = false;

  private constructor(
    readonly config: LlamaConfig,
    readonly layers: OnnxLayers,
    readonly contextSize: number,
    maxSequences: number,
  ) {
    this.kvDim = config.nKvHeads * config.headDim;
    this.slots = new SequenceSlots(layers.attention, this.kvDim, contextSize, maxSequences);
  }

  /** Builds and opens a session for every routed block. On any failure the opened ones are released. */
  static async load(ggufPath: string, config: LlamaConfig, layers: OnnxLayers, opts: OnnxBlocksOptions): Promise<OnnxBlocks> {
    const c = config;
    const contextSize = opts.contextSize;
    if (!Number.isInteger(contextSize) || contextSize < 1) throw new RangeError(`contextSize must be a positive integer, got ${contextSize}`);
    if (contextSize > c.contextLength) throw new RangeError(`contextSize ${contextSize} is larger than the model's context (${c.contextLength})`);
    for (const l of [...layers.attention, ...layers.ffn]) {
      if (!Number.isInteger(l) || l < 0 || l >= c.nLayers) throw new RangeError(`layer ${l} is not a layer of this model (0..${c.nLayers - 1})`);
    }
    const blocks = new OnnxBlocks(c, { attention: [...new Set(layers.attention)], ffn: [...new Set(layers.ffn)], head: layers.head }, contextSize, Math.max(1, opts.maxSequences ?? 1));
    const file = GGUFFile.open(ggufPath);
    checkTensorShapes(file, c);
    const log = opts.log ?? (() => {});
    const open = (g: GraphBuilder, what: string) => openSession(g.encode(), opts.providers, log, { threads: opts.threads, what: `${what} of ${ggufPath}` });
    try {
      for (const l of blocks.layers.attention) {
        const { session, provider } = await open(attentionGraph(c, contextSize, attentionWeights(file, c, l), l), `attention block ${l}`);
        blocks.attentionSessions.set(l, session);
        blocks.provider.attention.set(l, provider);
      }
      for (const l of blocks.layers.ffn) {
        const { session, provider } = await open(ffnGraph(c, ffnWeights(file, c, l), l), `FFN block ${l}`);
        blocks.ffnSessions.set(l, session);
        blocks.provider.ffn.set(l, provider);
      }
      if (layers.head) {
        const { session, provider } = await open(headGraph(c, headWeights(file, c)), 'the head');
        blocks.headSession = session;
        blocks.provider.head = provider;
      }
    } catch (err) {
      await blocks.close();
      throw err;
    }
    return blocks;
  }

  newSequence(maxSeq?: number): OnnxSequenceState {
    return this.slots.acquire(maxSeq);
  }

  releaseSequence(s: OnnxSequenceState): void {
    this.slots.release(s);
  }

  /** x + attention for n tokens at positions pos0..pos0+n-1; appends their K, V to the sequence's cache. */
  async attention(layer: number, seq: OnnxSequenceState, x: Float32Array, n: number, pos0: number): Promise<Float32Array> {
    const session = this.attentionSessions.get(layer);
    if (!session) throw new Error(`attention block ${layer} is not routed to ONNX`);
    const feeds = attentionFeeds(seq, layer, this.kvDim, n, pos0);
    feeds.x = this.activations(x, n, `attention block ${layer}`);
    feeds.positions = positionsTensor(n, pos0);
    const out = await this.run(session, feeds);
    appendKv(seq, layer, this.kvDim, pos0, out.k_new, out.v_new);
    return out.y.data as Float32Array;
  }

  /** x + FFN(x) for n tokens. */
  async ffn(layer: number, x: Float32Array, n: number): Promise<Float32Array> {
    const session = this.ffnSessions.get(layer);
    if (!session) throw new Error(`FFN block ${layer} is not routed to ONNX`);
    const out = await this.run(session, { x: this.activations(x, n, `FFN block ${layer}`) });
    return out.y.data as Float32Array;
  }

  /** Vocabulary logits for n tokens' activations (n×dim; default one row): n×vocab. */
  async head(x: Float32Array, n = 1): Promise<Float32Array> {
    if (!this.headSession) throw new Error('the head is not routed to ONNX');
    const out = await this.run(this.headSession, { x: this.activations(x, n, 'the head') });
    return out.logits.data as Float32Array;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const sessions = [...this.attentionSessions.values(), ...this.ffnSessions.values(), ...(this.headSession ? [this.headSession] : [])];
    this.attentionSessions.clear();
    this.ffnSessions.clear();
    this.headSession = undefined;
    await Promise.all(sessions.map((s) => s.release()));
  }

  private activations(x: Float32Array, n: number, what: string): Tensor {
    const dim = this.config.dim;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what}: n must be a positive integer, got ${n}`);
    if (x.length !== n * dim) throw new RangeError(`${what}: x has ${x.length} values; ${n} tokens × ${dim} need ${n * dim}`);
    return new Tensor('float32', x, [n, dim]);
  }

  private run(session: InferenceSession, feeds: Record<string, Tensor>): Promise<InferenceSession.ReturnType> {
    if (this.closed) return Promise.reject(new Error('the ONNX blocks are closed'));
    return session.run(feeds) as Promise<InferenceSession.ReturnType>;
  }
}

// ---- one graph per block --------------------------------------------------------------------------

export function attentionGraph(c: LlamaConfig, contextSize: number, w: ReturnType<typeof attentionWeights>, layer: number): GraphBuilder {
  const kvDim = c.nKvHeads * c.headDim;
  const g = new GraphBuilder(`attention_${layer}`);
  const x = g.input('x', DataType.FLOAT, ['n', c.dim]);
  const pastK = g.input('past_k', DataType.FLOAT, ['past', kvDim]);
  const pastV = g.input('past_v', DataType.FLOAT, ['past', kvDim]);
  const ctx = attentionContext(g, c, contextSize, pastK);
  const { y, kNew, vNew } = attentionBlock(g, c, w, ctx, { x, pastK, pastV, name: `blk${layer}` });
  g.output(y, 'y', DataType.FLOAT, ['n', c.dim]);
  g.output(kNew, 'k_new', DataType.FLOAT, ['n', kvDim]);
  g.output(vNew, 'v_new', DataType.FLOAT, ['n', kvDim]);
  return g;
}

export function ffnGraph(c: LlamaConfig, w: ReturnType<typeof ffnWeights>, layer: number): GraphBuilder {
  const g = new GraphBuilder(`ffn_${layer}`);
  const x = g.input('x', DataType.FLOAT, ['n', c.dim]);
  g.output(ffnBlock(g, c, w, x, `blk${layer}`), 'y', DataType.FLOAT, ['n', c.dim]);
  return g;
}

export function headGraph(c: LlamaConfig, w: ReturnType<typeof headWeights>): GraphBuilder {
  const g = new GraphBuilder('head');
  const x = g.input('x', DataType.FLOAT, ['n', c.dim]);
  g.output(headBlock(g, c, w, x), 'logits', DataType.FLOAT, ['n', c.vocabSize]);
  return g;
}
