// llama.cpp's quantization mixes (Q4_K_M, Q5_K_M, Q3_K_M, …): the type each tensor of a model gets,
// by the per-tensor rules of llama.cpp's llama_tensor_get_type (src/llama-quant.cpp), rewritten here
// for the mixes and architectures wisp writes and runs, and its fallback for rows that the chosen type's
// blocks do not tile. test/quantize-mixes.test.ts holds the choices to llama.cpp's own on real model
// shapes (goldens from llama_model_quantize).
//
// The rules, in llama.cpp's terms. Tensors are visited in llama.cpp's order (non-layer tensors first,
// then by layer, by name within a layer); counters i_attention_wv and i_ffn_down number the attn_v
// (or fused attn_qkv) and ffn_down tensors met so far, n_attention_wv and n_layer are their totals.
// use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i − n/8) % 3 == 2 picks the layers that get more bits.
// - output.weight, and token_embd.weight when the model has no output.weight (tied embeddings):
//   q8_0 if its rows are not a multiple of the default type's block, else q6_K (unless already q8_0).
// - attn_v / attn_qkv: Q3_K_M: q5_K for the first two, else q4_K; Q3_K_L: q5_K; Q4_K_M and Q5_K_M:
//   q6_K when use_more_bits; Q4_K_S: q5_K for the first four (a 70B llama: q3_K/q4_K become q5_K).
// - ffn_down: Q3_K_M: q5_K below n_layer/16, else q4_K; Q3_K_L: q5_K; Q4_K_M and Q5_K_M: q6_K when
//   use_more_bits; Q4_K_S: q5_K below n_layer/8.
// - attn_output: Q3_K_M: q4_K; Q3_K_L: q5_K.
// (A fused attn_qkv, phi3's, takes attn_v's rules: llama.cpp's own branch for it comes after attn_v's
// and is never reached.)
// - everything else: the mix's default type.
// Then the fallback (llama.cpp's tensor_type_fallback) for rows not a multiple of the type's block:
// q2_K, q3_K → q4_0; q4_K → q5_0; q5_K → q5_1; q6_K → q8_0; and when even that does not tile the row,
// the float type (see quantizedType in ./index.ts for wisp's one difference there).
import { GGMLType, traitsOf } from '../ggml-types.js';

/** A llama.cpp quantization mix: its name, llama_ftype (general.file_type) and default type. */
export interface QuantMix {
  name: string;
  ftype: number;
  defaultType: GGMLType;
}

/** The mixes `wisp quantize --type` writes, by their lower-case name (llama.cpp's K-quant mixes; its Q2_K and Q6_K ftypes
 * are mixes too, but `--type q2_k` / `q6_k` name single types in wisp). */
export const QUANT_MIXES: Readonly<Record<string, QuantMix>> = {
  q3_k_s: { name: 'Q3_K_S', ftype: 11, defaultType: GGMLType.Q3_K },
  q3_k_m: { name: 'Q3_K_M', ftype: 12, defaultType: GGMLType.Q3_K },
  q3_k_l: { name: 'Q3_K_L', ftype: 13, defaultType: GGMLType.Q3_K },
  q4_k_s: { name: 'Q4_K_S', ftype: 14, defaultType: GGMLType.Q4_K },
  q4_k_m: { name: 'Q4_K_M', ftype: 15, defaultType: GGMLType.Q4_K },
  q5_k_s: { name: 'Q5_K_S', ftype: 16, defaultType: GGMLType.Q5_K },
  q5_k_m: { name: 'Q5_K_M', ftype: 17, defaultType: GGMLType.Q5_K },
};

/** The model facts the rules read (from the GGUF's metadata). */
export interface MixModel {
  arch: string;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
}

/** A tensor as the rules see it: name, dims (ne0 first: the row length) and stored type. */
export interface MixTensor {
  name: string;
  dims: readonly number[];
  type: GGMLType;
}

/** The type chosen for one tensor, and why when a fallback changed the rule's choice. */
export interface MixChoice {
  type: GGMLType;
  reason?: string;
}

type Category = 'token_embd' | 'output' | 'attn_v' | 'attn_qkv' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

