// GGUF metadata for a llama-family model, written the way llama.cpp's converters write it, under
// the keys ./config.ts reads back.
import { GGMLType } from '../ggml-types.js';
import { GGUFValueType, gv, type GGUFValue } from '../gguf/index.js';
import { vocabToMetadata, type TokenizerVocab } from '../tokenizer/index.js';
import { archFacts, archKey, CONFIG_DEFAULTS, longropeAttnFactor, type LlamaShape } from './config.js';

/** llama.cpp's general.file_type (llama_ftype) for a model whose 2-D tensors are mostly of one type. */
export const LLAMA_FILE_TYPE: Partial<Record<GGMLType, number>> = {
  [GGMLType.F32]: 0,
  [GGMLType.F16]: 1,
  [GGMLType.Q4_0]: 2,
  [GGMLType.Q4_1]: 3,
  [GGMLType.Q8_0]: 7,
  [GGMLType.Q5_0]: 8,
  [GGMLType.Q5_1]: 9,
  [GGMLType.Q2_K]: 10,
  [GGMLType.Q3_K]: 11, // Q3_K_S: every tensor Q3_K
  [GGMLType.Q4_K]: 14, // Q4_K_S: every tensor Q4_K
  [GGMLType.Q5_K]: 16, // Q5_K_S: every tensor Q5_K
  [GGMLType.Q6_K]: 18,
  [GGMLType.BF16]: 32,
};

export function llamaMetadata(name: string, shape: LlamaShape, vocab: TokenizerVocab, fileType?: number): Map<string, GGUFValue> {
  const arch = shape.arch ?? 'llama';
  const facts = archFacts(arch);
  const key = (k: Parameters<typeof archKey>[1]) => archKey(arch, k);
  const headDim = shape.headDim ?? shape.dim / shape.nHeads;
  const m = new Map<string, GGUFValue>();
  m.set('general.architecture', gv.str(arch));
  m.set('general.name', gv.str(name));
  if (fileType !== undefined) m.set('general.file_type', gv.u32(fileType));
  m.set(key('contextLength'), gv.u32(shape.contextLength));
  m.set(key('dim'), gv.u32(shape.dim));
  m.set(key('nLayers'), gv.u32(shape.nLayers));
  m.set(key('ffnDim'), gv.u32(shape.ffnDim));
  m.set(key('ropeDim'), gv.u32(shape.ropeDim ?? headDim));
  m.set(key('nHeads'), gv.u32(shape.nHeads));
  m.set(key('nKvHeads'), gv.u32(shape.nKvHeads));
  if (shape.headDim !== undefined) {
    m.set(key('headDim'), gv.u32(headDim));
    m.set(key('valueDim'), gv.u32(headDim));
  }
  m.set(key('normEps'), gv.f32(shape.normEps ?? CONFIG_DEFAULTS.normEps));
  if (shape.ropeBase !== undefined) m.set(key('ropeBase'), gv.f32(shape.ropeBase));
  const s = shape.ropeScaling;
  if (s?.type === 'linear' || s?.type === 'yarn') {
    m.set(key('ropeScaling'), gv.str(s.type));
    m.set(key('ropeScale'), gv.f32(s.factor));
    if (s.type === 'yarn') m.set(key('ropeOrigContext'), gv.u32(s.origContext));
  } else if (s?.type === 'longrope') {
    // as convert_hf_to_gguf's Phi3MiniModel writes it: no type key, the factors as tensors
    m.set(key('ropeOrigContext'), gv.u32(s.origContext));
    m.set(key('ropeAttnFactor'), gv.f32(longropeAttnFactor(s.factor, s.origContext)));
  } // llama3: the factors are the rope_freqs.weight tensor
  if (facts.slidingWindow && shape.slidingWindow !== undefined) m.set(key('slidingWindow'), gv.u32(shape.slidingWindow));
  if (shape.ropeBaseSwa !== undefined) m.set(key('ropeBaseSwa'), gv.f32(shape.ropeBaseSwa));
  if (facts.logitSoftcap && shape.logitSoftcap) m.set(key('logitSoftcap'), gv.f32(shape.logitSoftcap));
  for (const [k, value] of vocabToMetadata(vocab)) m.set(k, toGGUFValue(k, value));
  return m;
}

/** Plain tokenizer metadata values -> typed GGUF values (ids are u32, as llama.cpp writes them). */
function toGGUFValue(key: string, value: string | number | boolean | string[] | Float32Array | Int32Array): GGUFValue {
  if (typeof value === 'string') return gv.str(value);
  if (typeof value === 'boolean') return gv.bool(value);
  if (typeof value === 'number') return gv.u32(value);
  if (value instanceof Float32Array) return gv.arr(GGUFValueType.FLOAT32, value);
  if (value instanceof Int32Array) return gv.arr(GGUFValueType.INT32, value);
  if (Array.isArray(value)) return gv.arr(GGUFValueType.STRING, value);
  throw new TypeError(`metadata ${key}: unsupported value`);
}
