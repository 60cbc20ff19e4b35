// User-facing names of the weight types wisp writes (--type q4_k) -> ggml type ids: the writable
// formats of the block-format table, lower-cased.
import { BLOCK_FORMATS } from './block-formats.js';
import type { GGMLType } from './ggml-types.js';

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

/**
 * What `wisp quantize` can write: a single type. llama.cpp's mixes (q4_k_m, …) are issue 16 item 2
 * (the weight-types branch replaces this with its own, which also returns a mix).
 */
export function parseQuantizeTarget(name: string): GGMLType {
  if (/_[sml]$/i.test(name) && WRITABLE_TYPES[name.toLowerCase()] === undefined) {
    throw new Error(`wisp cannot write llama.cpp's mix '${name}' yet; it writes ${Object.keys(WRITABLE_TYPES).join(', ')}`);
  }
  return parseTypeName(name);
}
