// GGUF metadata for a llama-architecture model, written the way llama.cpp's converters write it,
// under the keys ./config.ts reads back.
import { GGMLType } from '../ggml-types.js';
import { GGUFValueType, gv, type GGUFValue } from '../gguf/index.js';
import { vocabToMetadata, type TokenizerVocab } from '../tokenizer/index.js';
import { archKey, CONFIG_DEFAULTS, type LlamaShape } from './config.js';

/** llama.cpp's general.file_type (llama_ftype) for a model whose 2-D tensors are mostly of one type. */
export const LLAMA_FILE_TYPE: Partial<Record<GGMLType, number>> = {
  [GGMLType.F32]: 0,
  [GGMLType.F16]: 1,
  [GGMLType.Q4_0]: 2,
  [GGMLType.Q8_0]: 7,
  [GGMLType.Q4_K]: 14, // Q4_K_S: every tensor Q4_K
  [GGMLType.Q6_K]: 18,
  [GGMLType.BF16]: 32,
};

export function llamaMetadata(name: string, shape: LlamaShape, vocab: TokenizerVocab, fileType?: number): Map<string, GGUFValue> {
  const arch = 'llama';
  const m = new Map<string, GGUFValue>();
  m.set('general.architecture', gv.str(arch));
  m.set('general.name', gv.str(name));
  if (fileType !== undefined) m.set('general.file_type', gv.u32(fileType));
  m.set(archKey(arch, 'contextLength'), gv.u32(shape.contextLength));
  m.set(archKey(arch, 'dim'), gv.u32(shape.dim));
  m.set(archKey(arch, 'nLayers'), gv.u32(shape.nLayers));
  m.set(archKey(arch, 'ffnDim'), gv.u32(shape.ffnDim));
  m.set(archKey(arch, 'ropeDim'), gv.u32(shape.dim / shape.nHeads));
  m.set(archKey(arch, 'nHeads'), gv.u32(shape.nHeads));
  m.set(archKey(arch, 'nKvHeads'), gv.u32(shape.nKvHeads));
  m.set(archKey(arch, 'normEps'), gv.f32(shape.normEps ?? CONFIG_DEFAULTS.normEps));
  if (shape.ropeBase !== undefined) m.set(archKey(arch, 'ropeBase'), gv.f32(shape.ropeBase));
  for (const [key, value] of vocabToMetadata(vocab)) m.set(key, toGGUFValue(key, value));
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
