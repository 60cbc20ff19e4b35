// The tensors of a llama-family model: each one's GGUF name and shape [ne0, ne1] (ne0 is the row
// length), grouped by role into the weight set of one block, and one mapping helper that turns
// those specs into what an engine holds (f32 arrays for the reference, arena pointers for wasm,
// ONNX initializers). Every loader, checker and writer takes names and shapes from here.
//
// Adding an architecture's tensors is an optional role here, present when its config field says so,
// as bq/bk/bv are for qwen2's QKV bias: qwen3's per-head q/k norms (attn_q_norm, attn_k_norm, [headDim]),
// gemma3's post-attention and post-FFN norms, phi3's fused attn_qkv [dim, qDim + 2·kvDim] in place
// of wq/wk/wv. The engines then map the new role like any other.
import type { GGUFHeaderView } from '../gguf/index.js';
import type { LlamaConfig } from './config.js';

/** A tensor as the file must hold it. */
export interface TensorSpec {
  name: string;
  /** [ne0, ne1]: [row length, rows] for a matrix, [length] for a vector. */
  dims: number[];
}

/** Roles whose tensors are vectors (norm gains and biases); every other role is a matrix. */
export type VectorRole = 'attnNorm' | 'ffnNorm' | 'bq' | 'bk' | 'bv' | 'outputNorm';

/** One layer's attention half: norm, Q/K/V (with qwen2's optional biases), output projection. */
export interface AttentionTensors<M, V = M> {
  attnNorm: V;
  wq: M;
  wk: M;
  wv: M;
  bq?: V;
  bk?: V;
  bv?: V;
  wo: M;
}

/** One layer's feed-forward half: norm, SwiGLU gate and up, down. */
export interface FfnTensors<M, V = M> {
  ffnNorm: V;
  wGate: M;
  wUp: M;
  wDown: M;
}

/** Every tensor of one block. */
export type LayerTensors<M, V = M> = AttentionTensors<M, V> & FfnTensors<M, V>;

/** The final norm and the output matrix (token_embd.weight when the model ties them). */
export interface HeadTensors<M, V = M> {
  outputNorm: V;
  output: M;
}

/** A whole model's tensors by role. */
export interface ModelTensors<M, V = M> extends HeadTensors<M, V> {
  tokenEmbd: M;
  layers: LayerTensors<M, V>[];
}

export function attentionTensors(c: LlamaConfig, layer: number): AttentionTensors<TensorSpec> {
  const p = `blk.${layer}.`;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  return {
    attnNorm: { name: `${p}attn_norm.weight`, dims: [c.dim] },
    wq: { name: `${p}attn_q.weight`, dims: [c.dim, qDim] },
    wk: { name: `${p}attn_k.weight`, dims: [c.dim, kvDim] },
    wv: { name: `${p}attn_v.weight`, dims: [c.dim, kvDim] },
    ...(c.qkvBias
      ? { bq: { name: `${p}attn_q.bias`, dims: [qDim] }, bk: { name: `${p}attn_k.bias`, dims: [kvDim] }, bv: { name: `${p}attn_v.bias`, dims: [kvDim] } }
      : {}),
    wo: { name: `${p}attn_output.weight`, dims: [qDim, c.dim] },
  };
}

export function ffnTensors(c: LlamaConfig, layer: number): FfnTensors<TensorSpec> {
  const p = `blk.${layer}.`;
  return {
    ffnNorm: { name: `${p}ffn_norm.weight`, dims: [c.dim] },
    wGate: { name: `${p}ffn_gate.weight`, dims: [c.dim, c.ffnDim] },
    wUp: { name: `${p}ffn_up.weight`, dims: [c.dim, c.ffnDim] },
    wDown: { name: `${p}ffn_down.weight`, dims: [c.ffnDim, c.dim] },
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

export function modelTensors(c: LlamaConfig): ModelTensors<TensorSpec> {
  return { tokenEmbd: embeddingTensor(c), ...headTensors(c), layers: Array.from({ length: c.nLayers }, (_, l) => layerTensors(c, l)) };
}

/** Every distinct tensor of the model, in the order wisp writes them (a tied head adds none). */
export function tensorList(c: LlamaConfig): TensorSpec[] {
  const m = modelTensors(c);
  const head = c.tiedOutput ? [m.outputNorm] : [m.outputNorm, m.output];
  return [m.tokenEmbd, ...head, ...m.layers.flatMap((l) => Object.values(l) as TensorSpec[])];
}

/** Expected [ne0, ne1] of every tensor, by name. */
export function expectedShapes(c: LlamaConfig): Map<string, number[]> {
  return new Map(tensorList(c).map((t) => [t.name, t.dims]));
}

/** Refuses a file whose tensors are missing or of another shape than the config needs, naming the tensor. */
export function checkTensorShapes(file: GGUFHeaderView, c: LlamaConfig): void {
  for (const { name, dims: shape } of tensorList(c)) {
    const dims = file.tensorInfo(name).dims;
    if (dims.length !== shape.length || dims.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${dims.join(', ')}], the model config needs [${shape.join(', ')}]`);
    }
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

/** A whole model through the loader; a tied head's output is the embedding's M, loaded once. */
export function mapModelTensors<M, V>(c: LlamaConfig, load: TensorLoader<M, V>): ModelTensors<M, V> {
  const tokenEmbd = load.matrix(embeddingTensor(c));
  const head = headTensors(c);
  return {
    tokenEmbd,
    outputNorm: load.vector(head.outputNorm),
    output: c.tiedOutput ? tokenEmbd : load.matrix(head.output),
    layers: Array.from({ length: c.nLayers }, (_, l) => mapTensors(layerTensors(c, l), load)),
  };
}
