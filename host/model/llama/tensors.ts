// The tensors of a llama-family model: each one's GGUF name and shape [ne0, ne1] (ne0 is the row
// length), grouped by role into the weight set of one block, and one mapping helper that turns
// those specs into what an engine holds (f32 arrays for the reference, arena pointers for wasm,
// ONNX initializers). Every loader, checker and writer takes names and shapes from here.
//
// An architecture's extra tensors are optional roles, present when its config field says so: qwen2's
// QKV bias (bq/bk/bv), qwen3's and gemma3's per-head q/k norms (qNorm, kNorm [headDim]), gemma3's
// post-attention and post-FFN norms, and the RoPE frequency factors (llama 3's, phi3's). phi3's
// fused tensors are not roles of their own: wq, wk and wv are row ranges of its attn_qkv
// [dim, qDim + 2·kvDim], wGate and wUp of its ffn_up [dim, 2·ffnDim] (`part`), so every engine runs
// them as the separate matrices they are (a row of a ggml matrix is whole blocks, in every type).
import type { GGUFHeaderView } from '../gguf/index.js';
import type { LlamaConfig } from './config.js';

/** A tensor as the file must hold it, or a range of its rows. */
export interface TensorSpec {
  name: string;
  /** [ne0, ne1]: [row length, rows] for a matrix, [length] for a vector (of the range, for a part). */
  dims: number[];
  /** Rows [row, row + dims[1]) of the tensor `name`, whose whole shape is `whole`. */
  part?: { row: number; whole: number[] };
}

/** Roles whose tensors are vectors (norm gains, biases, RoPE factors); every other role is a matrix. */
export type VectorRole = 'attnNorm' | 'ffnNorm' | 'bq' | 'bk' | 'bv' | 'qNorm' | 'kNorm' | 'attnPostNorm' | 'ffnPostNorm' | 'outputNorm' | 'ropeFactors';

/** One layer's attention half: norm, Q/K/V (qwen2's biases, per-head q/k norms), output projection, post-norm. */
export interface AttentionTensors<M, V = M> {
  attnNorm: V;
  wq: M;
  wk: M;
  wv: M;
  bq?: V;
  bk?: V;
  bv?: V;
  qNorm?: V;
  kNorm?: V;
  wo: M;
  attnPostNorm?: V;
}

/** One layer's feed-forward half: norm, the gate and up of a gated unit (SwiGLU or GeGLU), down, post-norm. */
export interface FfnTensors<M, V = M> {
  ffnNorm: V;
  wGate: M;
  wUp: M;
  wDown: M;
  ffnPostNorm?: V;
}

/** Every tensor of one block. */
export type LayerTensors<M, V = M> = AttentionTensors<M, V> & FfnTensors<M, V>;

/** The final norm and the output matrix (token_embd.weight when the model ties them). */
export interface HeadTensors<M, V = M> {
  outputNorm: V;
  output: M;
}

/** A whole model's tensors by role; ropeFactors are the frequency factors the context size picks (./rope.ts). */
export interface ModelTensors<M, V = M> extends HeadTensors<M, V> {
  tokenEmbd: M;
  layers: LayerTensors<M, V>[];
  ropeFactors?: V;
}

/** Rows [row, row + rows) of a [cols, total] tensor. */
function rowsOf(name: string, cols: number, total: number, row: number, rows: number): TensorSpec {
  return { name, dims: [cols, rows], part: { row, whole: [cols, total] } };
}

