// OnnxModel: the whole llama forward pass on ONNX Runtime. Embedding rows are looked up in JS
// (the GGUF token_embd through the type's dequantizer); the layers and the head run either as one
// fused session (default: one session.run per step) or as OnnxBlocks' one session per block.
// ORT's session.run is asynchronous, so forward/prefill return promises (AsyncTokenModel).
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { checkTensorShapes } from '../../model/llama/tensors.js';
import { rowBytes, traitsOf, type Dequantizer } from '../../model/ggml-types.js';
import { GGUFFile } from '../../model/gguf/index.js';
import { configFromGGUF, type LlamaConfig } from '../../model/llama/config.js';
import { OnnxBlocks, SequenceSlots, appendKv, attentionFeeds, positionsTensor, type OnnxSequenceState } from './blocks.js';
import type { AsyncTokenModel } from '../../engine/generate.js';
import { attentionBlock, attentionContext, ffnBlock, headBlock } from './graphs.js';
import { DataType, GraphBuilder, MAX_MODEL_BYTES } from './proto.js';
import { openSession, type ProviderSpec } from './session.js';
import { attentionWeights, ffnWeights, headWeights } from './weights.js';

export interface OnnxModelOptions {
  /** Execution providers in order of preference (default: cpu). */
  providers?: ProviderSpec[];
  log?: (msg: string) => void;
  /** Positions per sequence (default: the model's context, at most 4096). */
  contextSize?: number;
  maxSequences?: number;
  threads?: number;
  /** One session for every layer and the head (default; per block when that graph is over 2 GiB), or one session per block (OnnxBlocks). */
  fused?: boolean;
  /** Prompt tokens per step (bounds the attention scores' memory: heads × chunk × context). */
  prefillChunk?: number;
  /** Use this config instead of the GGUF's metadata (tests with hand-made files). */
  config?: LlamaConfig;
}

interface Embedding {
  data: Uint8Array;
  rowBytes: number;
  dequantize: Dequantizer;
}

/** The fused stack: all layers and the head in one graph, with every layer's KV cache as inputs. */
class FusedStack {
  readonly layers: number[];
  private readonly slots: SequenceSlots;
  private constructor(
    readonly session: InferenceSession,
    readonly provider: string,
    private readonly config: LlamaConfig,
    contextSize: number,
    maxSequences: number,
  ) {
    this.layers = Array.from({ length: config.nLayers }, (_, l) => l);
    this.slots = new SequenceSlots(this.layers, config.nKvHeads * config.headDim, contextSize, maxSequences);
  }

