// GGUF metadata for a llama-architecture model, written the way llama.cpp's converters write it.
import { GGUFValueType, gv, type GGUFValue } from './gguf/index.js';
import { vocabToMetadata, type TokenizerVocab } from './tokenizer/index.js';

export interface LlamaShape {
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  ffnDim: number;
  contextLength: number;
  normEps?: number;
  ropeBase?: number;
}

export function llamaMetadata(name: string, shape: LlamaShape, vocab: TokenizerVocab, fileType?: number): Map<string, GGUFValue> {
  const m = new Map<string, GGUFValue>();
  m.set('general.architecture', gv.str('llama'));
  m.set('general.name', gv.str(name));
  if (fileType !== undefined) m.set('general.file_type', gv.u32(fileType));
  m.set('llama.context_length', gv.u32(shape.contextLength));
  m.set('llama.embedding_length', gv.u32(shape.dim));
  m.set('llama.block_count', gv.u32(shape.nLayers));
  m.set('llama.feed_forward_length', gv.u32(shape.ffnDim));
  m.set('llama.rope.dimension_count', gv.u32(shape.dim / shape.nHeads));
  m.set('llama.attention.head_count', gv.u32(shape.nHeads));
  m.set('llama.attention.head_count_kv', gv.u32(shape.nKvHeads));
  m.set('llama.attention.layer_norm_rms_epsilon', gv.f32(shape.normEps ?? 1e-5));
  if (shape.ropeBase !== undefined) m.set('llama.rope.freq_base', gv.f32(shape.ropeBase));
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