export function attentionTensors(c: LlamaConfig, layer: number): AttentionTensors<TensorSpec> {
  const p = `blk.${layer}.`;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const qkv = c.fused
    ? {
        wq: rowsOf(`${p}attn_qkv.weight`, c.dim, qDim + 2 * kvDim, 0, qDim),
        wk: rowsOf(`${p}attn_qkv.weight`, c.dim, qDim + 2 * kvDim, qDim, kvDim),
        wv: rowsOf(`${p}attn_qkv.weight`, c.dim, qDim + 2 * kvDim, qDim + kvDim, kvDim),
      }
    : {
        wq: { name: `${p}attn_q.weight`, dims: [c.dim, qDim] },
        wk: { name: `${p}attn_k.weight`, dims: [c.dim, kvDim] },
        wv: { name: `${p}attn_v.weight`, dims: [c.dim, kvDim] },
      };
  return {
    attnNorm: { name: `${p}attn_norm.weight`, dims: [c.dim] },
    ...qkv,
    ...(c.qkvBias
      ? { bq: { name: `${p}attn_q.bias`, dims: [qDim] }, bk: { name: `${p}attn_k.bias`, dims: [kvDim] }, bv: { name: `${p}attn_v.bias`, dims: [kvDim] } }
      : {}),
    ...(c.qkNorm ? { qNorm: { name: `${p}attn_q_norm.weight`, dims: [c.headDim] }, kNorm: { name: `${p}attn_k_norm.weight`, dims: [c.headDim] } } : {}),
    wo: { name: `${p}attn_output.weight`, dims: [qDim, c.dim] },
    ...(c.postNorms ? { attnPostNorm: { name: `${p}post_attention_norm.weight`, dims: [c.dim] } } : {}),
  };
}

export function ffnTensors(c: LlamaConfig, layer: number): FfnTensors<TensorSpec> {
  const p = `blk.${layer}.`;
  const gateUp = c.fused
    ? { wGate: rowsOf(`${p}ffn_up.weight`, c.dim, 2 * c.ffnDim, 0, c.ffnDim), wUp: rowsOf(`${p}ffn_up.weight`, c.dim, 2 * c.ffnDim, c.ffnDim, c.ffnDim) }
    : { wGate: { name: `${p}ffn_gate.weight`, dims: [c.dim, c.ffnDim] }, wUp: { name: `${p}ffn_up.weight`, dims: [c.dim, c.ffnDim] } };
  return {
    ffnNorm: { name: `${p}ffn_norm.weight`, dims: [c.dim] },
    ...gateUp,
    wDown: { name: `${p}ffn_down.weight`, dims: [c.ffnDim, c.dim] },
    ...(c.postNorms ? { ffnPostNorm: { name: `${p}post_ffw_norm.weight`, dims: [c.dim] } } : {}),
  };
}

export function layerTensors(c: LlamaConfig, layer: number): LayerTensors<TensorSpec> {
  return { ...attentionTensors(c, layer), ...ffnTensors(c, layer) };
}

export function embeddingTensor(c: LlamaConfig): TensorSpec {
  return { name: 'token_embd.weight', dims: [c.dim, c.vocabSize] };
}

export function headTensors(c: LlamaConfig): HeadTensors<TensorSpec> {
  return { outputNorm: { name: 'output_norm.weight', dims: [c.dim] }, output: c.tiedOutput ? embeddingTensor(c) : { name: 'output.weight', dims: [c.dim, c.vocabSize] } };
}

/** Every RoPE factor tensor the config names (phi3: both long and short), each [ropeDim/2]. */
export function ropeFactorTensors(c: LlamaConfig): TensorSpec[] {
  const f = c.ropeScaling.factors;
  if (!f) return [];
  const dims = [c.ropeDim / 2];
  return 'tensor' in f ? [{ name: f.tensor, dims }] : [{ name: f.long, dims }, { name: f.short, dims }];
}

/** The factors llama.cpp rotates by with a context of `contextSize` positions per sequence: phi3's long ones past the original context. */
export function ropeFactorTensor(c: LlamaConfig, contextSize: number): TensorSpec | undefined {
  const f = c.ropeScaling.factors;
  if (!f) return undefined;
  const name = 'tensor' in f ? f.tensor : contextSize > c.ropeScaling.origContext ? f.long : f.short;
  return { name, dims: [c.ropeDim / 2] };
}

export function modelTensors(c: LlamaConfig): ModelTensors<TensorSpec> {
  return { tokenEmbd: embeddingTensor(c), ...headTensors(c), layers: Array.from({ length: c.nLayers }, (_, l) => layerTensors(c, l)) };
}