  /** Opens the fused graph, or returns undefined when its weights are over one protobuf's limit. */
  static async open(file: GGUFFile, c: LlamaConfig, contextSize: number, maxSequences: number, opts: OnnxModelOptions, what: string): Promise<FusedStack | undefined> {
    const kvDim = c.nKvHeads * c.headDim;
    const g = new GraphBuilder('llama');
    const x0 = g.input('x', DataType.FLOAT, ['n', c.dim]);
    const pastKs = Array.from({ length: c.nLayers }, (_, l) => g.input(`l${l}_past_k`, DataType.FLOAT, ['past', kvDim]));
    const pastVs = Array.from({ length: c.nLayers }, (_, l) => g.input(`l${l}_past_v`, DataType.FLOAT, ['past', kvDim]));
    const ctx = attentionContext(g, c, contextSize, pastKs[0]);
    let x = x0;
    for (let l = 0; l < c.nLayers; l++) {
      const a = attentionBlock(g, c, attentionWeights(file, c, l), ctx, { x, pastK: pastKs[l], pastV: pastVs[l], name: `blk${l}` });
      g.output(a.kNew, `l${l}_k_new`, DataType.FLOAT, ['n', kvDim]);
      g.output(a.vNew, `l${l}_v_new`, DataType.FLOAT, ['n', kvDim]);
      x = ffnBlock(g, c, ffnWeights(file, c, l), a.y, `blk${l}`);
    }
    const last = g.op('Slice', [x, g.ints([-1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([0])]); // the last token's row
    g.output(headBlock(g, c, headWeights(file, c), last), 'logits', DataType.FLOAT, [1, c.vocabSize]);
    if (g.weightBytes > MAX_MODEL_BYTES) {
      opts.log?.(`onnx: ${what} would hold ${(g.weightBytes / 2 ** 30).toFixed(2)} GiB of weights, over the 2 GiB of one ONNX protobuf: one session per block instead`);
      return undefined;
    }
    const { session, provider } = await openSession(g.encode(), opts.providers ?? [{ name: 'cpu' }], opts.log, { threads: opts.threads, what });
    return new FusedStack(session, provider, c, contextSize, maxSequences);
  }

  newState(maxSeq?: number): OnnxSequenceState {
    return this.slots.acquire(maxSeq);
  }

  releaseState(s: OnnxSequenceState): void {
    this.slots.release(s);
  }

  async step(state: OnnxSequenceState, x: Float32Array, n: number, pos0: number): Promise<Float32Array> {
    const c = this.config;
    const kvDim = c.nKvHeads * c.headDim;
    const feeds: Record<string, Tensor> = { x: new Tensor('float32', x, [n, c.dim]), positions: positionsTensor(n, pos0) };
    for (const l of this.layers) Object.assign(feeds, attentionFeeds(state, l, kvDim, n, pos0, `l${l}_`));
    const out = await this.session.run(feeds);
    for (const l of this.layers) appendKv(state, l, kvDim, pos0, out[`l${l}_k_new`] as Tensor, out[`l${l}_v_new`] as Tensor);
    return (out.logits as Tensor).data as Float32Array;
  }

  close(): Promise<void> {
    return this.session.release();
  }
}

export class OnnxModel implements AsyncTokenModel<OnnxSequenceState> {
  /** e.g. "onnx fused (cpu)" or "onnx blocks (attention: cpu, ffn: cpu, head: cpu)" */
  readonly description: string;
  private closed = false;

  private constructor(
    readonly config: LlamaConfig,
    readonly contextSize: number,
    private readonly embedding: Embedding,
    private readonly prefillChunk: number,
    private readonly fused?: FusedStack,
    private readonly blocks?: OnnxBlocks,
  ) {
    if (fused) {
      this.description = `onnx fused (${fused.provider})`;
    } else {
      const p = blocks!.provider;
      const names = (m: Map<number, string>) => [...new Set(m.values())].join('+');
      this.description = `onnx blocks (attention: ${names(p.attention)}, ffn: ${names(p.ffn)}, head: ${p.head})`;
    }
  }

  static async load(path: string, opts: OnnxModelOptions = {}): Promise<OnnxModel> {
    const file = GGUFFile.open(path);
    const c = opts.config ?? configFromGGUF(file);
    checkTensorShapes(file, c);
    const contextSize = Math.min(opts.contextSize ?? Math.min(c.contextLength, 4096), c.contextLength);
    const maxSequences = Math.max(1, opts.maxSequences ?? 1);
    const embd = file.tensorInfo('token_embd.weight');
    const traits = traitsOf(embd.type);
    if (!traits.dequantize) throw new Error(`token_embd.weight is ${traits.name}, which wisp cannot dequantize`);
    const embedding: Embedding = { data: file.tensorBytes('token_embd.weight').slice(), rowBytes: rowBytes(embd.type, c.dim), dequantize: traits.dequantize };
    const prefillChunk = Math.max(1, opts.prefillChunk ?? 128);
    if (opts.fused ?? true) {
      const fused = await FusedStack.open(file, c, contextSize, maxSequences, opts, `the fused ${c.nLayers}-layer graph of ${path}`);
      if (fused) return new OnnxModel(c, contextSize, embedding, prefillChunk, fused);
    }
    const all = Array.from({ length: c.nLayers }, (_, l) => l);
    const blocks = await OnnxBlocks.load(path, c, { attention: all, ffn: all, head: true }, {
      providers: opts.providers ?? [{ name: 'cpu' }],
      log: opts.log,
      contextSize,
      maxSequences,
      threads: opts.threads,
    });
    return new OnnxModel(c, contextSize, embedding, prefillChunk, undefined, blocks);
  }

  newState(maxSeq?: number): OnnxSequenceState {
    return this.fused ? this.fused.newState(maxSeq) : this.blocks!.newSequence(maxSeq);
  }

  releaseState(state: OnnxSequenceState): void {
    if (this.fused) this.fused.releaseState(state);
    else this.blocks!.releaseSequence(state);
  }

  forward(state: OnnxSequenceState, token: number, pos: number): Promise<Float32Array> {
    return this.prefill(state, [token], pos);
  }

  /** Runs tokens at positions pos0.. in chunks; returns the last token's logits. */
  async prefill(state: OnnxSequenceState, tokens: readonly number[], pos0: number): Promise<Float32Array> {
    const c = this.config;
    if (this.closed) throw new Error('the ONNX model is closed');
    if (tokens.length === 0) throw new RangeError('prefill needs at least one token');
    if (pos0 + tokens.length > state.maxSeq) throw new RangeError(`positions up to ${pos0 + tokens.length - 1} do not fit the context of ${state.maxSeq}`);
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new RangeError(`token id ${t} outside the vocabulary (0..${c.vocabSize - 1})`);
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += this.prefillChunk) {
      logits = await this.step(state, tokens.slice(i, i + this.prefillChunk), pos0 + i);
    }
    for (let i = 0; i < logits!.length; i++) {
      if (!Number.isFinite(logits![i])) throw new Error(`the ONNX graph produced a non-finite logit (${logits![i]} for token ${i})`);
    }
    return logits!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (this.fused ? this.fused.close() : this.blocks!.close());
  }

  /** get_row: the embedding rows of the tokens, [n, dim]. */
  private embed(tokens: readonly number[]): Float32Array {
    const { dim } = this.config;
    const { data, rowBytes: rb, dequantize } = this.embedding;
    const x = new Float32Array(tokens.length * dim);
    tokens.forEach((t, i) => dequantize(data.subarray(t * rb, (t + 1) * rb), x.subarray(i * dim, (i + 1) * dim), dim));
    return x;
  }

  private async step(state: OnnxSequenceState, tokens: readonly number[], pos0: number): Promise<Float32Array> {
    const n = tokens.length;
    const x0 = this.embed(tokens);
    if (this.fused) return this.fused.step(state, x0, n, pos0);
    const b = this.blocks!;
    let x = x0;
    for (let l = 0; l < this.config.nLayers; l++) {
      x = await b.attention(l, state, x, n, pos0);
      x = await b.ffn(l, x, n);
    }
    return b.head(x.subarray((n - 1) * this.config.dim));
  }
}
