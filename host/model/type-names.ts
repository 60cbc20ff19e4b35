// User-facing names of the weight types wisp writes (--type q4_k) -> ggml type ids: the writable
// formats of the block-format table, lower-cased; and llama.cpp's mixes (q4_k_m), for wisp quantize.
import { BLOCK_FORMATS } from './block-formats.js';
import type { GGMLType } from './ggml-types.js';
import { QUANT_MIXES, type QuantMix } from './quantize/mixes.js';

export const WRITABLE_TYPES: Record<string, GGMLType> = Object.fromEntries(
  Object.values(BLOCK_FORMATS)
    .filter((f) => f.writable)
    .map((f) => [f.name.toLowerCase(), f.ggml!]),
);

export function parseTypeName(name: string): GGMLType {
  const type = WRITABLE_TYPES[name.toLowerCase()];
  if (type === undefined) throw new Error(`unknown weight type '${name}'; choose one of ${Object.keys(WRITABLE_TYPES).join(', ')}`);
  return type;
}

/** What `wisp quantize --type` accepts: a single type (q4_k) or one of llama.cpp's mixes (q4_k_m). */
export function parseQuantizeTarget(name: string): GGMLType | QuantMix {
  const mix = QUANT_MIXES[name.toLowerCase()];
  if (mix) return mix;
  if (WRITABLE_TYPES[name.toLowerCase()] === undefined) {
    throw new Error(`unknown weight type or mix '${name}'; choose one of ${Object.keys(WRITABLE_TYPES).join(', ')} or a mix: ${Object.keys(QUANT_MIXES).join(', ')}`);
  }
  return parseTypeName(name);
}