/** llama.cpp's tensor_get_category, for the tensor names of the architectures wisp runs. */
function categoryOf(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight') return 'token_embd';
  if (name.includes('attn_qkv.weight')) return 'attn_qkv';
  if (name.includes('attn_v.weight')) return 'attn_v';
  if (name.includes('attn_k.weight')) return 'attn_k';
  if (name.includes('attn_q.weight')) return 'attn_q';
  if (name.includes('attn_output.weight')) return 'attn_output';
  if (name.includes('ffn_up')) return 'ffn_up';
  if (name.includes('ffn_gate')) return 'ffn_gate';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

/** Whether llama.cpp quantizes the tensor at all (tensor_allows_quantization): 2-D weights but norms. */
export function mixQuantizes(t: MixTensor): boolean {
  return t.dims.length >= 2 && t.name.endsWith('weight') && !t.name.includes('_norm.weight') && !t.name.includes('ffn_gate_inp.weight');
}

/** The layer of a tensor named blk.N.…, or -1 (llama.cpp's weight_name_comparer order key). */
function layerOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

/** llama.cpp's visiting order: by layer (non-layer tensors first), then by name (byte order). */
function visitOrder(tensors: readonly MixTensor[]): number[] {
  return tensors
    .map((t, i) => ({ i, layer: layerOf(t.name), name: t.name }))
    .sort((a, b) => a.layer - b.layer || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => e.i);
}

const useMoreBits = (i: number, n: number): boolean => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

/** llama.cpp's tensor_type_fallback: the 32-value type for a 256-value one whose blocks do not tile the rows. */
const FALLBACK: Partial<Record<GGMLType, GGMLType>> = {
  [GGMLType.Q2_K]: GGMLType.Q4_0,
  [GGMLType.Q3_K]: GGMLType.Q4_0,
  [GGMLType.Q4_K]: GGMLType.Q5_0,
  [GGMLType.Q5_K]: GGMLType.Q5_1,
  [GGMLType.Q6_K]: GGMLType.Q8_0,
};

/**
 * The type a matrix of `cols`-value rows, stored as `source`, is written in when the rules choose
 * `type`: `type` itself when its blocks tile the rows, else llama.cpp's fallback, else (rows that no
 * block tiles) `floatType`. The reason says which and why.
 */
export function fallbackType(type: GGMLType, cols: number, floatType: GGMLType): MixChoice {
  const block = traitsOf(type).blockSize;
  if (cols % block === 0) return { type };
  const rows = `rows of ${cols} values are not a multiple of ${traitsOf(type).name}'s ${block}-value blocks`;
  const next = FALLBACK[type];
  if (next !== undefined && cols % traitsOf(next).blockSize === 0) return { type: next, reason: `${rows} (llama.cpp's fallback)` };
  const also = next !== undefined ? ` (nor of ${traitsOf(next).name}'s ${traitsOf(next).blockSize})` : '';
  return { type: floatType, reason: `${rows}${also}; kept ${traitsOf(floatType).name}` };
}

/**
 * The type of every tensor (in the order given) for `mix` on `model`: llama.cpp's per-tensor rules, then
 * the fallback for rows the chosen type's blocks do not tile (`floatFor` gives the float type a tensor
 * keeps when no block tiles its rows). Tensors llama.cpp does not quantize (1-D, norms) keep their type.
 */
export function mixTypes(mix: QuantMix, model: MixModel, tensors: readonly MixTensor[], floatFor: (t: MixTensor) => GGMLType): MixChoice[] {
  const ftype = mix.name;
  const is70B = model.arch === 'llama' && model.nLayers === 80 && model.nHeads !== model.nKvHeads;
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const nAttnV = tensors.filter((t) => categoryOf(t.name) === 'attn_v' || categoryOf(t.name) === 'attn_qkv').length;
  const nLayers = model.nLayers;
  let iAttnV = 0;
  let iFfnDown = 0;

  const rule = (t: MixTensor, category: Category): GGMLType => {
    let type = mix.defaultType;
    if (category === 'output' || (tied && category === 'token_embd')) {
      if (t.dims[0] % traitsOf(type).blockSize !== 0) return GGMLType.Q8_0;
      return type !== GGMLType.Q8_0 ? GGMLType.Q6_K : type;
    }
    if (category === 'token_embd') return type;
    if (category === 'attn_v' || category === 'attn_qkv') {
      if (ftype === 'Q3_K_M') type = iAttnV < 2 ? GGMLType.Q5_K : GGMLType.Q4_K;
      else if (ftype === 'Q3_K_L') type = GGMLType.Q5_K;
      else if ((ftype === 'Q4_K_M' || ftype === 'Q5_K_M') && useMoreBits(iAttnV, nAttnV)) type = GGMLType.Q6_K;
      else if (ftype === 'Q4_K_S' && iAttnV < 4) type = GGMLType.Q5_K;
      if (is70B && (type === GGMLType.Q3_K || type === GGMLType.Q4_K)) type = GGMLType.Q5_K;
      iAttnV++;
      return type;
    }
    if (category === 'ffn_down') {
      const i = iFfnDown++;
      if (ftype === 'Q3_K_M') return i < Math.trunc(nLayers / 16) ? GGMLType.Q5_K : GGMLType.Q4_K;
      if (ftype === 'Q3_K_L') return GGMLType.Q5_K;
      if (ftype === 'Q4_K_M' || ftype === 'Q5_K_M') return useMoreBits(i, nLayers) ? GGMLType.Q6_K : type;
      if (ftype === 'Q4_K_S' && i < Math.trunc(nLayers / 8)) return GGMLType.Q5_K;
      return type;
    }
    if (category === 'attn_output') {
      if (ftype === 'Q3_K_M') return GGMLType.Q4_K;
      if (ftype === 'Q3_K_L') return GGMLType.Q5_K;
      return type;
    }
    return type;
  };

  const out: MixChoice[] = tensors.map((t) => ({ type: t.type }));
  for (const i of visitOrder(tensors)) {
    const t = tensors[i];
    if (!mixQuantizes(t)) continue;
    out[i] = fallbackType(rule(t, categoryOf(t.name)), t.dims[0], floatFor(t));
  }
  return out;
}
