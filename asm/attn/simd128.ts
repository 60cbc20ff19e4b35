// The SIMD128 set of the `attn` family (docs/KERNEL-ABI.md): RoPE, KV-cache append, and causal
// attention with grouped-query heads and an online softmax over head-major f32 or f16 caches, whole
// or over a sliding window. The
// kernels live in asm/attn/kernels.ts. A flavour (asm/arch/<flavour>/attn.ts) re-exports this set and
// overrides what it makes faster.
export { attention_many_f16, attention_many_f32, attention_window_f16, attention_window_f32, kv_append_f16, kv_append_f32, rope_many } from './kernels';
