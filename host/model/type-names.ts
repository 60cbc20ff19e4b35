// User-facing names of the weight types wisp writes (--type q4_k) -> ggml type ids.
import { GGMLType } from './ggml-types.js';

export const WRITABLE_TYPES: Record<string, GGMLType> = {
  f32: GGMLType.F32,
  f16: GGMLType.F16,
  bf16: GGMLType.BF16,
  q8_0: GGMLType.Q8_0,
  q4_0: GGMLType.Q4_0,
  q4_k: GGMLType.Q4_K,
  q6_k: GGMLType.Q6_K,
};

export function parseTypeName(name: string): GGMLType {
  const type = WRITABLE_TYPES[name.toLowerCase()];
  if (type === undefined) throw new Error(`unknown weight type '${name}'; choose one of ${Object.keys(WRITABLE_TYPES).join(', ')}`);
  return type;
}