/** Every distinct tensor of the model as the file holds it, in the order wisp writes them (a tied head adds none; a fused tensor appears once, whole). */
export function tensorList(c: LlamaConfig): TensorSpec[] {
  const m = modelTensors(c);
  const head = c.tiedOutput ? [m.outputNorm] : [m.outputNorm, m.output];
  const seen = new Set<string>();
  const out: TensorSpec[] = [];
  for (const t of [m.tokenEmbd, ...head, ...ropeFactorTensors(c), ...m.layers.flatMap((l) => Object.values(l) as TensorSpec[])]) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    out.push(t.part ? { name: t.name, dims: t.part.whole } : t);
  }
  return out;
}

/** Expected [ne0, ne1] of every tensor, by name. */
export function expectedShapes(c: LlamaConfig): Map<string, number[]> {
  return new Map(tensorList(c).map((t) => [t.name, t.dims]));
}

/**
 * Refuses a file whose tensors are missing or of another shape than the config needs, naming the
 * tensor, and a file with a tensor the architecture's graph does not use (an output bias, MoE experts):
 * llama.cpp refuses those too, rather than run a model without them.
 */
export function checkTensorShapes(file: GGUFHeaderView, c: LlamaConfig): void {
  const want = expectedShapes(c);
  for (const [name, shape] of want) {
    const dims = file.tensorInfo(name).dims;
    if (dims.length !== shape.length || dims.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${dims.join(', ')}], the model config needs [${shape.join(', ')}]`);
    }
  }
  for (const t of file.tensors) {
    if (!want.has(t.name)) throw new Error(`tensor '${t.name}' is not part of a ${c.arch} model as wisp runs it (no graph step reads it); wisp would run the model without it, so it refuses the file`);
  }
}

/** What an engine makes of a matrix and of a vector. */
export interface TensorLoader<M, V> {
  matrix(spec: TensorSpec): M;
  vector(spec: TensorSpec): V;
}

/** The same roles, each spec replaced by what the loader made of it (optional roles stay optional). */
export type Loaded<T, M, V> = { [K in keyof T]: K extends VectorRole ? V : M };

/** Maps a set of specs (a block's, a head's) through the loader: vectors to V, matrices to M. */
export function mapTensors<T extends object, M, V>(specs: T, load: TensorLoader<M, V>): Loaded<T, M, V> {
  const out: Record<string, M | V> = {};
  for (const [role, spec] of Object.entries(specs) as Array<[string, TensorSpec]>) out[role] = spec.dims.length === 1 ? load.vector(spec) : load.matrix(spec);
  return out as Loaded<T, M, V>;
}

/**
 * A whole model through the loader; a tied head's output is the embedding's M, loaded once. The
 * RoPE factors are those a context of `contextSize` positions per sequence rotates by.
 */
export function mapModelTensors<M, V>(c: LlamaConfig, load: TensorLoader<M, V>, contextSize: number): ModelTensors<M, V> {
  const tokenEmbd = load.matrix(embeddingTensor(c));
  const head = headTensors(c);
  const factors = ropeFactorTensor(c, contextSize);
  return {
    tokenEmbd,
    outputNorm: load.vector(head.outputNorm),
    output: c.tiedOutput ? tokenEmbd : load.matrix(head.output),
    layers: Array.from({ length: c.nLayers }, (_, l) => mapTensors(layerTensors(c, l), load)),
    ...(factors ? { ropeFactors: load.vector(factors) } : {}),
  };
}

/** A part's rows of a tensor's values or bytes (per row: `rowSize` elements or bytes); the whole tensor when the spec is not a part. */
export function partOf<T extends { subarray(a: number, b: number): T }>(all: T, spec: TensorSpec, rowSize: number): T {
  if (!spec.part) return all;
  return all.subarray(spec.part.row * rowSize, (spec.part.row + spec.dims[1]) * rowSize);
}
